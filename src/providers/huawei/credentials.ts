import { z } from 'zod';
import { credentialForms } from '../../credentials/index.js';

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

/**
 * An IAM user's password, from which the archiver obtains IAM tokens itself (POST /v3/auth/tokens)
 * and obtains a new one well before the 24 hours are over. With `agency`, the user's token then
 * obtains an agency token of the delegating account (methods ["assume_role"]).
 */
export const huaweiIamSchema = z
  .object({
    /** IAM endpoint. @defaultValue https://iam.myhuaweicloud.com (or iam.<region>.myhuaweicloud.com) */
    endpoint: z.string().url('expected a URL such as https://iam.cn-north-4.myhuaweicloud.com').optional(),
    /** Account (domain) name the IAM user belongs to. */
    domain: z.string().min(1),
    /** IAM user name. */
    user: z.string().min(1),
    password: z.string().min(1, 'password is empty (is the file or environment variable set?)'),
    agency: z
      .object({
        /** Account (domain) name of the delegating party; or `domainId`. */
        domain: z.string().min(1).optional(),
        domainId: z.string().min(1).optional(),
        /** Agency name created by the delegating account. */
        name: z.string().min(1),
      })
      .strict()
      .refine((agency) => (agency.domain === undefined) !== (agency.domainId === undefined), {
        message: 'give one of domain or domainId (the delegating account)',
      })
      .optional(),
  })
  .strict();

export type HuaweiIam = z.infer<typeof huaweiIamSchema>;

/**
 * `sources[].credentials` as written: fixed AK/SK or token, or an IAM user whose tokens the
 * archiver obtains and refreshes (scoped to the source's project).
 */
export const huaweiCredentialsConfigSchema = credentialForms(huaweiCredentialsSchema, { iam: huaweiIamSchema });

export type HuaweiCredentialsConfig = z.infer<typeof huaweiCredentialsConfigSchema>;

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
