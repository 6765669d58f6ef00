import {
  credentialSourceOf,
  JsonApiClient,
  type BodyReader,
  type CredentialSource,
  type JsonCallResult,
  type JsonClientOptions,
} from '../../http/index.js';
import type { AliyunCredentials } from './credentials.js';
import { aliyunDialect, type AliyunErrorBody } from './error-mapping.js';
import { signRpcRequest } from './signer.js';

/** A parameter value as the RPC query carries it; `undefined` means "leave the parameter out". */
export type AliyunParamValue = string | number | boolean | undefined;

export interface AliyunRpcClientOptions extends JsonClientOptions {
  /** Base URL (`https://oos.cn-hangzhou.aliyuncs.com`, a VPC endpoint, or a simulator). */
  endpoint: string;
  /** Keys, or a source asked before every attempt (refreshing STS credentials). */
  credentials: AliyunCredentials | CredentialSource<AliyunCredentials>;
  /** API version of the product (`2019-06-01`). */
  version: string;
}

/** A successful call: the parsed body, the provider's request id and the bytes received. */
export type AliyunCallResult<T = unknown> = JsonCallResult<T>;

/**
 * Calls RPC-style Alibaba Cloud APIs (POST /, parameters in the query, empty body) with the V3
 * signature. Each attempt is signed afresh: Alibaba refuses a reused nonce and a stale date, so a
 * retry of an already-signed request would fail for the wrong reason.
 */
export class AliyunRpcClient {
  readonly #core: JsonApiClient<AliyunErrorBody>;
  readonly #base: URL;
  readonly #version: string;
  readonly #credentials: CredentialSource<AliyunCredentials>;
  readonly #signal: AbortSignal;

  constructor(options: AliyunRpcClientOptions) {
    this.#core = new JsonApiClient(options, aliyunDialect);
    this.#base = new URL(options.endpoint);
    this.#version = options.version;
    this.#credentials = credentialSourceOf(options.credentials);
    this.#signal = options.signal;
  }

  /**
   * Calls `action` with `params`, retrying throttling, 5xx, network and malformed answers; `read`
   * (a schema) checks the body inside the retry loop.
   */
  call<T = unknown>(action: string, params: Record<string, AliyunParamValue>, read?: BodyReader<T>): Promise<AliyunCallResult<T>> {
    const query: Record<string, string> = {};
    for (const [key, value] of Object.entries(params)) if (value !== undefined) query[key] = String(value);
    return this.#core.call(
      action,
      async () => {
        const credentials = await this.#credentials.get(this.#signal);
        const signed = signRpcRequest({ host: this.#base.host, action, version: this.#version, query }, credentials);
        const url = new URL('/', this.#base);
        url.search = signed.queryString;
        return {
          request: { method: 'POST', url, headers: signed.headers },
          secrets: [credentials.accessKeySecret, credentials.securityToken],
        };
      },
      read,
    );
  }
}
