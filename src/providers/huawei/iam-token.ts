import { z } from 'zod';
import type { CredentialIssuer, CredentialServices } from '../../credentials/index.js';
import { ProviderResponseError } from '../../errors/index.js';
import { JsonApiClient } from '../../http/index.js';
import type { HuaweiIam, HuaweiTokenCredentials } from './credentials.js';
import { huaweiDialect } from './error-mapping.js';

const DEFAULT_IAM_ENDPOINT = 'https://iam.myhuaweicloud.com';

const tokenAnswerSchema = z.object({
  token: z.object({
    expires_at: z.string().refine((text) => Number.isFinite(Date.parse(text)), 'expected an ISO-8601 date'),
    issued_at: z.string().optional(),
    methods: z.array(z.string()).optional(),
  }),
});

type Scope = { project: { id: string } } | { domain: { name: string } };

/**
 * IAM tokens obtained by the archiver: an IAM user's password token (`Obtaining a User Token
 * Through Password Authentication`), or, with `agency`, that token used to obtain an agency token
 * of the delegating account (`Obtaining an Agency Token`). Scoped to the source's project.
 */
export function iamTokenIssuer(
  config: HuaweiIam,
  projectId: string,
  services: CredentialServices,
): CredentialIssuer<HuaweiTokenCredentials> {
  const endpoint = config.endpoint ?? DEFAULT_IAM_ENDPOINT;
  const agency = config.agency;
  const describe = agency
    ? `IAM agency token ${agency.domain ?? agency.domainId}/${agency.name} (as ${config.domain}/${config.user}, project ${projectId})`
    : `IAM token ${config.domain}/${config.user} (project ${projectId})`;

  const obtain = async (body: unknown, userToken: string | undefined, signal: AbortSignal | undefined, secrets: string[]) => {
    const core = new JsonApiClient(
      {
        http: services.http,
        retry: services.retry,
        source: describe,
        provider: 'iam',
        signal: signal ?? new AbortController().signal,
        logger: services.logger,
      },
      huaweiDialect,
    );
    const answer = await core.call(
      'POST /v3/auth/tokens',
      async () => ({
        request: {
          method: 'POST',
          // nocatalog: the service catalog is large and the archiver needs none of it.
          url: new URL('/v3/auth/tokens?nocatalog=true', endpoint),
          headers: {
            'content-type': 'application/json;charset=utf8',
            ...(userToken ? { 'x-auth-token': userToken } : {}),
          },
          body: JSON.stringify(body),
        },
        secrets,
        credentialKind: 'token',
      }),
      tokenAnswerSchema,
    );
    const token = answer.headers['x-subject-token'];
    if (!token)
      throw new ProviderResponseError(`${describe}: IAM answered no X-Subject-Token header`, { source: describe, provider: 'iam' });
    return { credentials: { token }, expiresAt: Date.parse(answer.body.token.expires_at) };
  };

  const passwordToken = (scope: Scope, signal: AbortSignal | undefined) =>
    obtain(
      {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { domain: { name: config.domain }, name: config.user, password: config.password } },
          },
          scope,
        },
      },
      undefined,
      signal,
      [config.password],
    );

  return {
    describe,
    identity: `iam:${config.domain}/${config.user}`,
    hint: agency
      ? 'check the IAM user’s domain, name and password, that it holds the Agent Operator role, and the agency name and delegating account'
      : 'check the IAM user’s domain (account name), name and password, and that the user may access this project',
    async issue(signal) {
      if (!agency) return await passwordToken({ project: { id: projectId } }, signal);
      const user = await passwordToken({ domain: { name: config.domain } }, signal);
      const delegating = agency.domainId ? { domain_id: agency.domainId } : { domain_name: agency.domain };
      return await obtain(
        {
          auth: {
            identity: { methods: ['assume_role'], assume_role: { ...delegating, agency_name: agency.name } },
            scope: { project: { id: projectId } },
          },
        },
        user.credentials.token,
        signal,
        [config.password, user.credentials.token],
      );
    },
  };
}
