import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import { ProviderNetworkError, ProviderResponseError, type ProviderErrorDetails } from '../errors/index.js';

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
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Overrides the client's timeout for this request (a source's `timeout`). */
  timeoutMs?: number;
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  /** Bytes of the body as received (UTF-8), counted on the way in rather than measured again. */
  bytes: number;
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/**
 * Decodes bodies: twice as fast as `Buffer#toString('utf8')` on text that is not ASCII (a 512 KiB
 * DataWorks segment: 4.4 ms against 9 ms), with the same result (invalid sequences become U+FFFD;
 * `ignoreBOM` keeps a leading BOM, as `toString` does, so such a body is still refused as not JSON).
 */
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * One pooled HTTP client per process. Transport failures become ProviderNetworkError; bodies are
 * read fully (bounded) so a truncated body is detected here rather than by a half-parsed page.
 */
export class HttpClient {
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  readonly #maxBodyBytes: number;

  constructor(options: HttpClientOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
    this.#agent = new Agent({
      connections: options.connections ?? 32,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
      connectTimeout: Math.min(this.#timeoutMs, 10_000),
      keepAliveTimeout: 4_000,
    });
  }

  /** Sends one request and returns the whole body as text; throws typed errors on transport failure. */
  async send(request: HttpRequest, details: ProviderErrorDetails = {}): Promise<HttpResponse> {
    let response: Dispatcher.ResponseData;
    const timeoutMs = request.timeoutMs ?? this.#timeoutMs;
    // The overall deadline backs up undici's per-phase timeouts (a body trickling in forever).
    const timeout = AbortSignal.timeout(timeoutMs * 2);
    const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
    try {
      response = await this.#agent.request({
        origin: request.url.origin,
        path: request.url.pathname + request.url.search,
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (cause) {
      throw this.#transportError(cause, request, details);
    }
    const headers = flattenHeaders(response.headers);
    const declared = Number(headers['content-length']);
    if (Number.isFinite(declared) && declared > this.#maxBodyBytes) {
      response.body.destroy();
      throw new ProviderResponseError(`response body of ${declared} bytes exceeds the ${this.#maxBodyBytes}-byte limit`, {
        ...details,
        statusCode: response.statusCode,
      });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        const buffer = chunk as Buffer;
        size += buffer.length;
        if (size > this.#maxBodyBytes) {
          response.body.destroy();
          throw new ProviderResponseError(`response body exceeds the ${this.#maxBodyBytes}-byte limit`, {
            ...details,
            statusCode: response.statusCode,
          });
        }
        chunks.push(buffer);
      }
    } catch (cause) {
      if (cause instanceof ProviderResponseError) throw cause;
      throw this.#transportError(cause, request, details);
    }
    // A body in one chunk (most small answers) is decoded where it lies, not copied first.
    const body = UTF8.decode(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    return { statusCode: response.statusCode, headers, body, bytes: size };
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  #transportError(cause: unknown, request: HttpRequest, details: ProviderErrorDetails): Error {
    if (request.signal?.aborted) return request.signal.reason instanceof Error ? request.signal.reason : (cause as Error);
    const code = (cause as { code?: string }).code ?? '';
    const name = (cause as Error).name ?? '';
    const known = NETWORK_CODES.has(code) || cause instanceof undiciErrors.UndiciError || name === 'AbortError' || name === 'TimeoutError';
    const what = known ? code || name : 'request failed';
    return new ProviderNetworkError(`${request.method} ${request.url.host}${request.url.pathname}: ${what}`, {
      ...details,
      cause,
    });
  }
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
