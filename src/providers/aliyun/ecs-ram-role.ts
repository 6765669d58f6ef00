import { z } from 'zod';
import type { CredentialIssuer, CredentialServices } from '../../credentials/index.js';
import { ProviderAuthError, ProviderResponseError, ProviderServerError, type ProviderErrorDetails } from '../../errors/index.js';
import { parseJsonBody, withRetry, type HttpRequest } from '../../http/index.js';
import type { AliyunCredentials, AliyunEcsRamRole } from './credentials.js';

const DEFAULT_METADATA_ENDPOINT = 'http://100.100.100.200';
const CREDENTIALS_PATH = '/latest/meta-data/ram/security-credentials/';
/** Session token lifetime asked of the metadata service: one is fetched per refresh, so short is enough. */
const METADATA_TOKEN_TTL_SECONDS = 300;
/** The metadata service answers on the host itself; the SDKs give it 5 s. */
const METADATA_TIMEOUT_MS = 5_000;

const ramRoleAnswerSchema = z.object({
  Code: z.literal('Success'),
  AccessKeyId: z.string().min(1),
  AccessKeySecret: z.string().min(1),
  SecurityToken: z.string().min(1),
  Expiration: z.string().refine((text) => Number.isFinite(Date.parse(text)), 'expected an ISO-8601 date'),
  LastUpdated: z.string().optional(),
});

/**
 * The instance RAM role's temporary keys from the ECS metadata service (security hardening mode:
 * a session token from `PUT /latest/api/token`, then `GET …/ram/security-credentials/<role>`).
 */
export function ecsRamRoleIssuer(
  config: AliyunEcsRamRole,
  services: CredentialServices,
  env: NodeJS.ProcessEnv = process.env,
): CredentialIssuer<AliyunCredentials> {
  const base = config.metadataEndpoint ?? DEFAULT_METADATA_ENDPOINT;
  const configuredRole = config.roleName ?? env.ALIBABA_CLOUD_ECS_METADATA;
  const describe = `ECS RAM role ${configuredRole ?? '(attached to the instance)'}`;
  const details: ProviderErrorDetails = { source: describe, provider: 'ecs-metadata' };

  const send = async (request: Omit<HttpRequest, 'url'> & { path: string }, signal: AbortSignal | undefined): Promise<string> => {
    const url = new URL(request.path, base);
    const response = await services.http.send(
      {
        method: request.method,
        url,
        headers: request.headers,
        timeoutMs: METADATA_TIMEOUT_MS,
        direct: true,
        ...(signal ? { signal } : {}),
      },
      details,
    );
    if (response.statusCode === 200) return response.body;
    const what =
      `${describe}: ${request.method} ${request.path} answered HTTP ${response.statusCode}` +
      (response.statusCode === 404 ? ' (no such RAM role on this instance)' : '');
    if (response.statusCode >= 500) throw new ProviderServerError(what, { ...details, statusCode: response.statusCode });
    throw new ProviderAuthError(what, {
      ...details,
      statusCode: response.statusCode,
      hint:
        response.statusCode === 404
          ? 'no such RAM role on this instance: attach one (ECS console: Instance RAM role) or correct roleName'
          : 'the metadata service refused the request: check the hardened setting against the instance (HttpTokens)',
    });
  };

  return {
    describe,
    identity: `ecs-ram-role:${configuredRole ?? ''}`,
    hint: 'attach a RAM role to this ECS instance, and check that the archiver runs on the instance (not in a network namespace without 100.100.100.200)',
    async issue(signal) {
      return await withRetry(
        async () => {
          const headers: Record<string, string> = {};
          if (config.hardened) {
            const token = await send(
              {
                method: 'PUT',
                path: '/latest/api/token',
                headers: { 'x-aliyun-ecs-metadata-token-ttl-seconds': String(METADATA_TOKEN_TTL_SECONDS) },
              },
              signal,
            );
            headers['x-aliyun-ecs-metadata-token'] = token.trim();
          }
          const role = configuredRole ?? (await send({ method: 'GET', path: CREDENTIALS_PATH, headers }, signal)).trim().split('\n')[0]!;
          if (!role)
            throw new ProviderAuthError(`${describe}: the instance has no RAM role`, {
              ...details,
              hint: 'attach a RAM role to the instance',
            });
          const text = await send({ method: 'GET', path: `${CREDENTIALS_PATH}${encodeURIComponent(role)}`, headers }, signal);
          const parsed = ramRoleAnswerSchema.safeParse(parseJsonBody(text, details));
          if (!parsed.success)
            throw new ProviderResponseError(`${describe}: unexpected credentials document (${parsed.error.issues[0]?.message})`, details);
          const answer = parsed.data;
          return {
            credentials: { accessKeyId: answer.AccessKeyId, accessKeySecret: answer.AccessKeySecret, securityToken: answer.SecurityToken },
            expiresAt: Date.parse(answer.Expiration),
          };
        },
        services.retry,
        signal ? { signal } : {},
      );
    },
  };
}
