import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  sendResponse,
  type FaultControl,
  type FaultPlan,
  type SimHandler,
  type ErrorRenderer,
  type SimRequest,
  type SimResponse,
} from './http-types.js';

export type { SimRequest, SimResponse, SimHandler, ErrorRenderer } from './http-types.js';

export interface HttpSimulatorOptions {
  handler: SimHandler;
  renderError: ErrorRenderer;
  /** Latency added to every answer, in ms. @defaultValue 0 */
  latencyMs?: number;
}

/**
 * The HTTP shell shared by the five provider simulators: routing to one handler, fault injection
 * (when the test kit enabled it), and a log of call times so tests can measure request rates.
 */
export class HttpSimulator {
  static #faultPlans: (() => FaultPlan & FaultControl) | undefined;
  readonly #faults: (FaultPlan & FaultControl) | undefined = HttpSimulator.#faultPlans?.();
  /** Arrival time (ms) of every request, faults included. */
  readonly callTimes: number[] = [];
  readonly #options: HttpSimulatorOptions;
  #latencyMs: number;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #url: string | undefined;

  constructor(options: HttpSimulatorOptions) {
    this.#options = options;
    this.#latencyMs = options.latencyMs ?? 0;
  }

  /** Changes the latency added to every answer from now on (a slow provider, in wall time rather than CPU). */
  setLatency(ms: number): void {
    this.#latencyMs = ms;
  }

  /**
   * Gives every simulator created from now on a fault injector (the test kit's `faults.ts`, which
   * the product does not ship: the demo's simulators never fail on purpose).
   */
  static enableFaults(create: () => FaultPlan & FaultControl): void {
    HttpSimulator.#faultPlans = create;
  }

  /** The fault injector; throws where the test kit did not enable fault injection. */
  get faults(): FaultControl {
    if (!this.#faults)
      throw new Error('fault injection is part of the test kit: call enableFaultInjection() of simulators/faults.js first');
    return this.#faults;
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
    if (this.#latencyMs) await new Promise((r) => setTimeout(r, this.#latencyMs));
    const fault = this.#faults?.next();
    if (fault) {
      this.#faults!.answer(fault, request, res, this.#options.renderError);
      return;
    }
    let response: SimResponse;
    try {
      response = await this.#options.handler(request);
    } catch (error) {
      response = { status: 500, body: { message: `simulator bug: ${(error as Error).message}` } };
    }
    sendResponse(res, response);
  }
}
