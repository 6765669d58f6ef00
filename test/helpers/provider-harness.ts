import { HttpClient, type ProxyEnv, type RetryPolicy } from '../../src/http/index.js';
import { silentLogger, type Logger } from '../../src/observability/index.js';
import { providerContext, readPages, type ReadPage } from '../../src/providers/index.js';
import type { Provider, ProviderContext, ProviderRecord, ProviderServices, SourceSpec } from '../../src/providers/provider.js';
import { LocalRateLimiter, type RateLimiter } from '../../src/ratelimit/index.js';

/**
 * Drives a provider against a simulator without the drain pipeline: what tests and the bench
 * need to read every page of a source and compare it with expectedRecords().
 */

/** A short policy so injected faults cost milliseconds, not seconds. */
export const FAST_RETRY: RetryPolicy = { maxAttempts: 12, baseDelayMs: 5, maxDelayMs: 50, maxElapsedMs: 30_000 };

export interface HarnessContextOptions {
  sourceId?: string;
  retry?: RetryPolicy;
  rateLimiter?: RateLimiter;
  now?: () => number;
  logger?: Logger;
  /** Per-request timeout of the HTTP client (the `timeout` fault waits for it). @defaultValue 500 */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Proxies of the HTTP client (and of the SDK clients a provider builds beside it). */
  proxy?: ProxyEnv;
}

/** A ProviderContext on its own HTTP pool (`services` are its parts); `close()` releases it. */
export type HarnessContext = ProviderContext & { services: ProviderServices; close(): Promise<void> };

/** A ProviderContext on its own HTTP pool; `close()` releases it. */
export function harnessContext(options: HarnessContextOptions = {}): HarnessContext {
  const http = new HttpClient({
    timeoutMs: options.timeoutMs ?? 500,
    maxBodyBytes: 2 * 1024 * 1024,
    ...(options.proxy ? { proxy: options.proxy } : {}),
  });
  const services: ProviderServices = {
    http,
    rateLimiter: options.rateLimiter ?? new LocalRateLimiter(),
    logger: options.logger ?? silentLogger(),
    signal: options.signal ?? new AbortController().signal,
    retry: options.retry ?? FAST_RETRY,
    now: options.now ?? Date.now,
  };
  return { ...providerContext(services, { id: options.sourceId ?? 'test-source', provider: '' }), services, close: () => http.close() };
}

/** A SourceSpec for `provider` pointing at `endpoint`. */
export function harnessSource<P, K>(
  provider: Provider<P, unknown, K>,
  endpoint: string,
  credentials: K,
  params: unknown,
  id = 'test-source',
): SourceSpec<P, K> {
  return { id, provider: provider.id, endpoint, credentials, params: provider.paramsSchema.parse(params), timeoutMs: 500 };
}

/**
 * Reads every page from `from` until the provider is caught up, as the drain does (no-op pages
 * folded, request ids from the call log); checkpoints round-trip through JSON and the schema.
 */
export async function readAllPages<P, C, K>(
  provider: Provider<P, C, K>,
  source: SourceSpec<P, K>,
  from: C,
  context: ProviderContext | HarnessContext,
): Promise<ReadPage<C>[]> {
  const bound = 'services' in context ? providerContext(context.services, source) : context;
  const pages: ReadPage<C>[] = [];
  for await (const page of readPages(provider, source, from, bound)) {
    pages.push({ ...page, checkpoint: provider.checkpointSchema.parse(JSON.parse(JSON.stringify(page.checkpoint))) });
  }
  return pages;
}

/** The records of pages, flattened and stripped to what the archive keeps. */
export function recordsOf(pages: readonly { records: readonly ProviderRecord[] }[]): ProviderRecord[] {
  return pages.flatMap((p) => p.records.map((r) => ({ id: r.id, context: r.context, record: r.record })));
}
