export { AliyunRpcClient, type AliyunRpcClientOptions, type AliyunCallResult, type AliyunParamValue } from './client.js';
export { aliyunCloud } from './cloud.js';
export { aliyunCredentialsSchema, type AliyunCredentials } from './credentials.js';
export { aliyunEndpoint, type AliyunProduct } from './endpoints.js';
export { mapAliyunError, retryAfterFromHeaders, aliyunErrorBodySchema, aliyunDialect, type AliyunErrorBody } from './error-mapping.js';
export {
  signRpcRequest,
  acs3Authorization,
  canonicalQueryString,
  acsPercentEncode,
  acsDate,
  ACS3_ALGORITHM,
  EMPTY_PAYLOAD_SHA256,
  type AliyunSigningCredentials,
  type AliyunRpcRequestToSign,
  type SignedAliyunRequest,
} from './signer.js';
export { aliyunClientForSource } from './source-client.js';
