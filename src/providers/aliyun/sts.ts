import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { CredentialIssuer, CredentialServices, IssuedCredentials } from '../../credentials/index.js';
import { ArchiverError } from '../../errors/index.js';
import { JsonApiClient } from '../../http/index.js';
import { AliyunRpcClient } from './client.js';
import type { AliyunAssumeRole, AliyunCredentials, AliyunOidc } from './credentials.js';
import { aliyunDialect } from './error-mapping.js';

/** API version of Security Token Service. */
export const STS_VERSION = '2015-04-01';
const DEFAULT_STS_ENDPOINT = 'https://sts.aliyuncs.com';

/** `Credentials` of an AssumeRole / AssumeRoleWithOIDC answer. */
const stsAnswerSchema = z.object({
  RequestId: z.string().optional(),
  Credentials: z.object({
    AccessKeyId: z.string().min(1),
    AccessKeySecret: z.string().min(1),
    SecurityToken: z.string().min(1),
    Expiration: z.string().refine((text) => Number.isFinite(Date.parse(text)), 'expected an ISO-8601 date'),
  }),
});

/** The STS endpoint: configured, or regional when ALIBABA_CLOUD_STS_REGION says so, or the central one. */
export function stsEndpoint(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (configured) return configured;
  const region = env.ALIBABA_CLOUD_STS_REGION;
  return region ? `https://sts.${region}.aliyuncs.com` : DEFAULT_STS_ENDPOINT;
}

function issued(answer: z.infer<typeof stsAnswerSchema>): IssuedCredentials<AliyunCredentials> {
  const { AccessKeyId, AccessKeySecret, SecurityToken, Expiration } = answer.Credentials;
  return {
    credentials: { accessKeyId: AccessKeyId, accessKeySecret: AccessKeySecret, securityToken: SecurityToken },
    expiresAt: Date.parse(Expiration),
  };
}

function clientOptions(services: CredentialServices, label: string, signal: AbortSignal | undefined) {
  return {
    http: services.http,
    retry: services.retry,
    source: label,
    provider: 'sts',
    signal: signal ?? new AbortController().signal,
    logger: services.logger,
  };
}

/** STS AssumeRole, signed with the base AccessKey (ACS3-HMAC-SHA256, like every other call). */
export function assumeRoleIssuer(config: AliyunAssumeRole, services: CredentialServices): CredentialIssuer<AliyunCredentials> {
  const describe = `AssumeRole ${config.roleArn}`;
  return {
    describe,
    identity: config.roleArn,
    hint:
      'check that the base AccessKey may assume the role (AliyunSTSAssumeRoleAccess), that the role trusts its account, ' +
      'and durationSeconds against the role’s MaxSessionDuration',
    async issue(signal) {
      const base: AliyunCredentials = {
        accessKeyId: config.accessKeyId,
        accessKeySecret: config.accessKeySecret,
        ...(config.securityToken ? { securityToken: config.securityToken } : {}),
      };
      const client = new AliyunRpcClient({
        ...clientOptions(services, describe, signal),
        endpoint: stsEndpoint(config.endpoint),
        credentials: base,
        version: STS_VERSION,
      });
      const answer = await client.call(
        'AssumeRole',
        {
          RoleArn: config.roleArn,
          RoleSessionName: config.roleSessionName,
          DurationSeconds: config.durationSeconds,
          ExternalId: config.externalId,
          Policy: config.policy,
        },
        stsAnswerSchema,
      );
      return issued(answer.body);
    },
  };
}

/**
 * STS AssumeRoleWithOIDC: anonymous (the OIDC token is the proof), parameters in a form body as
 * the official credential SDKs send them, the token file read afresh each time.
 */
export function oidcIssuer(config: AliyunOidc, services: CredentialServices): CredentialIssuer<AliyunCredentials> {
  const describe = `AssumeRoleWithOIDC ${config.roleArn}`;
  return {
    describe,
    identity: config.roleArn,
    hint:
      'check roleArn and oidcProviderArn (ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN), that the role trusts ' +
      'that OIDC provider for this service account, and that the token file is mounted (ALIBABA_CLOUD_OIDC_TOKEN_FILE)',
    async issue(signal) {
      let token: string;
      try {
        token = (await readFile(config.oidcTokenFile, 'utf8')).trim();
      } catch (cause) {
        throw new ArchiverError(`cannot read the OIDC token file ${config.oidcTokenFile} (${(cause as NodeJS.ErrnoException).code})`, {
          code: 'ERR_CREDENTIALS_OIDC_TOKEN',
          hint: 'mount the service account token (ACK RRSA does) and point oidcTokenFile or ALIBABA_CLOUD_OIDC_TOKEN_FILE at it',
          // Kubernetes writes the projected token atomically, but it may not be there yet at start.
          retryable: true,
          cause,
        });
      }
      const form = new URLSearchParams({
        RoleArn: config.roleArn,
        OIDCProviderArn: config.oidcProviderArn,
        OIDCToken: token,
        RoleSessionName: config.roleSessionName,
        DurationSeconds: String(config.durationSeconds),
        ...(config.policy ? { Policy: config.policy } : {}),
      });
      const core = new JsonApiClient(clientOptions(services, describe, signal), aliyunDialect);
      const answer = await core.call(
        'AssumeRoleWithOIDC',
        async () => {
          const url = new URL('/', stsEndpoint(config.endpoint));
          url.search = new URLSearchParams({
            Action: 'AssumeRoleWithOIDC',
            Format: 'JSON',
            Version: STS_VERSION,
            Timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
          }).toString();
          return {
            request: {
              method: 'POST',
              url,
              headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
              body: form.toString(),
            },
            secrets: [token],
          };
        },
        stsAnswerSchema,
      );
      return issued(answer.body);
    },
  };
}
