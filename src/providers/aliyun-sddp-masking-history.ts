import { isSharedCredentials } from '../credentials/index.js';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { aliyunClientForSource, aliyunCloud, aliyunEndpoint, type AliyunCredentials, type AliyunProduct } from './aliyun/index.js';
import type {
  CheckpointSummary,
  CompletenessFigure,
  Provider,
  ProviderContext,
  ProviderPage,
  ProviderRecord,
  SourceSpec,
} from './provider.js';
import { runHistory, type SddpItem } from './sddp/run-history.js';

/** Data Security Center (product `Sddp`) OpenAPI, version 2019-01-03. */
const PRODUCT: AliyunProduct = { code: 'sddp', version: '2019-01-03' };

/** Calls per second per account the API accepts (seed doc, "QPS limits"). */
export const SDDP_CALLS_PER_SECOND = 10;

/**
 * Region used for the default endpoint when params name none: Data Security Center's Chinese
 * mainland API lives in cn-zhangjiakou (ap-southeast-1 outside it).
 */
const SDDP_DEFAULT_REGION = 'cn-zhangjiakou';

const startTimeSchema = z.union([
  z.number().int().nonnegative(),
  z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO-8601 time such as 2026-01-01T00:00:00Z'),
]);

const paramsSchema = z
  .object({
    /** First instant archived (ISO-8601 or ms since the epoch); windows are tiled from here. */
    startTime: startTimeSchema,
    /** Items per call. @defaultValue 100 */
    pageSize: z.number().int().min(1).max(100).default(100),
    /** How long after a window ends before it is read, so late items have landed. @defaultValue 3600 */
    settleSeconds: z.number().int().nonnegative().default(3600),
    /** Width of one window. @defaultValue 3600 */
    windowSeconds: z.number().int().positive().default(3600),
    regionId: z.string().min(1).optional(),
    lang: z.enum(['zh_cn', 'en_us']).optional(),
    taskId: z.string().min(1).optional(),
    /**
     * Longest a run may stay not final (Status -1 pending or 0 running), counted from the end of
     * its window, before it is archived in whatever state it has, with a warning. Bounds the
     * checkpoint's `pending` list against runs that never finish. @defaultValue 86400
     */
    maxPendingSeconds: z.number().int().nonnegative().default(86400),
    /**
     * How far a run's StartTime may move between polls (a pending run's start set when it starts)
     * and the run still be archived exactly once: the windows of this span before the checkpoint
     * are listed again on every drain (one call when quiet), and the runs archived in them are
     * remembered. @defaultValue 3600
     */
    startTimeDriftSeconds: z
      .number()
      .int()
      .nonnegative()
      .max(7 * 86_400)
      .default(3600),
    /**
     * Most items read into memory by one query: consecutive closed windows are read together
     * (about ceil(items / pageSize) calls for a backlog) until their TotalCount would exceed this.
     * @defaultValue 5000
     */
    maxItemsPerRead: z.number().int().min(100).max(100_000).default(5000),
  })
  .strict();

export type SddpMaskingHistoryParams = z.infer<typeof paramsSchema>;

/**
 * A run seen in a read window while its Status was not final: `id` is its `Id`, and the window
 * it was found in is kept whole (end included) so it is re-queried exactly as it was read, even
 * if `windowSeconds` changes in the config meanwhile; `taskId` lets a run whose StartTime moved
 * out of that window be found again.
 */
const pendingSchema = z
  .object({
    id: z.number().int(),
    windowStart: z.number().int().nonnegative(),
    windowEnd: z.number().int().positive(),
    taskId: z.string().optional(),
  })
  .strict();

/**
 * `windowStart`: ms since the epoch where the next unread window begins. `pending`: runs of
 * windows before it that are not yet archived because their Status was not final (-1 pending,
 * 0 running). `recent`: `[window start, Id]` of the runs archived in the windows of the last
 * `startTimeDriftSeconds` before `windowStart`, so a run whose StartTime moves is not archived
 * twice. A checkpoint written before `pending` existed (`{ windowStart }`) reads as having none,
 * which is what it meant: every run of its read windows was archived.
 */
const checkpointSchema = z
  .object({
    windowStart: z.number().int().nonnegative(),
    pending: z.array(pendingSchema).default([]),
    recent: z.array(z.tuple([z.number().int().nonnegative(), z.number().int()])).optional(),
  })
  .strict();

export type SddpMaskingHistoryCheckpoint = z.infer<typeof checkpointSchema>;
export type SddpPendingRun = z.infer<typeof pendingSchema>;

/**
 * Status values after which a run no longer changes (seed doc: 1 successful, 2 failed, 3 stopped
 * by user, 4 partially failed). Anything else — -1 pending, 0 running, a value the doc does not
 * list, a missing Status — waits, bounded by `maxPendingSeconds`: an unknown final value then
 * costs a delay and a warning, whereas an unknown in-progress value taken as final would archive
 * a version that is not the last.
 */
const FINAL_STATUSES: ReadonlySet<number> = new Set([1, 2, 3, 4]);

/** True when the run's Status is final (it may be archived). */
export function isSddpRunFinal(status: unknown): boolean {
  return typeof status === 'number' && FINAL_STATUSES.has(status);
}

/** Milliseconds since the epoch of the configured start. */
function startMs(startTime: number | string): number {
  return typeof startTime === 'number' ? startTime : Date.parse(startTime);
}

/** The rate-limit key of an account: a short hash, so the AccessKey ID itself never reaches Redis. */
export function sddpRateLimitKey(accessKeyId: string): string {
  return `sddp:${createHash('sha256').update(accessKeyId).digest('hex').slice(0, 16)}`;
}

/**
 * Data Security Center masking-task run history (DescribeDataMaskingRunHistory), one record per
 * `Items` element verbatim, id `String(Id)` (the execution record's id, unique per account).
 *
 * Time is tiled into half-open windows [windowStart, windowStart + windowSeconds) and only closed,
 * settled windows are read (end ≤ now − settleSeconds), so each window's set of runs is final.
 * Whether the API's StartTime/EndTime bounds are inclusive is undocumented, so a range is queried
 * with [start − 1, end] and items are kept only when their StartTime falls in the half-open range:
 * an item exactly on a boundary belongs to the later window and is archived once, whatever the
 * API's inclusivity. Items returned outside the asked range are counted and warned about.
 *
 * Cost: consecutive closed windows are read with one query, paged to its TotalCount (never
 * stopping on a short page; the count returned must equal TotalCount, else the read is refused,
 * retryable, rather than half-archived): a query first spans every closed window, and a span
 * whose TotalCount exceeds `maxItemsPerRead` is narrowed, one that is empty skipped, so a backlog
 * costs about ceil(items / pageSize) calls plus a few for quiet spans. Each window's items form
 * one page, because the checkpoint can only name window starts.
 *
 * A run's *state* is not final when its window settles: a run still pending (-1) or running (0)
 * would be archived in that state and its final version never. Such runs go to `pending` in the
 * checkpoint instead and are archived once final; a run pending for more than
 * `maxPendingSeconds` after its window's end is archived in whatever state it has, with a
 * warning, so the checkpoint stays bounded.
 *
 * A run's StartTime may move between polls (the API does not say it is fixed). Each drain lists
 * again the windows of the last `startTimeDriftSeconds` before the checkpoint, in which the runs
 * archived are remembered (`recent`): a run that moved into them is archived there, once; one
 * that moved from them into a later window is recognised there and not archived again. A
 * pending run no longer in its window is looked for by its TaskId: found in a read window it is
 * handled there, in an unread one it is left to that window; not found by `maxPendingSeconds`
 * it is reported as a gap. Windows older than the drift span are re-read only for their pending
 * runs.
 *
 * Every attempt first takes a token from the shared limiter (10/s per account, across workers).
 */
export const aliyunSddpMaskingHistory: Provider<SddpMaskingHistoryParams, SddpMaskingHistoryCheckpoint, AliyunCredentials> = {
  id: 'aliyun-sddp-masking-history',
  cloud: aliyunCloud,
  paramsSchema,
  checkpointSchema,
  defaultEndpoint: (params) => aliyunEndpoint(PRODUCT, params.regionId ?? SDDP_DEFAULT_REGION),
  initialCheckpoint: (params) => ({ windowStart: startMs(params.startTime), pending: [] }),
  pages: (source, from, context) => readWindows(source, from, context),
  summarize,
};

function summarize(checkpoint: SddpMaskingHistoryCheckpoint): CheckpointSummary {
  const upTo = `archived up to ${new Date(checkpoint.windowStart).toISOString()} (exclusive)`;
  return {
    text: `${upTo}; ${checkpoint.pending.length} run(s) pending (not final yet)`,
    pending: checkpoint.pending.map((p) => ({ ...p })),
  };
}

/** Pending runs in a stable order: by window, then id. */
function sortedPending(pending: Iterable<SddpPendingRun>): SddpPendingRun[] {
  return [...pending].sort((a, b) => a.windowStart - b.windowStart || a.id - b.id);
}

interface Window {
  windowStart: number;
  windowEnd: number;
}

/** How a listed range is taken: every run of it (new windows, the drift span), or only pending runs (older windows). */
type ReadMode = 'new' | 'reread' | 'pending-only';

async function* readWindows(
  source: SourceSpec<SddpMaskingHistoryParams, AliyunCredentials>,
  from: SddpMaskingHistoryCheckpoint,
  context: ProviderContext,
): AsyncGenerator<ProviderPage<SddpMaskingHistoryCheckpoint>> {
  const { params } = source;
  // Per account: temporary keys change at every refresh, the role they come from does not.
  const { credentials } = source;
  const key = sddpRateLimitKey(isSharedCredentials(credentials) ? credentials.identity : credentials.accessKeyId);
  const client = aliyunClientForSource(source, context, PRODUCT, () =>
    context.rateLimiter.acquire(key, SDDP_CALLS_PER_SECOND, context.signal),
  );
  const history = runHistory(client, context, params);
  const windowMs = params.windowSeconds * 1000;
  const settleMs = params.settleSeconds * 1000;
  const maxPendingMs = params.maxPendingSeconds * 1000;
  const driftMs = params.startTimeDriftSeconds * 1000;
  const origin = startMs(params.startTime);
  let windowStart = from.windowStart;
  // Keyed by id: a duplicated entry in a damaged checkpoint must not archive a run twice.
  const pending = new Map<number, SddpPendingRun>(from.pending.map((p) => [p.id, p]));
  const recent = new Map<number, number>((from.recent ?? []).map(([ws, id]) => [id, ws]));
  // Ids emitted by this drain, so nothing can be emitted twice within it whatever the server does.
  const emitted = new Set<number>();
  // Pending runs seen in their window (or a new one) during this drain.
  const located = new Set<number>();

  const checkpoint = (): SddpMaskingHistoryCheckpoint => {
    for (const [id, ws] of recent) if (ws + windowMs <= windowStart - driftMs) recent.delete(id);
    const kept = [...recent].map(([id, ws]): [number, number] => [ws, id]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    return { windowStart, pending: sortedPending(pending.values()), ...(kept.length > 0 ? { recent: kept } : {}) };
  };
  const overdue = (run: SddpPendingRun): boolean => context.now() - run.windowEnd >= maxPendingMs;
  const windowOf = (time: number): Window => {
    const ws = origin + Math.floor((time - origin) / windowMs) * windowMs;
    return { windowStart: ws, windowEnd: ws + windowMs };
  };
  const record = (item: SddpItem, window: Window): ProviderRecord => {
    emitted.add(item.Id);
    pending.delete(item.Id);
    recent.set(item.Id, window.windowStart);
    return { id: String(item.Id), context: { windowStart: window.windowStart, windowEnd: window.windowEnd }, record: item };
  };
  const archiveOverdue = (item: SddpItem, run: SddpPendingRun, window: Window): ProviderRecord => {
    context.logger.warn(
      {
        runId: item.Id,
        status: item.Status,
        windowStart: new Date(run.windowStart).toISOString(),
        maxPendingSeconds: params.maxPendingSeconds,
      },
      'masking run still not final after maxPendingSeconds; archived in its current state (a later final state will not be archived)',
    );
    return record(item, window);
  };

  /**
   * The pages of items listed for [start, end): one per window that has items, each with the
   * window's figure. `mode` says which runs of the range are taken (see ReadMode).
   */
  function* take(
    items: readonly SddpItem[],
    start: number,
    end: number,
    mode: ReadMode,
  ): Generator<{ records: ProviderRecord[]; figure: CompletenessFigure; window: Window }> {
    const byWindow = new Map<number, SddpItem[]>();
    let outside = 0;
    for (const item of items) {
      if (item.StartTime < start - 1 || item.StartTime > end) outside += 1;
      // On the boundary: the neighbouring window's (queried with [start − 1, end]).
      else if (item.StartTime >= start && item.StartTime < end) {
        const ws = windowOf(item.StartTime).windowStart;
        byWindow.set(ws, [...(byWindow.get(ws) ?? []), item]);
      }
    }
    if (outside > 0) {
      context.guard(
        'sddp-outside-window',
        { outside, from: new Date(start).toISOString(), to: new Date(end).toISOString() },
        `${outside} masking run(s) returned with a StartTime outside the asked range; not taken from it`,
        outside,
      );
    }
    for (const ws of [...byWindow.keys()].sort((a, b) => a - b)) {
      const window = { windowStart: ws, windowEnd: ws + windowMs };
      const listed = byWindow.get(ws)!.sort((a, b) => a.StartTime - b.StartTime || a.Id - b.Id);
      const records: ProviderRecord[] = [];
      for (const item of listed) {
        const before = pending.get(item.Id);
        if (before) located.add(item.Id);
        if (emitted.has(item.Id) || recent.has(item.Id)) {
          if (recent.has(item.Id) && recent.get(item.Id) !== ws && !emitted.has(item.Id)) {
            context.guard(
              'sddp-start-time-moved',
              { runId: item.Id, archivedIn: new Date(recent.get(item.Id)!).toISOString(), now: new Date(ws).toISOString() },
              'an archived masking run is now listed in another window (its StartTime moved); not archived again',
            );
          }
          continue;
        }
        if (mode === 'pending-only' && !before) continue;
        if (before && (before.windowStart !== ws || before.windowEnd !== window.windowEnd)) {
          context.guard(
            'sddp-start-time-moved',
            { runId: item.Id, was: new Date(before.windowStart).toISOString(), now: new Date(ws).toISOString() },
            'a pending masking run is now listed in another window (its StartTime moved); followed there',
          );
        } else if (mode === 'reread' && !before) {
          context.guard(
            'sddp-listed-late',
            { runId: item.Id, window: new Date(ws).toISOString() },
            'a masking run appeared in a window already read (its StartTime moved, or it was listed late); archived now',
          );
        }
        // A pending run is followed to its new window; its wait still counts from where it was first seen.
        const run: SddpPendingRun = {
          id: item.Id,
          windowStart: ws,
          windowEnd: window.windowEnd,
          ...(typeof item.TaskId === 'string' && item.TaskId ? { taskId: item.TaskId } : {}),
        };
        const waitingSince = before ?? run;
        if (isSddpRunFinal(item.Status)) records.push(record(item, window));
        else if (overdue(waitingSince)) records.push(archiveOverdue(item, waitingSince, window));
        else pending.set(item.Id, run);
      }
      const stillPending = listed.filter((i) => pending.has(i.Id)).length;
      const figure: CompletenessFigure = {
        stream: `window ${new Date(ws).toISOString()}`,
        unit: 'records',
        stated: listed.length,
        archived: listed.length - stillPending,
        ...(stillPending > 0 ? { pending: stillPending } : {}),
        at: ws,
      };
      yield { records, figure, window };
    }
  }

  // 1. Windows holding pending runs that the drift span does not cover, oldest first, each read once.
  const driftStart = Math.max(origin, windowStart - Math.ceil(driftMs / windowMs) * windowMs);
  const olderWindows = new Map<string, Window>();
  for (const run of sortedPending(pending.values())) {
    if (run.windowStart < driftStart) olderWindows.set(`${run.windowStart}:${run.windowEnd}`, run);
  }
  for (const window of olderWindows.values()) {
    const firstPage = await history.first(window.windowStart - 1, window.windowEnd);
    const items = await history.all(window.windowStart - 1, window.windowEnd, firstPage);
    const records: ProviderRecord[] = [];
    const completeness: CompletenessFigure[] = [];
    for (const part of take(items, window.windowStart, window.windowEnd, 'pending-only')) {
      records.push(...part.records);
      completeness.push(part.figure);
    }
    yield { records, checkpoint: checkpoint(), completeness };
  }

  // 2. The drift span before the checkpoint, listed again: runs that moved into it, pending ones of it.
  if (windowStart > driftStart) {
    const firstPage = await history.first(driftStart - 1, windowStart);
    if (firstPage.total > 0) {
      const items = await history.all(driftStart - 1, windowStart, firstPage);
      for (const part of take(items, driftStart, windowStart, 'reread')) {
        yield { records: part.records, checkpoint: checkpoint(), completeness: [part.figure] };
      }
    }
  }

  // 3. Pending runs not listed in their window any more: their StartTime moved.
  const lost = [...pending.values()].filter((run) => !located.has(run.id));
  for (const run of lost) {
    const found = run.taskId ? await findRun(run) : undefined;
    if (found && found.StartTime < windowStart && found.StartTime >= origin) {
      const window = windowOf(found.StartTime);
      const parts = [...take([found], window.windowStart, window.windowEnd, 'reread')];
      yield { records: parts.flatMap((p) => p.records), checkpoint: checkpoint(), completeness: parts.map((p) => p.figure) };
    } else if (found) {
      // In a window not read yet: that window takes it (it is not in `recent`, so it is archived once).
      context.guard(
        'sddp-start-time-moved',
        { runId: run.id, was: new Date(run.windowStart).toISOString(), now: new Date(found.StartTime).toISOString() },
        'a pending masking run moved to a window not read yet; it is archived with that window',
      );
      pending.delete(run.id);
      yield { records: [], checkpoint: checkpoint() };
    } else if (overdue(run)) {
      // Gone (deleted, or moved where no query finds it): nothing left to archive, and keeping it
      // would keep the checkpoint growing. Reported as a gap of its window.
      context.guard(
        'sddp-pending-lost',
        { runId: run.id, windowStart: new Date(run.windowStart).toISOString(), maxPendingSeconds: params.maxPendingSeconds },
        'pending masking run no longer listed after maxPendingSeconds; dropped without archiving (a gap)',
      );
      pending.delete(run.id);
      const figure: CompletenessFigure = {
        stream: `run ${run.id}`,
        unit: 'records',
        stated: 1,
        archived: 0,
        at: run.windowStart,
        note: `masking run ${run.id}, pending in the window of ${new Date(run.windowStart).toISOString()}, is no longer listed`,
      };
      yield { records: [], checkpoint: checkpoint(), completeness: [figure] };
    }
  }

  // 4. New windows: as many closed ones at once as fit in maxItemsPerRead.
  let spanWindows = Number.POSITIVE_INFINITY;
  for (;;) {
    const closed = Math.floor((context.now() - settleMs - windowStart) / windowMs);
    if (closed < 1) break;
    const span = Math.max(1, Math.min(spanWindows, closed));
    const end = windowStart + span * windowMs;
    const firstPage = await history.first(windowStart - 1, end);
    if (firstPage.total === 0) {
      windowStart = end;
      spanWindows = span * 2;
      yield { records: [], checkpoint: checkpoint() };
      continue;
    }
    if (firstPage.total > params.maxItemsPerRead && span > 1) {
      // Narrow to what should fit, allowing for items bunched in part of the span.
      spanWindows = Math.max(1, Math.floor((span * params.maxItemsPerRead) / firstPage.total / 2));
      continue;
    }
    const items = await history.all(windowStart - 1, end, firstPage);
    for (const part of take(items, windowStart, end, 'new')) {
      windowStart = part.window.windowEnd;
      yield { records: part.records, checkpoint: checkpoint(), completeness: [part.figure] };
    }
    windowStart = end;
    yield { records: [], checkpoint: checkpoint() };
    spanWindows = firstPage.total * 4 < params.maxItemsPerRead ? span * 2 : span;
  }

  /** A run by its TaskId, from its window on (its StartTime moved); undefined when the API lists it nowhere. */
  async function findRun(run: SddpPendingRun): Promise<SddpItem | undefined> {
    const since = Math.max(0, run.windowStart - driftMs);
    const until = context.now();
    const firstPage = await history.first(since - 1, until, run.taskId);
    return (await history.all(since - 1, until, firstPage, run.taskId)).find((item) => item.Id === run.id);
  }
}
