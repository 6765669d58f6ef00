import { parseJsonBody, withRetry } from '../../http/index.js';
import { ProviderError, type ProviderErrorDetails } from '../../errors/index.js';
import type { ProviderClientOptions } from '../client-options.js';
import type { AliyunCredentials } from './credentials.js';
import { aliyunErrorBodySchema, mapAliyunError, type AliyunErrorBody } from './error-mapping.js';
import { signRpcRequest } from './signer.js';

/** A parameter value as the RPC query carries it; `undefined` means "leave the parameter out". */
export type AliyunParamValue = string | number | boolean | undefined;

export interface AliyunRpcClientOptions extends ProviderClientOptions {
  /** Base URL (`https://oos.cn-hangzhou.aliyuncs.com`, a VPC endpoint, or a simulator). */
  endpoint: string;
  credentials: AliyunCredentials;
  /** API version of the product (`2019-06-01`). */
  version: string;
  /**
   * Awaited before every attempt, retries included (e.g. a shared rate limiter): a quota counts
   * attempts, not logical calls.
   */
  beforeAttempt?: () => Promise<void>;
}

/** A successful call: the parsed body, the provider's request id and the bytes received. */
export interface AliyunCallResult {
  body: unknown;
  requestId: string | undefined;
  bytes: number;
}

/**
 * Calls RPC-style Alibaba Cloud APIs (POST /, parameters in the query, empty body) with the V3
 * signature. Each attempt is signed afresh: Alibaba refuses a reused nonce and a stale date, so a
 * retry of an already-signed request would fail for the wrong reason.
 */
export class AliyunRpcClient {
  readonly #options: AliyunRpcClientOptions;
  readonly #base: URL;

  constructor(options: AliyunRpcClientOptions) {
    this.#options = options;
    this.#base = new URL(options.endpoint);
  }

  /** Calls `action` with `params`, retrying throttling, 5xx, network and malformed answers. */
  async call(action: string, params: Record<string, AliyunParamValue>): Promise<AliyunCallResult> {
    const { retry, signal, logger, source, provider } = this.#options;
    return withRetry((attempt) => this.#attempt(action, params, attempt), retry, {
      signal,
      onRetry: (error, attempt, delayMs) => {
        const e = error instanceof ProviderError ? error : undefined;
        logger.warn(
          { source, provider, action, code: e?.providerCode ?? e?.code ?? 'unknown', attempt, delayMs, requestId: e?.requestId },
          `retrying ${action}: ${(error as Error).message}`,
        );
      },
    });
  }

  async #attempt(action: string, params: Record<string, AliyunParamValue>, _attempt: number): Promise<AliyunCallResult> {
    const { credentials, version, http, signal, source, provider, beforeAttempt } = this.#options;
    if (beforeAttempt) await beforeAttempt();
    const query: Record<string, string> = {};
    for (const [key, value] of Object.entries(params)) if (value !== undefined) query[key] = String(value);
    const signed = signRpcRequest({ host: this.#base.host, action, version, query }, credentials);
    const url = new URL('/', this.#base);
    url.search = signed.queryString;
    const details: ProviderErrorDetails & { source: string } = { source, provider };
    const response = await http.send(
      { method: 'POST', url, headers: signed.headers, signal, ...(this.#options.timeoutMs ? { timeoutMs: this.#options.timeoutMs } : {}) },
      details,
    );
    const bytes = Buffer.byteLength(response.body);
    if (response.statusCode >= 200 && response.statusCode < 300) {
      const body = parseJsonBody(response.body, { ...details, statusCode: response.statusCode });
      return { body, requestId: requestIdOf(body), bytes };
    }
    throw mapAliyunError({
      statusCode: response.statusCode,
      headers: response.headers,
      body: errorBodyOf(response.body),
      action,
      details,
      secrets: [credentials.accessKeySecret, credentials.securityToken],
    });
  }
}

function requestIdOf(body: unknown): string | undefined {
  if (body && typeof body === 'object' && 'RequestId' in body) {
    const id = (body as { RequestId?: unknown }).RequestId;
    if (typeof id === 'string') return id;
  }
  return undefined;
}

/** The Alibaba error body when the answer is one; gateways sometimes answer HTML instead. */
function errorBodyOf(text: string): AliyunErrorBody | undefined {
  try {
    const parsed = aliyunErrorBodySchema.safeParse(parseJsonBody(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
