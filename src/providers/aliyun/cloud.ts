import { fixedCredentials, RefreshingCredentials, type CredentialIssuer, type CredentialServices } from '../../credentials/index.js';
import { presentValues, type Cloud } from '../cloud.js';
import { aliyunCredentialsConfigSchema, type AliyunCredentials, type AliyunCredentialsConfig } from './credentials.js';
import { ecsRamRoleIssuer } from './ecs-ram-role.js';
import { assumeRoleIssuer, oidcIssuer } from './sts.js';

/**
 * Alibaba Cloud: an AccessKey, an STS role (AssumeRole, AssumeRoleWithOIDC) or the ECS instance
 * role; without credentials, the default credential chain's environment in its order:
 * ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET, then the OIDC role of ACK RRSA, then ALIBABA_CLOUD_ECS_METADATA.
 */
export const aliyunCloud: Cloud<AliyunCredentials, AliyunCredentialsConfig> = {
  id: 'aliyun',
  credentialsSchema: aliyunCredentialsConfigSchema,
  credentialsWithEnv(configured, env) {
    const keys = presentValues({
      accessKeyId: env.ALIBABA_CLOUD_ACCESS_KEY_ID,
      accessKeySecret: env.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
      securityToken: env.ALIBABA_CLOUD_SECURITY_TOKEN,
    });
    const oidc = presentValues({
      roleArn: env.ALIBABA_CLOUD_ROLE_ARN,
      oidcProviderArn: env.ALIBABA_CLOUD_OIDC_PROVIDER_ARN,
      oidcTokenFile: env.ALIBABA_CLOUD_OIDC_TOKEN_FILE,
      roleSessionName: env.ALIBABA_CLOUD_ROLE_SESSION_NAME,
    });
    if (configured === undefined) {
      if (keys.accessKeyId || keys.accessKeySecret) return keys;
      if (oidc.roleArn && oidc.oidcProviderArn && oidc.oidcTokenFile) return { oidc };
      if (env.ALIBABA_CLOUD_ECS_METADATA) return { ecsRamRole: { roleName: env.ALIBABA_CLOUD_ECS_METADATA } };
      return {};
    }
    if (!isObject(configured)) return configured;
    if (isObject(configured.assumeRole)) return { ...configured, assumeRole: { ...keys, ...configured.assumeRole } };
    if (isObject(configured.oidc)) return { ...configured, oidc: { ...oidc, ...configured.oidc } };
    return configured;
  },
  credentialsEnvHint:
    'ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET (or the RRSA role: ALIBABA_CLOUD_ROLE_ARN, ' +
    'ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE; or ALIBABA_CLOUD_ECS_METADATA)',
  credentialSource(configured, use, services) {
    const refreshing = (issuer: (s: CredentialServices) => CredentialIssuer<AliyunCredentials>) =>
      services
        .shared(`aliyun:${JSON.stringify(configured)}`, () => new RefreshingCredentials(issuer(services), services))
        .usedBy(use.sourceId);
    if ('assumeRole' in configured) return refreshing((s) => assumeRoleIssuer(configured.assumeRole, s));
    if ('oidc' in configured) return refreshing((s) => oidcIssuer(configured.oidc, s));
    if ('ecsRamRole' in configured) return refreshing((s) => ecsRamRoleIssuer(configured.ecsRamRole, s));
    return fixedCredentials(configured, configured.accessKeyId).usedBy(use.sourceId);
  },
};

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
