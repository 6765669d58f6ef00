import { parseJsonBody, withRetry } from '../../http/index.js';
import { ProviderError, ProviderResponseError, type ProviderErrorDetails } from '../../errors/index.js';
import type { ProviderClientOptions } from '../client-options.js';
import { isAkSk, secretsOf, type HuaweiCredentials } from './credentials.js';
import { huaweiErrorBodyOf, mapHuaweiError } from './error-mapping.js';
import { encodeQuery, signRequest } from './signer.js';

/**
 * Least wait after a Huawei throttling answer (APIGW.0308), in ms: API Gateway quotas are per
 * second/minute, so retrying sooner only burns attempts. The first wait is 1–2.5× the floor
 * (2–5 s by default) and doubles with each further attempt.
 */
export const DEFAULT_THROTTLE_FLOOR_MS = 2_000;

export interface HuaweiClientOptions extends ProviderClientOptions {
  /** Base URL (`https://dws.cn-north-4.myhuaweicloud.com`, a VPC endpoint, or a simulator). */
  endpoint: string;
  credentials: HuaweiCredentials;
  /** Sent as `X-Project-Id` with AK/SK signing (as the SDK does for project-scoped calls). */
  projectId?: string | undefined;
  /**
   * Floor of the throttling backoff in ms. @defaultValue min(2000, retry.maxDelayMs) — a retry
   * policy shortened for tests shortens it too.
   */
  throttleFloorMs?: number | undefined;
  random?: () => number;
}

/** A successful call: the parsed body, Huawei's `X-Request-Id` and the bytes received. */
export interface HuaweiCallResult<T = unknown> {
  body: T;
  requestId: string | undefined;
  bytes: number;
}

/**
 * GETs Huawei Cloud REST APIs with AK/SK signing (SDK-HMAC-SHA256) or an IAM token. Every attempt is
 * signed afresh: the signature covers `X-Sdk-Date`, and a retry after a long backoff must not be
 * refused as stale. Throttling, 5xx, network failures and untrustworthy bodies are retried; auth
 * and validation errors are not.
 */
export class HuaweiClient {
  readonly #options: HuaweiClientOptions;
  readonly #base: URL;
  readonly #throttleFloorMs: number;
  readonly #random: () => number;

  constructor(options: HuaweiClientOptions) {
    this.#options = options;
    this.#base = new URL(options.endpoint);
    this.#throttleFloorMs = options.throttleFloorMs ?? Math.min(DEFAULT_THROTTLE_FLOOR_MS, options.retry.maxDelayMs);
    this.#random = options.random ?? Math.random;
  }

  /**
   * GETs `path` (relative to the endpoint) with `query` and extra `headers`, retrying what may pass
   * later. `read` checks the parsed body's shape inside the retry loop, so a 200 with the wrong shape
   * is retried like a truncated one; whatever it throws becomes a ProviderResponseError.
   */
  async get<T = unknown>(
    path: string,
    query: Readonly<Record<string, string>> = {},
    headers: Readonly<Record<string, string>> = {},
    read?: (body: unknown) => T,
  ): Promise<HuaweiCallResult<T>> {
    const { retry, signal, logger, source, provider } = this.#options;
    return withRetry((attempt) => this.#attempt(path, query, headers, attempt, read), retry, {
      signal,
      random: this.#random,
      onRetry: (error, attempt, delayMs) => {
        const e = error instanceof ProviderError ? error : undefined;
        logger.warn(
          { source, provider, path, code: e?.providerCode ?? e?.code ?? 'unknown', attempt, delayMs, requestId: e?.requestId },
          `retrying GET ${path}: ${(error as Error).message}`,
        );
      },
    });
  }

  async #attempt<T>(
    path: string,
    query: Readonly<Record<string, string>>,
    extra: Readonly<Record<string, string>>,
    attempt: number,
    read: ((body: unknown) => T) | undefined,
  ): Promise<HuaweiCallResult<T>> {
    const { credentials, http, signal, source, provider, projectId } = this.#options;
    const url = new URL(joinPath(this.#base.pathname, path), this.#base);
    url.search = encodeQuery(query);
    let headers: Record<string, string>;
    if (isAkSk(credentials)) {
      headers = signRequest({ method: 'GET', url, headers: extra }, credentials, { projectId });
      // undici sends Host from the URL: the very value that was signed.
      delete headers.host;
    } else {
      headers = { ...extra, 'X-Auth-Token': credentials.token };
    }
    const details: ProviderErrorDetails & { source: string } = { source, provider };
    const response = await http.send(
      { method: 'GET', url, headers, signal, ...(this.#options.timeoutMs ? { timeoutMs: this.#options.timeoutMs } : {}) },
      details,
    );
    const requestId = response.headers['x-request-id'];
    const bytes = Buffer.byteLength(response.body);
    if (response.statusCode >= 200 && response.statusCode < 300) {
      const where = { ...details, statusCode: response.statusCode, requestId };
      const parsed = parseJsonBody(response.body, where);
      if (!read) return { body: parsed as T, requestId, bytes };
      try {
        return { body: read(parsed), requestId, bytes };
      } catch (cause) {
        if (cause instanceof ProviderError) throw cause;
        throw new ProviderResponseError(`${source}: unexpected response shape: ${(cause as Error).message}`, { ...where, cause });
      }
    }
    throw mapHuaweiError({
      statusCode: response.statusCode,
      headers: response.headers,
      body: huaweiErrorBodyOf(response.body),
      details,
      secrets: secretsOf(credentials),
      mode: isAkSk(credentials) ? 'aksk' : 'token',
      throttleWaitMs: Math.round(this.#throttleFloorMs * 2 ** (attempt - 1) * (1 + 1.5 * this.#random())),
    });
  }
}

function joinPath(basePath: string, path: string): string {
  const base = basePath.endsWith('/') ? basePath.slice(0, -1) : basePath;
  return `${base}${path.startsWith('/') ? path : `/${path}`}`;
}
