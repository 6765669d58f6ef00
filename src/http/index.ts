export { HttpClient, type HttpClientOptions, type HttpRequest, type HttpResponse } from './client.js';
export { parseJsonBody } from './json.js';
export { withRetry, backoffDelay, defaultRetryPolicy, type RetryPolicy, type RetryHooks } from './retry.js';
