/** What an operator would set, as each example's header says (made-up values: the examples are validated, never run against a cloud). */
export const EXAMPLE_ENV: NodeJS.ProcessEnv = {
  ARCHIVE_BUCKET: 'compliance-logs',
  ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAI-example-id',
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'example-secret',
  HUAWEICLOUD_SDK_AK: 'example-ak',
  HUAWEICLOUD_SDK_SK: 'example-sk',
  LOG_ARCHIVER_MANIFEST_KEY: 'example-hmac-key',
};
