export { HuaweiClient, type HuaweiClientOptions, type HuaweiCallResult } from './client.js';
export { huaweiCloud } from './cloud.js';
export {
  huaweiCredentialsSchema,
  huaweiAkSkCredentialsSchema,
  huaweiTokenCredentialsSchema,
  isAkSk,
  secretsOf,
  type HuaweiCredentials,
  type HuaweiAkSkCredentials,
  type HuaweiTokenCredentials,
} from './credentials.js';
export { huaweiEndpoint, type HuaweiService } from './endpoints.js';
export {
  mapHuaweiError,
  huaweiErrorBodySchema,
  huaweiDialect,
  HUAWEI_AUTH_CODES,
  HUAWEI_THROTTLE_CODE,
  DEFAULT_THROTTLE_FLOOR_MS,
  type HuaweiErrorBody,
} from './error-mapping.js';
export {
  signRequest,
  computeSignature,
  canonicalRequest,
  encodeQuery,
  queryFromSearchParams,
  parseAuthorization,
  formatSdkDate,
  parseSdkDate,
  huaweiUrlEncode,
  SIGNING_ALGORITHM,
  EMPTY_BODY_SHA256,
  type AkSkCredentials,
  type SigningInput,
  type RequestToSign,
  type SignOptions,
} from './signer.js';
export { huaweiClientForSource, huaweiDefaultEndpoint, type HuaweiSourceParams } from './source-client.js';
