import { z } from 'zod';

/**
 * `sources[].credentials` of an Alibaba Cloud source: an AccessKey pair, plus the STS token when
 * the pair is temporary. Strict so a misspelt key (`accessKeySecert`) is reported, not ignored.
 */
export const aliyunCredentialsSchema = z
  .object({
    accessKeyId: z.string().min(1, 'accessKeyId is empty (is the environment variable set?)'),
    accessKeySecret: z.string().min(1, 'accessKeySecret is empty (is the environment variable set?)'),
    securityToken: z.string().min(1).optional(),
  })
  .strict();

export type AliyunCredentials = z.infer<typeof aliyunCredentialsSchema>;
