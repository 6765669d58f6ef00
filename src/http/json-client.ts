import type { ZodType, ZodTypeDef } from 'zod';
import { ProviderError, ProviderResponseError, type ProviderErrorDetails } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import type { CallLog } from './call-log.js';
import type { HttpClient, HttpRequest, HttpResponse } from './client.js';
import { parseJsonBody } from './json.js';
import { withRetry, type RetryPolicy } from './retry.js';

/** One attempt's request, built (and signed) afresh for every attempt. */
export interface PreparedRequest {
  request: Omit<HttpRequest, 'signal' | 'timeoutMs'>;
  /** Credential strings of this attempt, scrubbed from any provider message before it becomes ours. */
  secrets: readonly (string | undefined)[];
  /** Which kind of credentials signed this attempt (`aksk`, `token`), so an auth hint says what to fix. */
  credentialKind?: string;
}

/** A non-2xx answer as a cloud's error mapping sees it. */
export interface FailedAnswer<E> {
  statusCode: number;
  headers: Record<string, string>;
  /** The cloud's error body, or undefined when the answer was not one (an HTML page from a gateway). */
  body: E | undefined;
  /** What was called, for messages (`ListExecutionLogs`, `GET /v1/…`). */
  call: string;
  details: ProviderErrorDetails & { source: string };
  /** From the attempt's {@link PreparedRequest}. */
  credentialKind: string | undefined;
  /** Removes this attempt's secrets from provider text, and bounds its length. */
  scrub(text: string): string;
}

/**
 * What a cloud contributes to the shared client: the shape of its error bodies, where its answers
 * carry the request id, and how its failures map to typed errors (its codes and hints). Signing
 * and endpoints stay with the cloud's own client, which builds each request.
 */
export interface CloudDialect<E> {
  readonly errorBodySchema: ZodType<E, ZodTypeDef, unknown>;
  /** The provider's request id of an answer (a header, or a field of the parsed body). */
  requestId(headers: Record<string, string>, body: unknown): string | undefined;
  mapError(answer: FailedAnswer<E>): ProviderError;
}

/** How a 2xx body is checked: a schema, or a function that throws on a body it cannot use. */
export type BodyReader<T> = ZodType<T, ZodTypeDef, unknown> | ((body: unknown) => T);

/** What every cloud client takes from the drain it serves. */
export interface JsonClientOptions {
  http: HttpClient;
  retry: RetryPolicy;
  /** Source id, named in errors. */
  source: string;
  /** Provider id, named in errors. */
  provider: string;
  signal: AbortSignal;
  /** Bound to the source by the drain: log lines need not name it. */
  logger: Logger;
  /** Per-request timeout of this source (`sources[].timeout`); the HTTP client's own when unset. */
  timeoutMs?: number | undefined;
  /** Where successful answers are recorded for the page being read. @defaultValue none */
  calls?: CallLog | undefined;
  /**
   * Awaited before every attempt, retries included (e.g. a shared rate limiter): a quota counts
   * attempts, not logical calls. What it returns is released once the attempt's answer or failure
   * is in.
   */
  beforeAttempt?: (() => Promise<AttemptPermit | undefined>) | undefined;
  random?: (() => number) | undefined;
}

/** Held for one attempt (e.g. a rate-limit grant), released when its answer or failure is in. */
export interface AttemptPermit {
  release(): void;
}

/** A successful call: the checked body, the provider's request id, the bytes received and the headers (lower-cased). */
export interface JsonCallResult<T> {
  body: T;
  requestId: string | undefined;
  bytes: number;
  /** The answer's headers, lower-cased: `date` for a provider that bounds times by the server's clock, Huawei IAM's `x-subject-token`. */
  headers: Record<string, string>;
}

/** Longest provider text carried into one of our messages. */
const MAX_PROVIDER_TEXT = 500;

/**
 * The one JSON API client core both clouds share: retries with backoff (throttling per the retry
 * policy), per-request timeout, bounded bodies (the HTTP client), safe JSON parsing, the body
 * checked inside the retry loop (so a 200 with the wrong shape is retried like a truncated one),
 * request ids and bytes into the call log, and failed answers mapped by the cloud's dialect with
 * secrets scrubbed.
 */
export class JsonApiClient<E> {
  readonly #options: JsonClientOptions;
  readonly #dialect: CloudDialect<E>;

  constructor(options: JsonClientOptions, dialect: CloudDialect<E>) {
    this.#options = options;
    this.#dialect = dialect;
  }

  /** Calls `call` (a name for messages), building each attempt with `prepare`; retries what may pass later. */
  async call<T = unknown>(
    call: string,
    prepare: (attempt: number) => Promise<PreparedRequest>,
    read?: BodyReader<T>,
  ): Promise<JsonCallResult<T>> {
    const { retry, signal, logger, provider, random } = this.#options;
    const result = await withRetry((attempt) => this.#attempt(call, prepare, attempt, read), retry, {
      signal,
      ...(random ? { random } : {}),
      onRetry: (error, attempt, delayMs) => {
        const e = error instanceof ProviderError ? error : undefined;
        logger.warn(
          { provider, call, code: e?.providerCode ?? e?.code ?? 'unknown', attempt, delayMs, requestId: e?.requestId },
          `retrying ${call}: ${(error as Error).message}`,
        );
      },
    });
    this.#options.calls?.record(result.requestId, result.bytes);
    return result;
  }

  async #attempt<T>(
    call: string,
    prepare: (attempt: number) => Promise<PreparedRequest>,
    attempt: number,
    read: BodyReader<T> | undefined,
  ): Promise<JsonCallResult<T>> {
    const { http, signal, source, provider, timeoutMs, beforeAttempt } = this.#options;
    const permit = beforeAttempt ? await beforeAttempt() : undefined;
    const details: ProviderErrorDetails & { source: string } = { source, provider };
    let prepared: PreparedRequest;
    let response: HttpResponse;
    try {
      prepared = await prepare(attempt);
      response = await http.send({ ...prepared.request, signal, ...(timeoutMs ? { timeoutMs } : {}) }, details);
    } finally {
      permit?.release();
    }
    const { secrets, credentialKind } = prepared;
    const { bytes } = response;
    if (response.statusCode >= 200 && response.statusCode < 300) {
      const parsed = parseJsonBody(response.body, { ...details, statusCode: response.statusCode });
      const requestId = this.#dialect.requestId(response.headers, parsed);
      const where = { ...details, statusCode: response.statusCode, requestId };
      const body = readBody(read, parsed, `${source}: ${call} answered an unexpected shape`, where);
      return { body, requestId, bytes, headers: response.headers };
    }
    const scrub = (text: string): string => scrubSecrets(text.slice(0, MAX_PROVIDER_TEXT), secrets);
    throw this.#dialect.mapError({
      statusCode: response.statusCode,
      headers: response.headers,
      body: errorBodyOf(response.body, this.#dialect.errorBodySchema),
      call,
      details,
      credentialKind,
      scrub,
    });
  }
}

function readBody<T>(read: BodyReader<T> | undefined, body: unknown, what: string, where: ProviderErrorDetails): T {
  if (!read) return body as T;
  if (typeof read !== 'function') {
    const parsed = read.safeParse(body);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const at = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new ProviderResponseError(`${what}: ${at}${issue?.message ?? 'invalid'}`, where);
  }
  try {
    return read(body);
  } catch (cause) {
    if (cause instanceof ProviderError) throw cause;
    throw new ProviderResponseError(`${what}: ${(cause as Error).message}`, { ...where, cause });
  }
}

/** The cloud's error body when the answer is one; gateways sometimes answer HTML instead. */
function errorBodyOf<E>(text: string, schema: ZodType<E, ZodTypeDef, unknown>): E | undefined {
  try {
    const parsed = schema.safeParse(parseJsonBody(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Removes any secret that a provider message might echo back (defence in depth). */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  return out;
}

/** HTTP `Retry-After` (seconds or an HTTP date) in ms; undefined when absent or unreadable. */
export function retryAfterMs(headers: Record<string, string>, now: number = Date.now()): number | undefined {
  const value = headers['retry-after']?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}
