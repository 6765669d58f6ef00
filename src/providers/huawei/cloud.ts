import { presentValues, type Cloud } from '../cloud.js';
import { huaweiCredentialsSchema, type HuaweiCredentials } from './credentials.js';

/** Huawei Cloud: AK/SK or an IAM token, or those of the SDK's environment variables. */
export const huaweiCloud: Cloud<HuaweiCredentials> = {
  id: 'huawei',
  credentialsSchema: huaweiCredentialsSchema,
  credentialsFromEnv: (env) =>
    env.HUAWEICLOUD_SDK_TOKEN
      ? { token: env.HUAWEICLOUD_SDK_TOKEN }
      : presentValues({ ak: env.HUAWEICLOUD_SDK_AK, sk: env.HUAWEICLOUD_SDK_SK, securityToken: env.HUAWEICLOUD_SDK_SECURITY_TOKEN }),
  credentialsEnvHint: 'HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (or HUAWEICLOUD_SDK_TOKEN)',
};
