import type { ZodType, ZodTypeDef } from 'zod';

/**
 * What a cloud contributes to the spine: how its sources' credentials are written and where its
 * own SDKs find them in the environment. The config loader asks a provider's cloud; it names no
 * cloud itself, so a third cloud is a new folder beside `aliyun/` and `huawei/`.
 *
 * Not part of it: signing, error codes and endpoints, which stay inside the cloud's client.
 */
export interface Cloud<K> {
  /** `aliyun`, `huawei`. */
  readonly id: string;
  /** Schema of `sources[].credentials` (Alibaba AccessKey, Huawei AK/SK or token). */
  readonly credentialsSchema: ZodType<K, ZodTypeDef, unknown>;
  /**
   * Credentials of a source that names none, from the variables the cloud's own SDKs read, so
   * that one key pair in the environment serves every source of that cloud; empty when unset.
   */
  credentialsFromEnv(env: NodeJS.ProcessEnv): Record<string, string>;
  /** The variables to set when neither the config nor the environment has credentials. */
  readonly credentialsEnvHint: string;
}

/** The non-empty values of `entries` (environment variables that are set). */
export function presentValues(entries: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(entries).filter((e): e is [string, string] => Boolean(e[1])));
}
