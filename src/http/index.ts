export { HttpClient, type HttpClientOptions, type HttpRequest, type HttpResponse } from './client.js';
export { parseJsonBody } from './json.js';
export { proxyEnvOf, describeProxy, agentProxyOptions, type ProxyEnv, type ProxyEnvIssue } from './proxy-env.js';
export {
  withRetry,
  backoffDelay,
  throttleDelay,
  retryDelay,
  defaultRetryPolicy,
  type RetryPolicy,
  type RetryHooks,
} from './retry.js';
export { CallLog, type CallsTaken } from './call-log.js';
export {
  JsonApiClient,
  scrubSecrets,
  retryAfterMs,
  type JsonClientOptions,
  type JsonCallResult,
  type CloudDialect,
  type FailedAnswer,
  type PreparedRequest,
  type AttemptPermit,
  type BodyReader,
} from './json-client.js';
export { staticCredentials, credentialSourceOf, type CredentialSource } from './credential-source.js';
