import type { ManifestLedger } from '../archive/index.js';
import type { CheckpointStore, HeadRef } from '../checkpoints/index.js';
import type { SourceConfig } from '../config/index.js';
import { ArchiverError, CommitConflictError, ShutdownError } from '../errors/index.js';
import { failpoint } from '../failpoints.js';
import type { CredentialServices } from '../credentials/index.js';
import type { HttpClient, RetryPolicy } from '../http/index.js';
import type { LeaseManager } from '../leases/index.js';
import type { Logger } from '../observability/index.js';
import { getProvider, providerContext, readPages, type CompletenessFigure, type Provider, type ReadPage } from '../providers/index.js';
import type { RateLimiter } from '../ratelimit/index.js';
import { RenderBuffers, renderEnvelopes } from './envelope.js';
import { BatchSpool } from './spool.js';

/** Everything a drain needs, opened once per process and shared by all drains. */
export interface DrainDeps {
  ledger: ManifestLedger;
  checkpoints: CheckpointStore;
  leases: LeaseManager;
  http: HttpClient;
  rateLimiter: RateLimiter;
  logger: Logger;
  /** `maxSeconds`: what was read is committed once it is that old, full batch or not. */
  batch: { maxRecords: number; maxBytes: number; gzipLevel: number; maxSeconds: number };
  /** Directory for spooled batches (local disk). */
  spoolDir: string;
  /** Backoff for provider calls. */
  providerRetry: RetryPolicy;
  /** Where sources get what their requests are signed with; temporary credentials are shared and refreshed. */
  credentials: CredentialServices;
  now?: () => number;
  /** Providers by id. @defaultValue the registry's (a test brings its own fake) */
  providers?: ReadonlyMap<string, Provider<unknown, unknown, unknown>>;
}

export interface DrainSignals {
  /** Stop fetching; the batch in hand is still committed. */
  stop?: AbortSignal;
  /** Abandon everything now (shutdown deadline passed). */
  abort?: AbortSignal;
  /** Called after every page with the progress so far (run-once's live display). */
  onProgress?: (progress: DrainProgress) => void;
  /**
   * Longest the drain reads before it commits what it read and returns, not caught up, so that a
   * source with a huge backlog frees its worker slot for other sources (the worker re-queues the
   * rest). At least one page is read whatever the limit. @defaultValue none (until caught up)
   */
  maxDrainMs?: number;
}

/** How far a drain has got; `records` counts records read, `committed` those already durable. */
export interface DrainProgress {
  pages: number;
  records: number;
  committed: number;
  objects: number;
  /** Context of the latest record read: the stream the drain is on (`{ runId: 10001 }`). */
  stream: Record<string, unknown> | undefined;
}

export interface DrainResult {
  source: string;
  records: number;
  objects: number;
  pages: number;
  durationMs: number;
  head: HeadRef | null;
  /** Keys written in this drain. */
  keys: string[];
  /** Guard events of the provider (behaviours its API does not promise), by guard name. */
  guards: Record<string, number>;
  /** What the provider stated in this drain (the latest figure per stream), whether or not it reached a manifest. */
  completeness: CompletenessFigure[];
  /** False when the drain stopped at `maxDrainMs` with more to read: the rest is for the next drain. */
  caughtUp: boolean;
}

/** The drain stopped after committing what it had; carries the progress made before the error. */
export class DrainFailedError extends ArchiverError {
  constructor(
    readonly source: string,
    readonly progress: DrainResult,
    cause: unknown,
  ) {
    const inner = cause instanceof Error ? cause.message : String(cause);
    super(`source ${source}: ${inner}`, {
      code: cause instanceof ArchiverError ? cause.code : 'ERR_DRAIN',
      retryable: cause instanceof ArchiverError ? cause.retryable : true,
      hint: cause instanceof ArchiverError ? cause.hint : undefined,
      cause,
    });
  }
}

/**
 * Drains one source until caught up: lease → recover head → provider pages → envelopes → gzip
 * spool → object → manifest → checkpoint. The checkpoint moves only after the object and its
 * manifest are durable, and only while the lease is current.
 */
export async function drainSource(deps: DrainDeps, source: SourceConfig, signals: DrainSignals = {}): Promise<DrainResult> {
  const started = Date.now();
  const now = deps.now ?? Date.now;
  const provider = deps.providers?.get(source.provider) ?? getProvider(source.provider);
  const log = deps.logger.child({ source: source.id });
  let lease = await deps.leases.acquire(source.id);
  // `fencingToken`, not `token`: the logger redacts `token` (IAM tokens are secrets), and a fencing
  // token is what ties a drain to the keys it wrote (`<seq>-<token>`).
  log.info({ fencingToken: lease.token }, 'drain started');
  const result: DrainResult = {
    source: source.id,
    records: 0,
    objects: 0,
    pages: 0,
    durationMs: 0,
    head: null,
    keys: [],
    guards: {},
    completeness: [],
    caughtUp: true,
  };
  // Latest figure per stream: of this drain, and of the batch in hand (recorded in its manifest).
  const stated = new Map<string, CompletenessFigure>();
  const batchStated = new Map<string, CompletenessFigure>();
  let spool: BatchSpool | undefined;
  try {
    const cached = await deps.checkpoints.load(source.id);
    // Recovery waits out storage outages with backoff; a shutdown deadline or a lost lease ends it.
    // A damaged archive stops it (ArchiveTamperedError): nothing is archived over the damage.
    let recovered = await deps.ledger.recover(source.id, cached, lease, anySignal([signals.abort, lease.signal]));
    if (recovered.maxToken !== '' && lease.token <= recovered.maxToken) {
      // The coordinator lost its state and its clock stepped back: take a token above storage's.
      log.warn(
        { fencingToken: lease.token, storageToken: recovered.maxToken },
        'fencing token not above the ones in storage; taking a larger one',
      );
      await lease.release();
      lease = await deps.leases.acquire(source.id, { above: recovered.maxToken });
      log.info({ fencingToken: lease.token }, 'drain started');
      recovered = await deps.ledger.recover(source.id, cached, lease, anySignal([signals.abort, lease.signal]));
    }
    let recent = cached?.recent ?? [];
    const stop = anySignal([signals.stop, signals.abort, lease.signal]);
    const storageSignal = anySignal([signals.abort, lease.signal]);
    const context = providerContext(
      { http: deps.http, rateLimiter: deps.rateLimiter, logger: deps.logger, signal: stop, retry: deps.providerRetry, now },
      { id: source.id, provider: source.provider },
    );
    result.guards = context.guards as Record<string, number>;
    const spec = {
      id: source.id,
      provider: source.provider,
      endpoint: source.endpoint,
      credentials: provider.cloud.credentialSource(source.credentials, { sourceId: source.id, params: source.params }, deps.credentials),
      params: source.params,
      timeoutMs: source.timeoutMs,
    };
    let read = 0;
    let stream: Record<string, unknown> | undefined;
    let failure: unknown;
    const maxAgeMs = deps.batch.maxSeconds * 1000;
    const buffers = new RenderBuffers();

    const yieldAt = signals.maxDrainMs === undefined ? Number.POSITIVE_INFINITY : started + signals.maxDrainMs;
    // One pass from a recovered head; a commit another writer outran starts a new pass from the winner's.
    for (let pass = 1; ; pass += 1) {
      let head = recovered.head;
      result.head = head;
      let checkpoint = startingCheckpoint(provider, source, recovered.checkpoint, now());
      let saved =
        JSON.stringify(cached?.head ?? null) === JSON.stringify(head) && JSON.stringify(cached?.checkpoint) === JSON.stringify(checkpoint);
      const pages = readPages(provider, spec, checkpoint, context);
      let batchStart = checkpoint;
      let requestIds: string[] = [];
      // When the oldest progress not yet committed (records spooled, or a moved checkpoint) was read.
      let unsavedSince: number | undefined;

      const commit = async (): Promise<void> => {
        if (!spool) return;
        const batch = await spool.finish();
        const committed = await deps.ledger.commit(
          {
            source: source.id,
            provider: source.provider,
            lease,
            head,
            batch,
            checkpointBefore: batchStart,
            checkpointAfter: checkpoint,
            requestIds,
            completeness: [...batchStated.values()],
          },
          storageSignal,
        );
        batchStated.clear();
        await spool.discard();
        spool = undefined;
        // The entry is committed whatever happens to the cache: a fenced save only means a newer
        // holder goes on from storage, where it finds this entry.
        recent = [...recent.filter((r) => r.seq < committed.head.seq), { seq: committed.head.seq, key: committed.key }].slice(-RECENT);
        await deps.checkpoints.save(source.id, { head: committed.head, checkpoint, recent, updatedAt: new Date().toISOString() }, lease);
        failpoint('after-checkpoint');
        await deps.ledger.forgetIntent(source.id, committed.head);
        head = committed.head;
        saved = true;
        result.head = head;
        result.objects += 1;
        result.records += batch.records;
        result.keys.push(committed.key);
        log.info({ key: committed.key, records: batch.records, bytes: batch.bytes, seq: head.seq }, 'object committed');
        batchStart = checkpoint;
        requestIds = [];
        unsavedSince = undefined;
      };

      /** Commits what is in hand, or saves a checkpoint that moved past nothing, once it is `maxSeconds` old. */
      const commitIfDue = async (): Promise<void> => {
        if (unsavedSince === undefined || now() - unsavedSince < maxAgeMs) return;
        if (spool) {
          await commit();
          return;
        }
        if (!saved) {
          await deps.checkpoints.save(source.id, { head, checkpoint, recent, updatedAt: new Date().toISOString() }, lease);
          saved = true;
        }
        unsavedSince = undefined;
      };
      // The page being fetched; while it is awaited (a slow provider, backoff), what was read
      // before it is committed when it comes due, so a drain killed waiting loses at most maxSeconds.
      let pending: Promise<IteratorResult<ReadPage<unknown>>> | undefined;

      let conflict: CommitConflictError | undefined;
      try {
        for (;;) {
          if (pending === undefined && result.pages > 0 && Date.now() >= yieldAt) {
            // Fairness: what was read is committed below; the next drain resumes from its checkpoint.
            result.caughtUp = false;
            await pages.return?.(undefined);
            break;
          }
          let next: IteratorResult<ReadPage<unknown>> | 'due';
          try {
            if (stop.aborted) throw stop.reason ?? new ShutdownError();
            if (!pending) {
              pending = pages.next();
              // Awaited below; this only keeps a page abandoned by a stop from being an unhandled rejection.
              pending.catch(() => undefined);
            }
            next = await pageOrDue(pending, unsavedSince === undefined ? undefined : unsavedSince + maxAgeMs - now());
          } catch (error) {
            failure = error;
            break;
          }
          if (next === 'due') {
            await commitIfDue();
            continue;
          }
          pending = undefined;
          if (next.done) break;
          // The page's checkpoint, copied now: the next page is read while this one may be committed
          // (batch.maxSeconds), and a provider's reader may move on in objects it handed out.
          const page = { ...next.value, checkpoint: structuredClone(next.value.checkpoint) };
          // The next page is asked for now, so that its round trip (the provider's answer, the
          // transfer, parsing) overlaps this page's rendering, gzip and commit (its checkpoint is
          // copied above: the reader moves on now). Not past the fairness deadline, where the drain
          // stops after this page.
          if (Date.now() < yieldAt && !stop.aborted) {
            pending = pages.next();
            pending.catch(() => undefined);
          }
          result.pages += 1;
          for (const figure of page.completeness ?? []) {
            for (const map of [stated, batchStated]) {
              map.delete(figure.stream);
              map.set(figure.stream, figure);
            }
          }
          if (page.records.length > 0) {
            const lines = renderEnvelopes(source.id, source.provider, new Date(now()).toISOString(), page.records, buffers);
            const lineBytes = lines.length;
            // Pages are never split (a checkpoint exists only between pages), so a batch that this
            // page would overflow is committed first; only a page larger than a batch by itself
            // makes an object exceed the limits.
            if (spool && (spool.records + page.records.length > deps.batch.maxRecords || spool.bytes + lineBytes > deps.batch.maxBytes)) {
              await commit();
            }
            spool ??= await BatchSpool.open(deps.spoolDir, deps.batch.gzipLevel);
            await spool.write(lines, page.records.length, page.records[0]!.id, page.records[page.records.length - 1]!.id, () =>
              buffers.give(lines),
            );
            saved = false;
            unsavedSince ??= now();
          } else if (JSON.stringify(page.checkpoint) !== JSON.stringify(checkpoint)) {
            saved = false;
            unsavedSince ??= now();
          }
          checkpoint = page.checkpoint;
          requestIds.push(...page.requestIds);
          if (spool && (spool.records >= deps.batch.maxRecords || spool.bytes >= deps.batch.maxBytes)) await commit();
          else await commitIfDue();
          read += page.records.length;
          stream = page.records.at(-1)?.context ?? stream;
          signals.onProgress?.({ pages: result.pages, records: read, committed: result.records, objects: result.objects, stream });
        }

        // Pages already read are committed even when the drain stops on an error: their checkpoint is
        // sound, and redoing them would only cost provider calls. A lost lease is the exception.
        if (!lease.signal.aborted && !signals.abort?.aborted) {
          await commit();
          if (!saved && spool === undefined) {
            await deps.checkpoints.save(source.id, { head, checkpoint, recent, updatedAt: new Date().toISOString() }, lease);
          }
        }
      } catch (error) {
        if (!(error instanceof CommitConflictError)) throw error;
        conflict = error;
      }
      if (!conflict) break;
      // Another writer (a stale holder, another deployment) committed this number first: what this
      // pass read is in its entry, or comes again from its checkpoint. Start over from it.
      await pages.return?.(undefined);
      await spool?.discard();
      spool = undefined;
      batchStated.clear();
      failure = undefined;
      if (pass >= MAX_PASSES) throw conflict;
      log.warn({ seq: conflict.seq, pass }, 'another writer committed this entry first; continuing from its commit');
      recovered = await deps.ledger.recover(source.id, await deps.checkpoints.load(source.id), lease, storageSignal);
    }
    // A signed digest of the head when one is due, also when nothing new arrived or the provider
    // failed: it witnesses the tail for auditors who have no checkpoint cache.
    if (!lease.signal.aborted && !signals.abort?.aborted) await deps.ledger.digestIfDue(source.id, result.head, storageSignal);
    if (failure !== undefined) {
      if (signals.stop?.aborted && !lease.signal.aborted) throw new ShutdownError(failure);
      throw failure;
    }
    if (lease.signal.aborted) throw lease.signal.reason;
    return result;
  } catch (error) {
    throw new DrainFailedError(source.id, result, error);
  } finally {
    await spool?.discard();
    result.completeness = [...stated.values()];
    result.durationMs = Date.now() - started;
    // Logged before the release, so that per source these intervals never overlap.
    log.info(
      {
        fencingToken: lease.token,
        records: result.records,
        objects: result.objects,
        durationMs: result.durationMs,
        caughtUp: result.caughtUp,
      },
      'drain finished',
    );
    await lease.release();
  }
}

/** The page `pending` resolves to, or `'due'` when `dueInMs` passes first (never, when undefined). */
async function pageOrDue<T>(pending: Promise<T>, dueInMs: number | undefined): Promise<T | 'due'> {
  if (dueInMs === undefined) return pending;
  if (dueInMs <= 0) return 'due';
  let timer: NodeJS.Timeout | undefined;
  const due = new Promise<'due'>((resolve) => {
    timer = setTimeout(() => resolve('due'), dueInMs);
  });
  try {
    return await Promise.race([pending, due]);
  } finally {
    clearTimeout(timer);
  }
}

/** How many times one drain starts over after another writer outran its commit. */
const MAX_PASSES = 20;
/** Recent commits remembered in the cache, so that sweeping for orphans rarely reads manifests. */
const RECENT = 32;

/** The recovered checkpoint, checked against the provider's schema, or the provider's initial one. */
function startingCheckpoint(provider: Provider<unknown, unknown, unknown>, source: SourceConfig, recovered: unknown, now: number): unknown {
  if (recovered === undefined || recovered === null) return provider.initialCheckpoint(source.params, now);
  const parsed = provider.checkpointSchema.safeParse(recovered);
  if (!parsed.success) {
    throw new ArchiverError(`source ${source.id}: stored checkpoint does not fit provider ${source.provider}`, {
      code: 'ERR_CHECKPOINT_INVALID',
      hint: 'the source was re-pointed at another provider or its state is damaged; run `verify` and inspect the last manifest',
    });
  }
  return parsed.data;
}

function anySignal(signals: (AbortSignal | undefined)[]): AbortSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return AbortSignal.any(present);
}
