import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { FaultInjector, type FaultKind } from './faults.js';

/** A request as a simulator handler sees it. */
export interface SimRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: string;
  /** The raw path and query as sent, for signature checks. */
  rawUrl: string;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings verbatim. */
  body: unknown;
}

export type SimHandler = (request: SimRequest) => SimResponse | Promise<SimResponse>;

/** How a cloud renders its own error bodies for injected throttling and server faults. */
export type ErrorRenderer = (kind: 'throttle' | 'server', request: SimRequest) => SimResponse;

export interface HttpSimulatorOptions {
  handler: SimHandler;
  renderError: ErrorRenderer;
  /** Latency added to every answer, in ms. @defaultValue 0 */
  latencyMs?: number;
}

/**
 * The HTTP shell shared by the five provider simulators: routing to one handler, fault injection,
 * and a log of call times so tests can measure request rates.
 */
export class HttpSimulator {
  readonly faults = new FaultInjector();
  /** Arrival time (ms) of every request, faults included. */
  readonly callTimes: number[] = [];
  readonly #options: HttpSimulatorOptions;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #url: string | undefined;

  constructor(options: HttpSimulatorOptions) {
    this.#options = options;
  }

  get url(): string {
    if (!this.#url) throw new Error('simulator not started');
    return this.#url;
  }

  get calls(): number {
    return this.callTimes.length;
  }

  /** Listens on 127.0.0.1 (a free port unless given) and resolves with the base URL. */
  async start(port = 0): Promise<string> {
    const server = createServer((req, res) => {
      void this.#serve(req, res);
    });
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
    this.#url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.#url;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.callTimes.push(Date.now());
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://simulator');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    const request: SimRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers,
      body: Buffer.concat(chunks).toString('utf8'),
      rawUrl: req.url ?? '/',
    };
    if (this.#options.latencyMs) await new Promise((r) => setTimeout(r, this.#options.latencyMs));
    const fault = this.faults.next();
    if (fault) {
      this.#fail(fault, request, res);
      return;
    }
    let response: SimResponse;
    try {
      response = await this.#options.handler(request);
    } catch (error) {
      response = { status: 500, body: { message: `simulator bug: ${(error as Error).message}` } };
    }
    send(res, response);
  }

  #fail(kind: FaultKind, request: SimRequest, res: ServerResponse): void {
    switch (kind) {
      case 'throttle':
      case 'server':
        send(res, this.#options.renderError(kind, request));
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
        send(res, { status: 200, headers: { 'content-type': 'application/json' }, body: 'this is not json {' });
        return;
      case 'html':
        send(res, {
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
        send(res, {
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: '{"RequestId":"p","__proto__":{"polluted":true},"records":[],"Items":[],"ExecutionLogs":[]}',
        });
        return;
    }
  }
}

function send(res: ServerResponse, response: SimResponse): void {
  const text = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
  res.writeHead(response.status, { 'content-type': 'application/json;charset=UTF-8', ...response.headers });
  res.end(text);
}
