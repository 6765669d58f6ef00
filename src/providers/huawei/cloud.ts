import { fixedCredentials, RefreshingCredentials } from '../../credentials/index.js';
import { presentValues, type Cloud } from '../cloud.js';
import { huaweiCredentialsConfigSchema, isAkSk, type HuaweiCredentials, type HuaweiCredentialsConfig } from './credentials.js';
import { iamTokenIssuer } from './iam-token.js';

/**
 * Huawei Cloud: AK/SK (temporary ones with their security token), an IAM token, or an IAM user
 * whose tokens (or agency tokens) the archiver obtains and refreshes; without credentials, the
 * SDK's environment variables.
 */
export const huaweiCloud: Cloud<HuaweiCredentials, HuaweiCredentialsConfig> = {
  id: 'huawei',
  credentialsSchema: huaweiCredentialsConfigSchema,
  credentialsWithEnv(configured, env) {
    if (configured !== undefined) return configured;
    return env.HUAWEICLOUD_SDK_TOKEN
      ? { token: env.HUAWEICLOUD_SDK_TOKEN }
      : presentValues({ ak: env.HUAWEICLOUD_SDK_AK, sk: env.HUAWEICLOUD_SDK_SK, securityToken: env.HUAWEICLOUD_SDK_SECURITY_TOKEN });
  },
  credentialsEnvHint: 'HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (or HUAWEICLOUD_SDK_TOKEN)',
  credentialSource(configured, use, services) {
    if (!('iam' in configured)) {
      return fixedCredentials<HuaweiCredentials>(configured, isAkSk(configured) ? configured.ak : 'token').usedBy(use.sourceId);
    }
    // Tokens are scoped to a project: sources of one user in two projects hold two tokens.
    const projectId = String((use.params as { projectId?: unknown }).projectId ?? '');
    return services
      .shared<HuaweiCredentials>(
        `huawei:${JSON.stringify(configured)}:${projectId}`,
        () => new RefreshingCredentials<HuaweiCredentials>(iamTokenIssuer(configured.iam, projectId, services), services),
      )
      .usedBy(use.sourceId);
  },
};
