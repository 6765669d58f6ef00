import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An HTTP proxy in front of an S3 server that can hold chosen requests back and deliver them
 * later, after the client is gone: a "zombie" PUT that lands after its writer died. Requests are
 * forwarded byte for byte (headers included, so SigV4 signatures stay valid).
 */
export class HoldProxy {
  #server: Server | undefined;
  #hold: ((req: IncomingMessage) => boolean) | undefined;
  #holds = 0;
  /** Held requests waiting for release. */
  readonly #held: { deliver: () => Promise<number> }[] = [];
  /** Keys (paths) of held requests delivered later, with the status the server answered. */
  readonly delivered: { path: string; status: number }[] = [];

  constructor(private readonly upstream: { host: string; port: number }) {}

  get url(): string {
    return `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}`;
  }

  /** How many requests are held now. */
  get holding(): number {
    return this.#held.length;
  }

  async start(): Promise<void> {
    this.#server = createServer((req, res) => void this.#handle(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
  }

  /** Holds the next `count` requests `match` selects (their clients get no answer). */
  holdNext(count: number, match: (req: IncomingMessage) => boolean): void {
    this.#holds = count;
    this.#hold = match;
  }

  /** Delivers every held request to the server now; returns how many. */
  async release(): Promise<number> {
    const held = this.#held.splice(0);
    for (const h of held) await h.deliver();
    return held.length;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const forward = (onResponse: (upstream: IncomingMessage) => void): Promise<number> =>
      new Promise((resolve, reject) => {
        const out = request(
          { host: this.upstream.host, port: this.upstream.port, method: req.method, path: req.url, headers: req.headers },
          (upstream) => {
            onResponse(upstream);
            upstream.on('end', () => resolve(upstream.statusCode ?? 0));
            upstream.on('error', reject);
          },
        );
        out.on('error', reject);
        out.end(body);
      });
    if (this.#holds > 0 && this.#hold?.(req)) {
      this.#holds -= 1;
      const path = req.url ?? '';
      this.#held.push({
        deliver: async () => {
          const status = await forward((upstream) => upstream.resume());
          this.delivered.push({ path, status });
          return status;
        },
      });
      return; // no answer: the client waits until it gives up or dies
    }
    await forward((upstream) => {
      res.writeHead(upstream.statusCode ?? 502, upstream.headers);
      upstream.pipe(res);
    }).catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  }
}
