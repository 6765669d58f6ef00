import { isSharedCredentials } from '../credentials/index.js';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { aliyunClientForSource, aliyunCloud, aliyunEndpoint, type AliyunCredentials, type AliyunProduct } from './aliyun/index.js';
import type { CheckpointSummary, Provider, ProviderContext, ProviderPage, ProviderRecord, SourceSpec } from './provider.js';

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
  })
  .strict();

export type SddpMaskingHistoryParams = z.infer<typeof paramsSchema>;

/**
 * A run seen in a read window while its Status was not final: `id` is its `Id`, and the window
 * it was found in is kept whole (end included) so it is re-queried exactly as it was read, even
 * if `windowSeconds` changes in the config meanwhile.
 */
const pendingSchema = z
  .object({
    id: z.number().int(),
    windowStart: z.number().int().nonnegative(),
    windowEnd: z.number().int().positive(),
  })
  .strict();

/**
 * `windowStart`: ms since the epoch where the next unread window begins. `pending`: runs of
 * windows before it that are not yet archived because their Status was not final (-1 pending,
 * 0 running). A checkpoint written before `pending` existed (`{ windowStart }`) reads as having
 * none, which is what it meant: every run of its read windows was archived.
 */
const checkpointSchema = z
  .object({
    windowStart: z.number().int().nonnegative(),
    pending: z.array(pendingSchema).default([]),
  })
  .strict();

export type SddpMaskingHistoryCheckpoint = z.infer<typeof checkpointSchema>;
export type SddpPendingRun = z.infer<typeof pendingSchema>;

const itemSchema = z.object({ Id: z.number().int(), StartTime: z.number(), Status: z.unknown().optional() }).passthrough();
type SddpItem = z.infer<typeof itemSchema>;
const responseSchema = z
  .object({
    RequestId: z.string().optional(),
    TotalCount: z.number().int().nonnegative(),
    Items: z.array(itemSchema),
  })
  .passthrough();

const ACTION = 'DescribeDataMaskingRunHistory';

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
 * Whether the API's StartTime/EndTime bounds are inclusive is undocumented, so each window is
 * queried with the wider range [windowStart − 1, windowEnd] and items are kept only when their
 * StartTime falls in the half-open window: an item exactly on a boundary belongs to the later
 * window and is archived once, whatever the API's inclusivity. Paging stops at TotalCount or at
 * an empty page, never on a short page (a server may serve fewer than PageSize per page), and the
 * count of items returned must equal TotalCount, else the window is refused (retryable) rather
 * than half-archived. All of one window's items form one page, because the checkpoint can only
 * name window starts.
 *
 * A run's *state* is not final when its window settles: a run still pending (-1) or running (0)
 * would be archived in that state and its final version never. Such runs go to `pending` in the
 * checkpoint instead; every drain first re-reads the windows holding pending runs (each fully, as
 * above) and archives those that are final now, then reads new windows. A run pending for more
 * than `maxPendingSeconds` after its window's end is archived in whatever state it has, with a
 * warning, so the checkpoint stays bounded. Only pending ids are taken from a re-read window: the
 * others were archived when it was first read.
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
  const windowMs = params.windowSeconds * 1000;
  const settleMs = params.settleSeconds * 1000;
  const maxPendingMs = params.maxPendingSeconds * 1000;
  let windowStart = from.windowStart;
  // Keyed by id: a duplicated entry in a damaged checkpoint must not archive a run twice.
  const pending = new Map<number, SddpPendingRun>(from.pending.map((p) => [p.id, p]));
  // Ids emitted by this drain, so nothing can be emitted twice within it whatever the server does.
  const emitted = new Set<number>();
  // Windows to probe at once after an empty one; doubles while the account stays quiet, so a
  // start time months back costs a few dozen calls instead of one per window (at 10 calls/s).
  let probeSpan = 0;
  const checkpoint = (): SddpMaskingHistoryCheckpoint => ({ windowStart, pending: sortedPending(pending.values()) });
  const overdue = (run: SddpPendingRun): boolean => context.now() - run.windowEnd >= maxPendingMs;
  const record = (item: SddpItem, run: { windowStart: number; windowEnd: number }): ProviderRecord => {
    emitted.add(item.Id);
    pending.delete(item.Id);
    return { id: String(item.Id), context: { windowStart: run.windowStart, windowEnd: run.windowEnd }, record: item };
  };
  const archiveOverdue = (item: SddpItem, run: SddpPendingRun): ProviderRecord => {
    context.logger.warn(
      {
        runId: item.Id,
        status: item.Status,
        windowStart: new Date(run.windowStart).toISOString(),
        maxPendingSeconds: params.maxPendingSeconds,
      },
      'masking run still not final after maxPendingSeconds; archived in its current state (a later final state will not be archived)',
    );
    return record(item, run);
  };
  const call = async (startTime: number, endTime: number, pageSize: number, currentPage: number) => {
    const query = { StartTime: startTime, EndTime: endTime, PageSize: pageSize, CurrentPage: currentPage };
    return (await client.call(ACTION, { ...query, Lang: params.lang, TaskId: params.taskId }, responseSchema)).body;
  };
  /** Every item of the half-open window, read to TotalCount (throws rather than return part of it). */
  const readWindow = async (start: number, end: number): Promise<SddpItem[]> => {
    const items: SddpItem[] = [];
    const seen = new Set<number>();
    let returned = 0;
    let total: number | undefined;
    for (let page = 1; ; page += 1) {
      const result = await call(start - 1, end, params.pageSize, page);
      const { TotalCount, Items } = result;
      if (total !== undefined && TotalCount !== total) {
        throw context.badAnswer(
          `TotalCount of window ${new Date(start).toISOString()} changed from ${total} to ${TotalCount} while paging`,
        );
      }
      total = TotalCount;
      returned += Items.length;
      for (const item of Items) {
        // An item seen twice means the pages shifted under us, which leaves a gap elsewhere.
        if (seen.has(item.Id)) throw context.badAnswer(`item ${item.Id} appeared twice while paging a window`);
        seen.add(item.Id);
        if (item.StartTime < start || item.StartTime >= end) continue;
        items.push(item);
      }
      // Not `Items.length < pageSize`: a server that caps PageSize below ours would end paging
      // after its first page. TotalCount (checked below) or an empty page says the window is done.
      if (returned >= total || Items.length === 0) break;
    }
    if (returned !== total) {
      throw context.badAnswer(`window ${new Date(start).toISOString()} returned ${returned} items but TotalCount is ${total}`);
    }
    return items;
  };

  // 1. Windows holding pending runs, oldest first, each read once however many runs it holds.
  const pendingWindows = new Map<string, { windowStart: number; windowEnd: number }>();
  for (const run of sortedPending(pending.values())) pendingWindows.set(`${run.windowStart}:${run.windowEnd}`, run);
  for (const window of pendingWindows.values()) {
    const runs = [...pending.values()].filter((p) => p.windowStart === window.windowStart && p.windowEnd === window.windowEnd);
    const items = new Map((await readWindow(window.windowStart, window.windowEnd)).map((i) => [i.Id, i]));
    const records: ProviderRecord[] = [];
    for (const run of runs) {
      const item = items.get(run.id);
      if (item && emitted.has(item.Id)) continue;
      if (item && isSddpRunFinal(item.Status)) {
        records.push(record(item, run));
      } else if (item && overdue(run)) {
        records.push(archiveOverdue(item, run));
      } else if (!item && overdue(run)) {
        // Gone from its window (deleted, or its StartTime moved): nothing left to archive, and
        // keeping it would keep the checkpoint growing.
        context.logger.warn(
          {
            runId: run.id,
            windowStart: new Date(run.windowStart).toISOString(),
            maxPendingSeconds: params.maxPendingSeconds,
          },
          'pending masking run no longer listed in its window after maxPendingSeconds; dropped without archiving',
        );
        pending.delete(run.id);
      }
      // Otherwise still not final (or not listed for now): it stays pending.
    }
    records.sort((a, b) => startOf(a) - startOf(b) || Number(a.id) - Number(b.id));
    yield { records, checkpoint: checkpoint() };
  }

  // 2. New windows.
  while (windowStart + windowMs <= context.now() - settleMs) {
    const closedWindows = Math.floor((context.now() - settleMs - windowStart) / windowMs);
    const span = Math.min(probeSpan, closedWindows);
    if (span >= 2) {
      const probe = await call(windowStart - 1, windowStart + span * windowMs, 1, 1);
      if (probe.TotalCount === 0) {
        windowStart += span * windowMs;
        probeSpan *= 2;
        yield { records: [], checkpoint: checkpoint() };
        continue;
      }
      // Something is in there: narrow down by halves rather than walking it window by window.
      probeSpan = Math.floor(span / 2);
      if (probeSpan >= 2) continue;
    }
    const window = { windowStart, windowEnd: windowStart + windowMs };
    const items = await readWindow(window.windowStart, window.windowEnd);
    const records: ProviderRecord[] = [];
    for (const item of items) {
      if (emitted.has(item.Id)) continue;
      const run = { id: item.Id, ...window };
      if (isSddpRunFinal(item.Status)) {
        records.push(record(item, window));
      } else if (overdue(run)) {
        // A window read late (catching up from an old startTime): a run that old and not final
        // will not become final by waiting.
        records.push(archiveOverdue(item, run));
      } else {
        pending.set(item.Id, run);
      }
    }
    windowStart = window.windowEnd;
    probeSpan = items.length === 0 ? Math.max(probeSpan, 2) : 0;
    // Oldest first, so the archive reads in time order.
    records.sort((a, b) => startOf(a) - startOf(b) || Number(a.id) - Number(b.id));
    yield { records, checkpoint: checkpoint() };
  }
}

function startOf(record: ProviderRecord): number {
  return (record.record as { StartTime: number }).StartTime;
}
