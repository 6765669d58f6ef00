import type { ZodType, ZodTypeDef } from 'zod';
import type { CompletenessFigure } from '../completeness/index.js';
import type { ProviderResponseError, ProviderStreamError } from '../errors/index.js';
import type { CallLog, HttpClient, RetryPolicy } from '../http/index.js';
import type { Logger } from '../observability/index.js';
import type { RateLimiter } from '../ratelimit/index.js';
import type { SharedCredentials } from '../credentials/index.js';
import type { Cloud } from './cloud.js';

export type { CompletenessFigure } from '../completeness/index.js';

/** One record as a provider hands it to the pipeline. */
export interface ProviderRecord {
  /** Stable for the same record across polls and retries; unique within the source. */
  id: string;
  /** Names the stream the record came from (`{ runId: 10001 }`). */
  context: Record<string, unknown>;
  /** The provider's item verbatim (DataWorks: `{ offset, line }`). */
  record: unknown;
}

/** What a provider yields: records, and the checkpoint after them. */
export interface ProviderPage<C> {
  records: ProviderRecord[];
  /** Position after these records: resuming from it neither repeats nor skips a record. */
  checkpoint: C;
  /** Totals the provider stated for streams this page finished or re-counted; recorded in the manifest. */
  completeness?: CompletenessFigure[];
}

/** What the drain opens once per process and lends to every provider. */
export interface ProviderServices {
  http: HttpClient;
  /** Shared limiter for quotas that span workers (Data Security Center: 10 calls/s per account). */
  rateLimiter: RateLimiter;
  /** The process logger; the context binds it to the source. */
  logger: Logger;
  signal: AbortSignal;
  /** Backoff for retried calls; tests shorten it. */
  retry: RetryPolicy;
  /** Clock in ms; injectable so window logic can be tested. */
  now: () => number;
}

/** What a provider may use while reading one source; built once per drain by the kit's `providerContext`. */
export interface ProviderContext extends ProviderServices {
  sourceId: string;
  /** Id of the provider reading the source. */
  providerId: string;
  /** Bound to the source (`source`, `provider`): log lines name only what is their own. */
  logger: Logger;
  /** Where the cloud clients record each answer (request id, bytes); the drain reads it per page. */
  calls: CallLog;
  /** An answer that parsed but cannot be right (offsets that disagree, a count that changed); retryable. */
  badAnswer(message: string, hint?: string): ProviderResponseError;
  /** One stream (a run, an execution) cannot be read for now; the kit skips it and reads the others. */
  unreadableStream(message: string, hint: string): ProviderStreamError;
  /**
   * The API did something its documents do not promise and the provider guarded against it
   * (a future timestamp, a changed prefix): logs `message` as a warning with `fields` and counts
   * `guard` in {@link ProviderContext.guards}, which the drain reports as metrics.
   */
  guard(guard: string, fields: Record<string, unknown>, message: string, count?: number): void;
  /** Guard events of this drain, by guard name. */
  readonly guards: Readonly<Record<string, number>>;
}

/** A source's configuration as the pipeline resolved it (env substituted, schema-checked, endpoint defaulted). */
export interface SourceSpec<P, K> {
  id: string;
  provider: string;
  /** The source's endpoint, or the provider's default for its region. */
  endpoint: string;
  /** Fixed keys, or a source asked before every request (temporary credentials, refreshed). */
  credentials: K | SharedCredentials<K>;
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
 * records of that page and those before it. A page may hold no records (a call that only moved
 * the cursor, or moved nothing): the kit drops pages that change nothing and folds runs of
 * record-less ones, so a provider yields one page per unit of API work without counting. The
 * reader may keep in-memory state for one drain (which stream it is on, a page token shortcut),
 * but everything needed to resume after a crash must be in the checkpoint. A page that fails
 * raises a typed ProviderError after the client's retries; it is never returned empty. The
 * iterator ends when the source is caught up.
 *
 * Deliberately not part of it: batching, gzip, storage, checkpoint persistence, leases,
 * scheduling, request-id and byte accounting (the call log), looping over streams and skipping
 * refused ones (the kit's `readStreams`), credentials and their environment variables (the cloud).
 */
export interface Provider<P = unknown, C = unknown, K = unknown> {
  readonly id: string;
  /** The cloud whose credentials the sources carry. */
  readonly cloud: Cloud<K, unknown>;
  /** Schema of `sources[].params`; reports problems by path. */
  readonly paramsSchema: ZodType<P, ZodTypeDef, unknown>;
  /** Schema of a persisted checkpoint, checked when it is read back. */
  readonly checkpointSchema: ZodType<C, ZodTypeDef, unknown>;
  /** Default endpoint (`https://oos.cn-hangzhou.aliyuncs.com`) for a source that names none, when params tell the region. */
  defaultEndpoint(params: P): string | undefined;
  initialCheckpoint(params: P, now: number): C;
  pages(source: SourceSpec<P, K>, from: C, context: ProviderContext): AsyncIterable<ProviderPage<C>>;
  summarize?(checkpoint: C): CheckpointSummary;
}
