import {
  credentialSourceOf,
  JsonApiClient,
  type BodyReader,
  type CredentialSource,
  type JsonCallResult,
  type JsonClientOptions,
} from '../../http/index.js';
import { isAkSk, secretsOf, type HuaweiCredentials } from './credentials.js';
import { DEFAULT_THROTTLE_FLOOR_MS, huaweiDialect, type HuaweiErrorBody } from './error-mapping.js';
import { encodeQuery, signRequest } from './signer.js';

export interface HuaweiClientOptions extends JsonClientOptions {
  /** Base URL (`https://dws.cn-north-4.myhuaweicloud.com`, a VPC endpoint, or a simulator). */
  endpoint: string;
  /** AK/SK or a token, or a source asked before every attempt (refreshing IAM tokens, temporary keys). */
  credentials: HuaweiCredentials | CredentialSource<HuaweiCredentials>;
  /** Sent as `X-Project-Id` with AK/SK signing (as the SDK does for project-scoped calls). */
  projectId?: string | undefined;
  /**
   * Floor of the throttling backoff in ms. @defaultValue min(2000, retry.maxDelayMs) — a retry
   * policy shortened for tests shortens it too.
   */
  throttleFloorMs?: number | undefined;
}

/** A successful call: the parsed body, Huawei's `X-Request-Id` and the bytes received. */
export type HuaweiCallResult<T = unknown> = JsonCallResult<T>;

/**
 * GETs Huawei Cloud REST APIs with AK/SK signing (SDK-HMAC-SHA256) or an IAM token. Every attempt is
 * signed afresh: the signature covers `X-Sdk-Date`, and a retry after a long backoff must not be
 * refused as stale. Throttling, 5xx, network failures and untrustworthy bodies are retried; auth
 * and validation errors are not.
 */
export class HuaweiClient {
  readonly #core: JsonApiClient<HuaweiErrorBody>;
  readonly #base: URL;
  readonly #credentials: CredentialSource<HuaweiCredentials>;
  readonly #projectId: string | undefined;
  readonly #signal: AbortSignal;

  constructor(options: HuaweiClientOptions) {
    const throttleFloorMs = options.throttleFloorMs ?? Math.min(DEFAULT_THROTTLE_FLOOR_MS, options.retry.maxDelayMs);
    this.#core = new JsonApiClient({ ...options, retry: { ...options.retry, throttleFloorMs } }, huaweiDialect);
    this.#base = new URL(options.endpoint);
    this.#credentials = credentialSourceOf(options.credentials);
    this.#projectId = options.projectId;
    this.#signal = options.signal;
  }

  /**
   * GETs `path` (relative to the endpoint) with `query` and extra `headers`, retrying what may pass
   * later. `read` (a schema, or a function that throws) checks the parsed body inside the retry
   * loop, so a 200 with the wrong shape is retried like a truncated one.
   */
  get<T = unknown>(
    path: string,
    query: Readonly<Record<string, string>> = {},
    headers: Readonly<Record<string, string>> = {},
    read?: BodyReader<T>,
  ): Promise<HuaweiCallResult<T>> {
    return this.#core.call(
      `GET ${path}`,
      async () => {
        const credentials = await this.#credentials.get(this.#signal);
        const url = new URL(joinPath(this.#base.pathname, path), this.#base);
        url.search = encodeQuery(query);
        let signed: Record<string, string>;
        if (isAkSk(credentials)) {
          signed = signRequest({ method: 'GET', url, headers }, credentials, { projectId: this.#projectId });
          // The HTTP client sends Host from the URL: the very value that was signed.
          delete signed.host;
        } else {
          signed = { ...headers, 'X-Auth-Token': credentials.token };
        }
        return {
          request: { method: 'GET', url, headers: signed },
          secrets: secretsOf(credentials),
          credentialKind: isAkSk(credentials) ? 'aksk' : 'token',
        };
      },
      read,
    );
  }
}

function joinPath(basePath: string, path: string): string {
  const base = basePath.endsWith('/') ? basePath.slice(0, -1) : basePath;
  return `${base}${path.startsWith('/') ? path : `/${path}`}`;
}
