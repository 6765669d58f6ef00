import type { ZodType, ZodTypeDef } from 'zod';
import type { Logger } from '../observability/index.js';
import type { HttpClient, RetryPolicy } from '../http/index.js';
import type { RateLimiter } from '../ratelimit/index.js';

/** One record as a provider hands it to the pipeline. */
export interface ProviderRecord {
  /** Stable for the same record across polls and retries; unique within the source. */
  id: string;
  /** Names the stream the record came from (`{ runId: 10001 }`). */
  context: Record<string, unknown>;
  /** The provider's item verbatim (DataWorks: `{ offset, line }`). */
  record: unknown;
}

/** What one provider call (or a few, for a DataWorks line longer than a segment) produced. */
export interface ProviderPage<C> {
  records: ProviderRecord[];
  /** Position after these records: resuming from it neither repeats nor skips a record. */
  checkpoint: C;
  /** Provider request ids, kept in the manifest for an auditor. */
  requestIds: string[];
  /** Uncompressed bytes the provider sent for this page, for metrics. */
  bytes: number;
}

/** What a provider may use while reading one source; built once per drain. */
export interface ProviderContext {
  sourceId: string;
  http: HttpClient;
  /** Shared limiter for quotas that span workers (Data Security Center: 10 calls/s per account). */
  rateLimiter: RateLimiter;
  /** Not bound to the source: provider log lines name `source` themselves, as their clients do. */
  logger: Logger;
  signal: AbortSignal;
  /** Backoff for retried calls; tests shorten it. */
  retry: RetryPolicy;
  /** Clock in ms; injectable so window logic can be tested. */
  now: () => number;
}

/** A source's configuration as the pipeline resolved it (env substituted, schema-checked). */
export interface SourceSpec<P, K> {
  id: string;
  provider: string;
  endpoint: string | undefined;
  credentials: K;
  params: P;
  /** Request timeout in ms for this source's calls. */
  timeoutMs: number;
}

/** Progress the `status` command reports beyond the checkpoint itself (e.g. DWS records still RUNNING). */
export interface CheckpointSummary {
  /** Short human text, e.g. `3 streams; 2 records pending (RUNNING)`. */
  text: string;
  pending?: unknown[];
}

/**
 * A provider knows how to ask its API for the next page and what a record is — nothing else.
 *
 * Contract: `pages(from)` yields pages in order; each page's `checkpoint` covers exactly the
 * records of that page and those before it. The reader may keep in-memory state for one drain
 * (which stream it is on, a page token shortcut), but everything needed to resume after a crash
 * must be in the checkpoint. A page that fails raises a typed ProviderError after the client's
 * retries; it is never returned empty. The iterator ends when the source is caught up.
 *
 * Deliberately not part of it: batching, gzip, storage, checkpoint persistence, leases, scheduling.
 */
export interface Provider<P = unknown, C = unknown, K = unknown> {
  readonly id: string;
  readonly cloud: 'aliyun' | 'huawei';
  /** Schema of `sources[].params`; reports problems by path. */
  readonly paramsSchema: ZodType<P, ZodTypeDef, unknown>;
  /** Schema of `sources[].credentials` (Alibaba AccessKey, Huawei AK/SK or token). */
  readonly credentialsSchema: ZodType<K, ZodTypeDef, unknown>;
  /** Schema of a persisted checkpoint, checked when it is read back. */
  readonly checkpointSchema: ZodType<C, ZodTypeDef, unknown>;
  /** Default endpoint (`https://oos.cn-hangzhou.aliyuncs.com`) for a source that names none, when params tell the region. */
  defaultEndpoint(params: P): string | undefined;
  initialCheckpoint(params: P, now: number): C;
  pages(source: SourceSpec<P, K>, from: C, context: ProviderContext): AsyncIterable<ProviderPage<C>>;
  summarize?(checkpoint: C): CheckpointSummary;
}
