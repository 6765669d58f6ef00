import { z } from 'zod';

/** AK/SK pair, plus the security token when the pair is temporary (STS-style credentials). */
export const huaweiAkSkCredentialsSchema = z
  .object({
    ak: z.string().min(1, 'ak is empty (is the environment variable set?)'),
    sk: z.string().min(1, 'sk is empty (is the environment variable set?)'),
    securityToken: z.string().min(1).optional(),
  })
  .strict();

/** An IAM token (the `X-Subject-Token` IAM returned), sent as `X-Auth-Token`; tokens expire after 24 h. */
export const huaweiTokenCredentialsSchema = z
  .object({
    token: z.string().min(1, 'token is empty (is the environment variable set?)'),
  })
  .strict();

/**
 * `sources[].credentials` of a Huawei Cloud source: AK/SK (signed, SDK-HMAC-SHA256) or an IAM
 * token. Strict objects so a misspelt key (`secretKey`) is reported, not silently ignored.
 */
export const huaweiCredentialsSchema = z.union([huaweiAkSkCredentialsSchema, huaweiTokenCredentialsSchema]);

export type HuaweiAkSkCredentials = z.infer<typeof huaweiAkSkCredentialsSchema>;
export type HuaweiTokenCredentials = z.infer<typeof huaweiTokenCredentialsSchema>;
export type HuaweiCredentials = z.infer<typeof huaweiCredentialsSchema>;

/** True for AK/SK credentials, false for an IAM token. */
export function isAkSk(credentials: HuaweiCredentials): credentials is HuaweiAkSkCredentials {
  return 'ak' in credentials;
}

/** The secret strings of a credential set, for scrubbing provider messages before they reach an error. */
export function secretsOf(credentials: HuaweiCredentials): string[] {
  return isAkSk(credentials)
    ? [credentials.ak, credentials.sk, credentials.securityToken ?? ''].filter((s) => s.length > 0)
    : [credentials.token];
}
