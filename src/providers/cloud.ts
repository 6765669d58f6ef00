import type { ZodType, ZodTypeDef } from 'zod';
import type { CredentialServices, SharedCredentials } from '../credentials/index.js';

/**
 * What a cloud contributes to the spine: how its sources' credentials are written, where its own
 * SDKs find them in the environment, and how configured credentials become what each request is
 * signed with (as they are, or obtained and refreshed: STS roles, IAM tokens). The config loader
 * and the drain ask a provider's cloud; they name no cloud themselves, so a third cloud is a new
 * folder beside `aliyun/` and `huawei/`.
 *
 * `K` is what a request is signed with; `C` is what `sources[].credentials` may say.
 *
 * Not part of it: signing, error codes and endpoints, which stay inside the cloud's client.
 */
export interface Cloud<K, C = K> {
  /** `aliyun`, `huawei`. */
  readonly id: string;
  /** Schema of `sources[].credentials` (Alibaba AccessKey or role, Huawei AK/SK, token or IAM user). */
  readonly credentialsSchema: ZodType<C, ZodTypeDef, unknown>;
  /**
   * `sources[].credentials` (undefined when the source names none) completed from the variables
   * the cloud's own SDKs read: the default credential chain for a source without credentials, so
   * that one key pair or role in the environment serves every source of that cloud, and the
   * environment's part of a role (its ARN, a token file). An empty object when nothing applies.
   */
  credentialsWithEnv(configured: unknown, env: NodeJS.ProcessEnv): unknown;
  /** The variables to set when neither the config nor the environment has credentials. */
  readonly credentialsEnvHint: string;
  /**
   * What requests of the source are signed with: fixed keys as they are; temporary ones from a
   * source shared (through `services.shared`) by every source with the same credentials.
   */
  credentialSource(configured: C, use: { sourceId: string; params: unknown }, services: CredentialServices): SharedCredentials<K>;
}

/** The non-empty values of `entries` (environment variables that are set). */
export function presentValues(entries: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(entries).filter((e): e is [string, string] => Boolean(e[1])));
}
