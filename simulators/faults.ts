import type { ServerResponse } from 'node:http';
import { HttpSimulator } from './http-simulator.js';
import { sendResponse, type ErrorRenderer, type FaultControl, type FaultKind, type FaultPlan, type SimRequest } from './http-types.js';

export type { FaultKind, FaultControl } from './http-types.js';

/**
 * Fault injection, the test kit's part of the simulators: the package and the demo leave it out,
 * tests turn it on with {@link enableFaultInjection} (the vitest setup does, for every test).
 */

export const ALL_FAULTS: readonly FaultKind[] = [
  'throttle',
  'server',
  'timeout',
  'reset',
  'truncated',
  'malformed',
  'html',
  'oversize',
  'proto',
];

/** Decides, per request, whether to fail it and how, and answers the failure as production providers fail. */
export class FaultInjector implements FaultControl, FaultPlan {
  #queue: FaultKind[] = [];
  #rate = 0;
  #kinds: readonly FaultKind[] = ALL_FAULTS;
  #random: () => number;
  injected = 0;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** The next `count` requests fail with `kind`. */
  enqueue(kind: FaultKind, count = 1): void {
    for (let i = 0; i < count; i += 1) this.#queue.push(kind);
  }

  /** Each request fails with probability `rate`, with a kind drawn from `kinds`. */
  setRandom(rate: number, kinds: readonly FaultKind[] = ALL_FAULTS): void {
    this.#rate = rate;
    this.#kinds = kinds;
  }

  clear(): void {
    this.#queue = [];
    this.#rate = 0;
  }

  /** The fault for this request, if any. */
  next(): FaultKind | undefined {
    const queued = this.#queue.shift();
    if (queued) {
      this.injected += 1;
      return queued;
    }
    if (this.#rate > 0 && this.#random() < this.#rate) {
      this.injected += 1;
      return this.#kinds[Math.floor(this.#random() * this.#kinds.length)];
    }
    return undefined;
  }

  /** Fails `request` with `kind`. */
  answer(kind: FaultKind, request: SimRequest, res: ServerResponse, renderError: ErrorRenderer): void {
    switch (kind) {
      case 'throttle':
      case 'server':
        sendResponse(res, renderError(kind, request));
        return;
      case 'timeout':
        // Never answer; the client's timeout must fire. The socket is closed on stop().
        return;
      case 'reset':
        res.socket?.destroy();
        return;
      case 'truncated': {
        const text = JSON.stringify({ RequestId: 'truncated', records: [{ a: 1 }, { b: 2 }] });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(text.slice(0, Math.floor(text.length / 2)));
        return;
      }
      case 'malformed':
        sendResponse(res, { status: 200, headers: { 'content-type': 'application/json' }, body: 'this is not json {' });
        return;
      case 'html':
        sendResponse(res, {
          status: 200,
          headers: { 'content-type': 'text/html' },
          body: '<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>',
        });
        return;
      case 'oversize': {
        res.writeHead(200, { 'content-type': 'application/json' });
        const filler = 'x'.repeat(1024 * 1024);
        res.write('{"RequestId":"big","pad":"');
        for (let i = 0; i < 40; i += 1) res.write(filler);
        res.end('"}');
        return;
      }
      case 'proto':
        sendResponse(res, {
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: '{"RequestId":"p","__proto__":{"polluted":true},"records":[],"Items":[],"ExecutionLogs":[]}',
        });
        return;
    }
  }
}

/** Gives every simulator this process creates from now on its own fault injector. */
export function enableFaultInjection(): void {
  HttpSimulator.enableFaults(() => new FaultInjector());
}
