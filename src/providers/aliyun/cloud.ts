import { presentValues, type Cloud } from '../cloud.js';
import { aliyunCredentialsSchema, type AliyunCredentials } from './credentials.js';

/** Alibaba Cloud: AccessKey credentials, or those of the default credential chain's environment variables. */
export const aliyunCloud: Cloud<AliyunCredentials> = {
  id: 'aliyun',
  credentialsSchema: aliyunCredentialsSchema,
  credentialsFromEnv: (env) =>
    presentValues({
      accessKeyId: env.ALIBABA_CLOUD_ACCESS_KEY_ID,
      accessKeySecret: env.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
      securityToken: env.ALIBABA_CLOUD_SECURITY_TOKEN,
    }),
  credentialsEnvHint: 'ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET',
};
