import { z } from 'zod';
import { credentialForms } from '../../credentials/index.js';

/**
 * An AccessKey pair, plus the STS token when the pair is temporary: what every request is signed
 * with. Strict so a misspelt key (`accessKeySecert`) is reported, not ignored.
 */
export const aliyunCredentialsSchema = z
  .object({
    accessKeyId: z.string().min(1, 'accessKeyId is empty (is the environment variable set?)'),
    accessKeySecret: z.string().min(1, 'accessKeySecret is empty (is the environment variable set?)'),
    securityToken: z.string().min(1).optional(),
  })
  .strict();

export type AliyunCredentials = z.infer<typeof aliyunCredentialsSchema>;

const roleArn = z.string().regex(/^acs:ram::\d+:role\/[^/\s]+$/, 'expected acs:ram::<account id>:role/<role name>');
const roleSessionName = z.string().regex(/^[a-zA-Z0-9.@_-]{2,32}$/, 'expected 2-32 letters, digits, . @ - _');
/** STS answers 900 s at least; the most is the role's MaxSessionDuration (up to 12 h). */
const durationSeconds = z.number().int().min(900, 'at least 900 (15 minutes)').max(43_200, 'at most 43200 (12 hours)');
const stsEndpoint = z.string().url('expected a URL such as https://sts.cn-hangzhou.aliyuncs.com');

/** STS AssumeRole with a base AccessKey (a RAM user's), refreshed before the session expires. */
export const aliyunAssumeRoleSchema = z
  .object({
    roleArn,
    roleSessionName: roleSessionName.default('log-archiver'),
    durationSeconds: durationSeconds.default(3600),
    externalId: z
      .string()
      .regex(/^[\w+=,.@:/-]{2,1224}$/)
      .optional(),
    /** A policy narrowing the session's permissions (JSON text). */
    policy: z.string().min(1).max(2048).optional(),
    /** @defaultValue https://sts.aliyuncs.com (or sts.<ALIBABA_CLOUD_STS_REGION>.aliyuncs.com) */
    endpoint: stsEndpoint.optional(),
    /** The base AccessKey that may assume the role; from ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET when absent. */
    accessKeyId: z.string().min(1, 'accessKeyId is empty: set it, or ALIBABA_CLOUD_ACCESS_KEY_ID'),
    accessKeySecret: z.string().min(1, 'accessKeySecret is empty: set it, or ALIBABA_CLOUD_ACCESS_KEY_SECRET'),
    securityToken: z.string().min(1).optional(),
  })
  .strict();

/**
 * STS AssumeRoleWithOIDC (ACK RRSA, any OIDC issuer RAM trusts): the token file is read again at
 * every refresh, as Kubernetes rotates projected service-account tokens.
 */
export const aliyunOidcSchema = z
  .object({
    roleArn: roleArn.describe('ALIBABA_CLOUD_ROLE_ARN'),
    oidcProviderArn: z
      .string()
      .regex(/^acs:ram::\d+:oidc-provider\/[^/\s]+$/, 'expected acs:ram::<account id>:oidc-provider/<name>')
      .describe('ALIBABA_CLOUD_OIDC_PROVIDER_ARN'),
    oidcTokenFile: z.string().min(1).describe('ALIBABA_CLOUD_OIDC_TOKEN_FILE'),
    roleSessionName: roleSessionName.default('log-archiver'),
    durationSeconds: durationSeconds.default(3600),
    policy: z.string().min(1).max(2048).optional(),
    endpoint: stsEndpoint.optional(),
  })
  .strict();

/** The RAM role attached to this ECS instance, from the instance metadata service. */
export const aliyunEcsRamRoleSchema = z
  .object({
    /** @defaultValue ALIBABA_CLOUD_ECS_METADATA, else the role the metadata service names */
    roleName: z.string().min(1).optional(),
    /** @defaultValue http://100.100.100.200 */
    metadataEndpoint: z.string().url().optional(),
    /**
     * Security hardening mode: a session token (`PUT /latest/api/token`) on every metadata
     * request, which instances created with HttpTokens=required demand. @defaultValue true
     */
    hardened: z.boolean().default(true),
  })
  .strict();

/**
 * `sources[].credentials` of an Alibaba Cloud source: an AccessKey (long-lived, or an STS token
 * obtained elsewhere), or one of the ways Alibaba Cloud issues temporary keys, which the archiver
 * obtains and refreshes itself.
 */
export const aliyunCredentialsConfigSchema = credentialForms(aliyunCredentialsSchema, {
  assumeRole: aliyunAssumeRoleSchema,
  oidc: aliyunOidcSchema,
  ecsRamRole: aliyunEcsRamRoleSchema,
});

export type AliyunCredentialsConfig = z.infer<typeof aliyunCredentialsConfigSchema>;
export type AliyunAssumeRole = z.infer<typeof aliyunAssumeRoleSchema>;
export type AliyunOidc = z.infer<typeof aliyunOidcSchema>;
export type AliyunEcsRamRole = z.infer<typeof aliyunEcsRamRoleSchema>;
