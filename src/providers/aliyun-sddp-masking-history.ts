import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ProviderResponseError } from '../errors/index.js';
import { aliyunClientForSource, aliyunCredentialsSchema, aliyunEndpoint, type AliyunCredentials } from './aliyun/index.js';
import type { Provider, ProviderContext, ProviderPage, ProviderRecord, SourceSpec } from './provider.js';

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
  })
  .strict();

export type SddpMaskingHistoryParams = z.infer<typeof paramsSchema>;

/** `windowStart`: ms since the epoch where the next unread window begins. */
const checkpointSchema = z.object({ windowStart: z.number().int().nonnegative() }).strict();

export type SddpMaskingHistoryCheckpoint = z.infer<typeof checkpointSchema>;

const itemSchema = z.object({ Id: z.number().int(), StartTime: z.number() }).passthrough();
const responseSchema = z
  .object({
    RequestId: z.string().optional(),
    TotalCount: z.number().int().nonnegative(),
    Items: z.array(itemSchema),
  })
  .passthrough();

const ACTION = 'DescribeDataMaskingRunHistory';
/** Consecutive empty windows folded into one record-less page (keeps catch-up cheap for the pipeline). */
const EMPTY_WINDOWS_PER_PAGE = 100;

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
 * settled windows are read (end ≤ now − settleSeconds), so each window's content is final. Whether
 * the API's StartTime/EndTime bounds are inclusive is undocumented, so each window is queried
 * with the wider range [windowStart − 1, windowEnd] and items are kept only when their StartTime
 * falls in the half-open window: an item exactly on a boundary belongs to the later window and is
 * archived once, whatever the API's inclusivity. The count of items the API returned must equal
 * its TotalCount, else the window is refused (retryable) rather than half-archived. All of one
 * window's items form one page, because the checkpoint can only name window starts.
 *
 * Every attempt first takes a token from the shared limiter (10/s per account, across workers).
 */
export const aliyunSddpMaskingHistory: Provider<SddpMaskingHistoryParams, SddpMaskingHistoryCheckpoint, AliyunCredentials> = {
  id: 'aliyun-sddp-masking-history',
  cloud: 'aliyun',
  paramsSchema,
  credentialsSchema: aliyunCredentialsSchema,
  checkpointSchema,
  defaultEndpoint: (params) => aliyunEndpoint('sddp', params.regionId ?? SDDP_DEFAULT_REGION),
  initialCheckpoint: (params) => ({ windowStart: startMs(params.startTime) }),
  pages: (source, from, context) => readWindows(source, from, context),
  summarize: (checkpoint) => ({ text: `archived up to ${new Date(checkpoint.windowStart).toISOString()} (exclusive)` }),
};

async function* readWindows(
  source: SourceSpec<SddpMaskingHistoryParams, AliyunCredentials>,
  from: SddpMaskingHistoryCheckpoint,
  context: ProviderContext,
): AsyncGenerator<ProviderPage<SddpMaskingHistoryCheckpoint>> {
  const { params } = source;
  const key = sddpRateLimitKey(source.credentials.accessKeyId);
  const client = aliyunClientForSource(
    source,
    context,
    'sddp',
    aliyunEndpoint('sddp', params.regionId ?? SDDP_DEFAULT_REGION),
    () => context.rateLimiter.acquire(key, SDDP_CALLS_PER_SECOND, context.signal),
  );
  const windowMs = params.windowSeconds * 1000;
  const settleMs = params.settleSeconds * 1000;
  const details = { source: source.id, provider: source.provider };
  let windowStart = from.windowStart;
  let emptyWindows = 0;
  let requestIds: string[] = [];
  let bytes = 0;
  // Windows to probe at once after an empty one; doubles while the account stays quiet, so a
  // start time months back costs a few dozen calls instead of one per window (at 10 calls/s).
  let probeSpan = 0;
  const call = async (startTime: number, endTime: number, pageSize: number, currentPage: number) => {
    const result = await client.call(ACTION, {
      StartTime: startTime,
      EndTime: endTime,
      PageSize: pageSize,
      CurrentPage: currentPage,
      Lang: params.lang,
      TaskId: params.taskId,
    });
    const parsed = responseSchema.safeParse(result.body);
    if (!parsed.success) {
      throw new ProviderResponseError(`source ${source.id}: ${ACTION} answer lacks TotalCount/Items`, { ...details, requestId: result.requestId });
    }
    if (result.requestId) requestIds.push(result.requestId);
    bytes += result.bytes;
    return { ...parsed.data, requestId: result.requestId };
  };
  while (windowStart + windowMs <= context.now() - settleMs) {
    const closedWindows = Math.floor((context.now() - settleMs - windowStart) / windowMs);
    const span = Math.min(probeSpan, closedWindows);
    if (span >= 2) {
      const probe = await call(windowStart - 1, windowStart + span * windowMs, 1, 1);
      if (probe.TotalCount === 0) {
        windowStart += span * windowMs;
        emptyWindows += span;
        probeSpan *= 2;
        if (emptyWindows >= EMPTY_WINDOWS_PER_PAGE) {
          yield { records: [], checkpoint: { windowStart }, requestIds, bytes };
          emptyWindows = 0;
          requestIds = [];
          bytes = 0;
        }
        continue;
      }
      // Something is in there: narrow down by halves rather than walking it window by window.
      probeSpan = Math.floor(span / 2);
      if (probeSpan >= 2) continue;
    }
    const windowEnd = windowStart + windowMs;
    const records: ProviderRecord[] = [];
    const seen = new Set<number>();
    let returned = 0;
    let total: number | undefined;
    for (let page = 1; ; page += 1) {
      const result = await call(windowStart - 1, windowEnd, params.pageSize, page);
      const { TotalCount, Items } = result;
      if (total !== undefined && TotalCount !== total) {
        throw new ProviderResponseError(
          `source ${source.id}: TotalCount of window ${new Date(windowStart).toISOString()} changed from ${total} to ${TotalCount} while paging`,
          { ...details, requestId: result.requestId },
        );
      }
      total = TotalCount;
      returned += Items.length;
      for (const item of Items) {
        // An item seen twice means the pages shifted under us, which leaves a gap elsewhere.
        if (seen.has(item.Id)) {
          throw new ProviderResponseError(`source ${source.id}: item ${item.Id} appeared twice while paging a window`, {
            ...details,
            requestId: result.requestId,
          });
        }
        seen.add(item.Id);
        if (item.StartTime < windowStart || item.StartTime >= windowEnd) continue;
        records.push({ id: String(item.Id), context: { windowStart, windowEnd }, record: item });
      }
      if (returned >= total || Items.length === 0 || Items.length < params.pageSize) break;
    }
    if (returned !== total) {
      throw new ProviderResponseError(
        `source ${source.id}: window ${new Date(windowStart).toISOString()} returned ${returned} items but TotalCount is ${total}`,
        { ...details },
      );
    }
    windowStart = windowEnd;
    probeSpan = records.length === 0 ? Math.max(probeSpan, 2) : 0;
    if (records.length === 0) {
      emptyWindows += 1;
      if (emptyWindows < EMPTY_WINDOWS_PER_PAGE) continue;
    }
    // Oldest first, so the archive reads in time order.
    records.sort((a, b) => startOf(a) - startOf(b) || Number(a.id) - Number(b.id));
    yield { records, checkpoint: { windowStart }, requestIds, bytes };
    emptyWindows = 0;
    requestIds = [];
    bytes = 0;
  }
  if (emptyWindows > 0) yield { records: [], checkpoint: { windowStart }, requestIds, bytes };
}

function startOf(record: ProviderRecord): number {
  return (record.record as { StartTime: number }).StartTime;
}
