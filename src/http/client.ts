import type * as NodeHttp from 'node:http';
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import type * as NodeHttps from 'node:https';
import { createRequire } from 'node:module';
import { isIP, type Socket } from 'node:net';
import { ProviderNetworkError, ProviderResponseError, type ProviderErrorDetails } from '../errors/index.js';
import { describeProxyUrl, proxyUrlOf, type ProxyEnv } from './proxy-env.js';

// `require`, not `import`: an ES import of `node:http` builds its whole namespace, whose lazy
// `WebSocket`, `CloseEvent` and `MessageEvent` load Node's bundled undici. That is about 2 MB of
// heap that stays live for the life of the process, and every full GC of a drain marks it again.
const require = createRequire(import.meta.url);
const { Agent: HttpAgent, request: httpRequest } = require('node:http') as typeof NodeHttp;
const { Agent: HttpsAgent, request: httpsRequest } = require('node:https') as typeof NodeHttps;
type HttpAgent = NodeHttp.Agent;
type HttpsAgent = NodeHttps.Agent;

/** Options shared by every provider call. */
export interface HttpClientOptions {
  /** Time to wait for response headers and between body chunks, in ms. @defaultValue 30000 */
  timeoutMs?: number;
  /** Largest body accepted, in bytes; larger bodies are an error, never truncated. @defaultValue 16 MiB */
  maxBodyBytes?: number;
  /**
   * Connections kept per origin. Streams of one source are read `params.concurrency` at once (up
   * to 64) and several sources share an endpoint: fewer connections would queue their calls.
   * @defaultValue 32
   */
  connections?: number;
  /**
   * The proxies calls go through, and the hosts that go direct (see proxyEnvOf). Node's agents
   * ignore `HTTP(S)_PROXY` unless given them. @defaultValue no proxy
   */
  proxy?: ProxyEnv;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Overrides the client's timeout for this request (a source's `timeout`). */
  timeoutMs?: number;
  /** Never through the proxy: an instance metadata service answers on a link-local address no proxy reaches. */
  direct?: boolean;
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  /** Bytes of the body as received (UTF-8), counted on the way in rather than measured again. */
  bytes: number;
}

/** Longest wait for a TCP (and TLS) connection, whatever the request timeout. */
const CONNECT_TIMEOUT_MS = 10_000;
/** An idle pooled connection is closed after this long (servers commonly close theirs after 5 s). */
const IDLE_TIMEOUT_MS = 4_000;

/**
 * Decodes bodies: twice as fast as `Buffer#toString('utf8')` on text that is not ASCII (a 512 KiB
 * DataWorks segment: 4.4 ms against 9 ms), with the same result (invalid sequences become U+FFFD;
 * `ignoreBOM` keeps a leading BOM, as `toString` does, so such a body is still refused as not JSON).
 */
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** Why a request was given up on by this client, as the code a ProviderNetworkError message names. */
class GiveUp extends Error {
  constructor(readonly code: 'CONNECT_TIMEOUT' | 'TIMEOUT' | 'DEADLINE' | 'ABORTED') {
    super(code);
  }
}

/** A body refused for its size; not a transport failure. */
class Oversize extends Error {
  constructor(
    message: string,
    readonly statusCode: number | undefined,
  ) {
    super(message);
  }
}

/**
 * One pooled HTTP client per process, on Node's own `http`/`https` (its native parser: a pool and a
 * parser of its own would cost some 25 MB of memory for the life of the process). Transport
 * failures become ProviderNetworkError; bodies are read fully (bounded) so a truncated body is
 * detected here rather than by a half-parsed page.
 */
export class HttpClient {
  readonly #http: HttpAgent;
  readonly #https: HttpsAgent;
  /** Only when a proxy is set: the agents of `direct` requests. */
  readonly #direct: { http: HttpAgent; https: HttpsAgent } | undefined;
  readonly #proxy: ProxyEnv | undefined;
  /** The proxy URLs parsed once, for the messages of failed calls. */
  readonly #proxyUrls: { http: URL | undefined; https: URL | undefined };
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;

  constructor(options: HttpClientOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
    const pool = {
      keepAlive: true,
      maxSockets: options.connections ?? 32,
      maxFreeSockets: options.connections ?? 32,
      // The most recently used connection first: the rest go idle and close instead of each being
      // kept barely alive (and more likely to be closed by the server just as it is reused).
      scheduling: 'lifo' as const,
      timeout: IDLE_TIMEOUT_MS,
    };
    this.#proxy = options.proxy;
    this.#proxyUrls = { http: proxyUrlOf(options.proxy, 'http:'), https: proxyUrlOf(options.proxy, 'https:') };
    // `null`, not absent: a Node started with NODE_USE_ENV_PROXY may give an agent without it process.env.
    const proxied = { ...pool, proxyEnv: options.proxy ?? null };
    this.#http = new HttpAgent(proxied);
    this.#https = new HttpsAgent(proxied);
    const direct = { ...pool, proxyEnv: null };
    this.#direct = options.proxy ? { http: new HttpAgent(direct), https: new HttpsAgent(direct) } : undefined;
  }

  /** The proxies this client's calls go through; a client of the same process with agents of its own takes them too. */
  get proxy(): ProxyEnv | undefined {
    return this.#proxy;
  }

  /** Sends one request and returns the whole body as text; throws typed errors on transport failure. */
  async send(request: HttpRequest, details: ProviderErrorDetails = {}): Promise<HttpResponse> {
    const timeoutMs = request.timeoutMs ?? this.#timeoutMs;
    try {
      return await this.#exchange(request, timeoutMs);
    } catch (cause) {
      if (cause instanceof Oversize) throw new ProviderResponseError(cause.message, { ...details, statusCode: cause.statusCode });
      if (request.signal?.aborted) throw request.signal.reason instanceof Error ? request.signal.reason : cause;
      throw this.#transportError(cause, request, details);
    }
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    this.#http.destroy();
    this.#https.destroy();
    this.#direct?.http.destroy();
    this.#direct?.https.destroy();
  }

  #exchange(request: HttpRequest, timeoutMs: number): Promise<HttpResponse> {
    // Aborted before it began: no request is made (one destroyed at once would still emit its error).
    if (request.signal?.aborted) return Promise.reject(new GiveUp('ABORTED'));
    const { url } = request;
    const secure = url.protocol === 'https:';
    const options: RequestOptions = {
      agent: this.#agent(request),
      protocol: url.protocol,
      hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port || undefined,
      path: url.pathname + url.search,
      method: request.method,
      headers: request.headers,
    };
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const req: ClientRequest = (secure ? httpsRequest : httpRequest)(options);
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        cleanUp();
        req.destroy(error);
        reject(error);
      };
      // First of all: destroying the request (any failure below) emits its error on it.
      req.on('error', fail);
      // The overall deadline backs up the idle timeout (a body trickling in forever).
      const deadline = setTimeout(() => fail(new GiveUp('DEADLINE')), timeoutMs * 2);
      const onAbort = (): void => fail(new GiveUp('ABORTED'));
      const cleanUp = (): void => {
        clearTimeout(deadline);
        if (connectTimer) clearTimeout(connectTimer);
        request.signal?.removeEventListener('abort', onAbort);
      };
      request.signal?.addEventListener('abort', onAbort, { once: true });
      // Idle time on the socket: waiting for the response's headers, or between body chunks.
      req.setTimeout(timeoutMs, () => fail(new GiveUp('TIMEOUT')));
      req.on('socket', (socket: Socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(() => fail(new GiveUp('CONNECT_TIMEOUT')), Math.min(timeoutMs, CONNECT_TIMEOUT_MS));
        socket.once(secure ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
      });
      req.on('response', (res: IncomingMessage) => {
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > this.#maxBodyBytes) {
          fail(new Oversize(`response body of ${declared} bytes exceeds the ${this.#maxBodyBytes}-byte limit`, res.statusCode));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.#maxBodyBytes) {
            fail(new Oversize(`response body exceeds the ${this.#maxBodyBytes}-byte limit`, res.statusCode));
            return;
          }
          chunks.push(chunk);
        });
        // A connection closed before the body is complete is an error here (ECONNRESET, `aborted`), never an `end`.
        res.on('error', fail);
        res.on('end', () => {
          if (settled) return;
          settled = true;
          cleanUp();
          // A body in one chunk (most small answers) is decoded where it lies, not copied first.
          const body = UTF8.decode(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
          resolve({ statusCode: res.statusCode ?? 0, headers: flattenHeaders(res.headers), body, bytes: size });
        });
      });
      req.end(request.body);
    });
  }

  #agent(request: HttpRequest): HttpAgent {
    const https = request.url.protocol === 'https:';
    if (request.direct && this.#direct) return https ? this.#direct.https : this.#direct.http;
    return https ? this.#https : this.#http;
  }

  #transportError(cause: unknown, request: HttpRequest, details: ProviderErrorDetails): Error {
    const failure = cause as { code?: string; statusCode?: number; hostname?: string; address?: string; port?: number };
    const proxyUrl = request.direct ? undefined : request.url.protocol === 'https:' ? this.#proxyUrls.https : this.#proxyUrls.http;
    const proxy = proxyUrl && describeProxyUrl(proxyUrl);
    let what = failure.code ?? 'request failed';
    // Node's own tunnel message names the proxy without its credentials; the status is what matters.
    if (failure.code === 'ERR_PROXY_TUNNEL') what += ` (proxy ${proxy ?? ''} answered CONNECT with HTTP ${failure.statusCode ?? '?'})`;
    else if (failure.address !== undefined) what += ` ${failure.address}:${failure.port ?? ''}`;
    const variable = request.url.protocol === 'https:' ? 'HTTPS_PROXY' : 'HTTP_PROXY';
    const atProxy = proxyUrl === undefined ? false : failedAtProxy(failure, proxyUrl);
    const hint =
      proxy === undefined || atProxy === false
        ? undefined
        : failure.statusCode === 407
          ? `the proxy wants credentials: put them in ${variable} (http://user:password@host:port)`
          : atProxy === true
            ? `the proxy ${proxy} (${variable}) failed: check that it is reachable and lets ${request.url.host} through, or name the host in NO_PROXY`
            : `calls to ${request.url.protocol}// hosts go through the proxy ${proxy} unless NO_PROXY names the host: check that the proxy is reachable and lets ${request.url.host} through`;
    return new ProviderNetworkError(`${request.method} ${request.url.host}${request.url.pathname}: ${what}`, {
      ...(hint !== undefined ? { hint } : {}),
      ...details,
      cause,
    });
  }
}

/**
 * Whether a transport failure happened at the proxy: true (the tunnel, or the proxy's address),
 * false (another address or name: the call went direct), or undefined (a timeout names neither).
 */
function failedAtProxy(failure: { code?: string; hostname?: string; address?: string; port?: number }, proxy: URL): boolean | undefined {
  if (failure.code === 'ERR_PROXY_TUNNEL') return true;
  // A failed lookup names the host it looked up.
  if (failure.hostname !== undefined) return failure.hostname === proxy.hostname;
  if (failure.address === undefined) return undefined;
  const port = Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80));
  return failure.port === port && (isIP(proxy.hostname) === 0 || failure.address === proxy.hostname);
}

function flattenHeaders(raw: IncomingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
