import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

/** One request the proxy was asked to carry. */
export interface ProxiedRequest {
  /** `GET`, `PUT`, … for a forwarded request; `CONNECT` for a tunnel. */
  method: string;
  /** The absolute URL of a forwarded request, or `host:port` of a tunnel. */
  target: string;
  /** The `Proxy-Authorization` header as sent, if any. */
  authorization: string | undefined;
}

/**
 * Names under this domain are this host to the proxy alone: loopback addresses always go direct,
 * so a test reaches a local server through the proxy by such a name (`api.proxied.test`).
 */
export const PROXIED_DOMAIN = 'proxied.test';

/** `url` with its host renamed `<label>.proxied.test`, the port kept: reachable only through a ForwardProxy. */
export function proxiedUrl(url: string, label: string): string {
  const parsed = new URL(url);
  parsed.hostname = `${label}.${PROXIED_DOMAIN}`;
  return parsed.toString().replace(/\/$/, '');
}

/** Where the proxy connects for `host`: this host for names under PROXIED_DOMAIN. */
function upstreamHost(host: string): string {
  return host.endsWith(`.${PROXIED_DOMAIN}`) ? '127.0.0.1' : host;
}

export interface ForwardProxyOptions {
  /** When set, requests without these credentials are answered 407. */
  credentials?: { username: string; password: string };
}

/**
 * A real HTTP proxy on 127.0.0.1, as corporate egress proxies behave: absolute-form requests are
 * forwarded, CONNECT opens a TCP tunnel, and every request is recorded. Names under
 * PROXIED_DOMAIN lead to this host.
 */
export class ForwardProxy {
  readonly requests: ProxiedRequest[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #expected: string | undefined;

  constructor(options: ForwardProxyOptions = {}) {
    const { credentials } = options;
    this.#expected = credentials ? `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` : undefined;
    this.#server = createServer((req, res) => {
      if (!this.#admit(req)) {
        res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' }).end();
        return;
      }
      const url = new URL(req.url ?? '');
      const headers = { ...req.headers };
      delete headers['proxy-authorization'];
      delete headers['proxy-connection'];
      const upstream = httpRequest(
        { host: upstreamHost(url.hostname), port: url.port, path: url.pathname + url.search, method: req.method, headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    this.#server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      if (!this.#admit(req)) {
        client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n');
        return;
      }
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), upstreamHost(host!), () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      this.#sockets.add(upstream);
      upstream.once('close', () => this.#sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
  }

  /** The proxy's URL, with credentials when given (`http://user:pass@127.0.0.1:port`). */
  url(credentials?: { username: string; password: string }): string {
    const { port } = this.#server.address() as AddressInfo;
    const auth = credentials ? `${encodeURIComponent(credentials.username)}:${encodeURIComponent(credentials.password)}@` : '';
    return `http://${auth}127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #admit(req: IncomingMessage): boolean {
    const authorization = req.headers['proxy-authorization'];
    this.requests.push({ method: req.method ?? '', target: req.url ?? '', authorization });
    return this.#expected === undefined || authorization === this.#expected;
  }
}
