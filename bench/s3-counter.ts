/**
 * An HTTP proxy in front of the bench's S3 server that counts requests by S3 operation, so the
 * bench can print the storage round trips each commit costs. Requests and answers pass through
 * unchanged (headers included: SigV4 signs the Host the client saw, which is the proxy's).
 */
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The S3 operation of a request, from its method and query (path-style addressing). */
export function s3Operation(method: string, url: string, headers: IncomingMessage['headers']): string {
  const query = new URL(url, 'http://x').searchParams;
  switch (method) {
    case 'PUT':
      if (headers['x-amz-copy-source']) return 'COPY';
      return query.has('partNumber') ? 'UPLOAD_PART' : 'PUT';
    case 'POST':
      if (query.has('uploads')) return 'CREATE_MULTIPART';
      if (query.has('uploadId')) return 'COMPLETE_MULTIPART';
      return query.has('delete') ? 'DELETE_OBJECTS' : 'POST';
    case 'GET':
      return query.has('list-type') || query.has('versions') || query.has('uploads') || query.has('prefix') ? 'LIST' : 'GET';
    default:
      return method;
  }
}

export class S3RequestCounter {
  readonly #counts = new Map<string, number>();
  readonly #agent = new Agent({ keepAlive: true });
  #server: Server | undefined;

  constructor(private readonly upstream: URL) {}

  /** Starts on a free port; returns the endpoint to give the archiver. */
  async start(): Promise<string> {
    this.#server = createServer((req, res) => this.#forward(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Requests counted so far, by operation. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.#counts);
  }

  async stop(): Promise<void> {
    this.#agent.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  #forward(req: IncomingMessage, res: ServerResponse): void {
    const operation = s3Operation(req.method ?? 'GET', req.url ?? '/', req.headers);
    this.#counts.set(operation, (this.#counts.get(operation) ?? 0) + 1);
    const upstream = request(
      {
        host: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.#agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  }
}

/** `after - before` per operation, zeros left out. */
export function countsBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [operation, n] of Object.entries(after)) if (n - (before[operation] ?? 0) > 0) delta[operation] = n - (before[operation] ?? 0);
  return delta;
}
