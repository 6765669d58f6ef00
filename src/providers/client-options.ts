import type { HttpClient, RetryPolicy } from '../http/index.js';
import type { Logger } from '../observability/index.js';
import type { ProviderContext, SourceSpec } from './provider.js';

/**
 * What every cloud's API client takes from the drain it serves: the shared HTTP pool, the retry
 * policy, the abort signal and logger, and the source and provider ids its errors and log lines
 * name. Each client adds its own endpoint, credentials and signing details.
 */
export interface ProviderClientOptions {
  http: HttpClient;
  retry: RetryPolicy;
  /** Source id, named in errors and logs. */
  source: string;
  /** Provider id, named in errors and logs. */
  provider: string;
  signal: AbortSignal;
  logger: Logger;
  /** Per-request timeout of this source (`sources[].timeout`); the HTTP client's own when unset. */
  timeoutMs?: number;
}

/** The {@link ProviderClientOptions} for one drain of `source`. */
export function providerClientOptions(source: SourceSpec<unknown, unknown>, context: ProviderContext): ProviderClientOptions {
  return {
    http: context.http,
    retry: context.retry,
    source: source.id,
    provider: source.provider,
    signal: context.signal,
    logger: context.logger,
    timeoutMs: source.timeoutMs,
  };
}
