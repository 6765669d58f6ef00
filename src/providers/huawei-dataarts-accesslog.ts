import { createHash } from 'node:crypto';
import { z } from 'zod';
import { huaweiClientForSource, huaweiCloud, huaweiDefaultEndpoint, type HuaweiCredentials } from './huawei/index.js';
import { chunkPages, verbatim } from './kit/index.js';
import type {
  CheckpointSummary,
  CompletenessFigure,
  Provider,
  ProviderContext,
  ProviderPage,
  ProviderRecord,
  SourceSpec,
} from './provider.js';

/**
 * DataArts Studio DataService: access logs of a cluster
 * (`GET /v1/{project_id}/service/instances/{instance_id}/accesslog?is_api=…`, `workspace` header).
 *
 * The API has no pagination and no time filter: every call returns the list the server currently
 * keeps. `access_time` is when a request started, but a log is typically listed only once the
 * request has finished (`access_time + duration`), so a slow request shows up after quicker ones
 * that started later. A plain "newest access_time archived" watermark would drop it.
 *
 * So progress is a watermark that trails the newest archived `access_time` by a lateness allowance
 * L (`params.latenessSeconds`): watermark = max(newest archived access_time − L, previous
 * watermark). The checkpoint keeps a key of every archived log at or after the watermark; a listed
 * log is new iff `access_time >= watermark` and its key is not kept. A log listed more than L after
 * newer ones cannot be told from an archived one any more and is taken as archived; to make that
 * loss visible, the checkpoint also keeps per-second counts of archived logs for a further L below
 * the watermark, and a poll listing more logs in such a second than were archived warns with the
 * count (then remembers them, so the warning is not repeated for the same logs once a page is
 * committed). State is bounded by the traffic of L (keys) plus at most L one-second counters.
 *
 * Times are bounded by the clocks: a log whose access_time is past both the server's `Date` and
 * the local clock (a gateway clock running fast, a µs value, a year-2100 sentinel), allowing
 * {@link FUTURE_TOLERANCE_MS}, is archived like any other but counts for the watermark only as
 * that bound, so it cannot push the watermark past now and make every later log look late; it is
 * reported (warning, guard metric), and its key stays in the checkpoint until the watermark
 * reaches its time.
 *
 * Each poll states the server's `number` beside the logs it listed and those archived of them;
 * a poll where they differ (a cut list, logs too late to archive) is kept as its own figure.
 *
 * Known limits: a log later than 2L is taken as archived silently; a late log appearing in the same
 * second from which the server aged out an archived one is not detected (the counts balance).
 */

/** Slack between the clocks (server `Date` has whole seconds) before an access_time counts as in the future. */
const FUTURE_TOLERANCE_MS = 60_000;

export const HUAWEI_DATAARTS_ACCESSLOG = 'huawei-dataarts-accesslog';

/** Default lateness allowance: requests running up to ten minutes (plus listing delay) are archived. */
export const DATAARTS_DEFAULT_LATENESS_SECONDS = 600;

export const dataArtsParamsSchema = z
  .object({
    projectId: z.string().min(1),
    /** DataService cluster id (`instance_id` in the path). */
    instanceId: z.string().min(1),
    /** Workspace id, sent as the `workspace` header the API requires. */
    workspace: z.string().min(1),
    /** true: API access logs; false: app access logs. @defaultValue true */
    isApi: z.boolean().default(true),
    /** Region (`cn-north-4`) for the default endpoint `https://dayu.{region}.myhuaweicloud.com`. */
    region: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'expected a region id such as cn-north-4')
      .optional(),
    /**
     * How much older (by `access_time`) than the newest archived log a log may be when it is first
     * listed and still be archived: cover the longest request duration plus the server's listing
     * delay. Larger keeps more keys in the checkpoint (all logs of that span); capped at a day so
     * the checkpoint stays small. @defaultValue 600
     */
    latenessSeconds: z.number().int().nonnegative().max(86_400).default(DATAARTS_DEFAULT_LATENESS_SECONDS),
  })
  .strict();

export type DataArtsParams = z.infer<typeof dataArtsParamsSchema>;

/** The checkpoint as version 1 stored it (one millisecond of ids); read and migrated, never written. */
export const dataArtsCheckpointV1Schema = z
  .object({
    v: z.literal(1),
    watermark: z.number().int().nullable(),
    idsAtWatermark: z.array(z.string()),
  })
  .strict();

export type DataArtsCheckpointV1 = z.infer<typeof dataArtsCheckpointV1Schema>;

/**
 * `{ v: 2, watermark, kept, below }`:
 * - `watermark`: access_time (ms) below which logs are taken as archived; null before the first.
 * - `kept`: `[access_time, [key, …]]` ascending, keys ({@link dataArtsRecordKey}) of every archived
 *   log with access_time >= watermark.
 * - `below`: per-second counts (`[epoch second, count]`, ascending) of archived logs with
 *   `since <= access_time < watermark`, only to detect logs that arrived later than the allowance.
 * Arrays rather than objects keyed by time so the JSON is in one canonical order.
 */
export const dataArtsCheckpointV2Schema = z
  .object({
    v: z.literal(2),
    watermark: z.number().int().nullable(),
    kept: z.array(z.tuple([z.number().int(), z.array(z.string().min(1)).min(1)])),
    below: z
      .object({
        since: z.number().int(),
        perSecond: z.array(z.tuple([z.number().int(), z.number().int().positive()])),
      })
      .strict(),
  })
  .strict();

export type DataArtsCheckpoint = z.infer<typeof dataArtsCheckpointV2Schema>;

/**
 * Reads either version; a v1 checkpoint becomes the v2 one that makes the very same decisions
 * (older than the watermark: archived; at it: archived iff its id is listed; newer: new), so a
 * source archived by the previous release resumes without a repeat. Counting for late detection
 * starts at the old watermark: nothing is known about what was archived below it.
 */
export const dataArtsCheckpointSchema = z.union([
  dataArtsCheckpointV2Schema,
  dataArtsCheckpointV1Schema.transform((v1): DataArtsCheckpoint => migrateDataArtsCheckpointV1(v1)),
]);

/** The v2 checkpoint equivalent to a v1 one (see {@link dataArtsCheckpointSchema}). */
export function migrateDataArtsCheckpointV1(v1: DataArtsCheckpointV1): DataArtsCheckpoint {
  if (v1.watermark === null) return initialCheckpoint();
  const keys = [...new Set(v1.idsAtWatermark.map(dataArtsRecordKey))].sort();
  return {
    v: 2,
    watermark: v1.watermark,
    kept: keys.length > 0 ? [[v1.watermark, keys]] : [],
    below: { since: v1.watermark, perSecond: [] },
  };
}

function initialCheckpoint(): DataArtsCheckpoint {
  // since = 0: on a fresh source everything listed is archived, so any later unseen log below the
  // watermark is a late one, whatever its time.
  return { v: 2, watermark: null, kept: [], below: { since: 0, perSecond: [] } };
}

/** The fields of an InstanceAccesslog this provider reads; the archived record is the element verbatim. */
const accessLogKeySchema = z.object({
  access_time: z.number().int().nonnegative(),
  id: z.string().nullish(),
  request_id: z.string().nullish(),
});

export type DataArtsAccessLogKey = z.infer<typeof accessLogKeySchema>;

/**
 * Stable record id: `<id>:<request_id>`. The doc describes `id` as "Cluster ID" but its example is
 * a per-log value (`0000…` + the request id); `request_id` is the gateway's id of the call. Either
 * alone might not be unique if the doc is right about the other, so both are kept. A record
 * carrying neither is named by the SHA-256 of its JSON (`sha256:<hex>`), stable because logs do not change.
 */
export function dataArtsRecordId(record: DataArtsAccessLogKey, raw?: unknown): string {
  const id = record.id ?? '';
  const requestId = record.request_id ?? '';
  if (id || requestId) return `${id}:${requestId}`;
  return `sha256:${createHash('sha256')
    .update(JSON.stringify(raw ?? record))
    .digest('hex')}`;
}

/**
 * The compact key the checkpoint keeps for a record id: 128 bits of its SHA-256, base64url (22
 * characters against ~60 for an id). A busy cluster lists thousands of logs within the allowance
 * and the checkpoint is copied into every manifest, so its size matters; at 128 bits a collision
 * (which would take a new log for an archived one) is out of reach for any realistic set.
 */
export function dataArtsRecordKey(recordId: string): string {
  return createHash('sha256').update(recordId).digest('base64url').slice(0, 22);
}

interface AccessLogEntry {
  time: number;
  id: string;
  key: string;
  raw: unknown;
}

function compareEntries(a: AccessLogEntry, b: AccessLogEntry): number {
  if (a.time !== b.time) return a.time - b.time;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The answer: `{ records, number }`, each element checked and kept verbatim. */
const answerSchema = z.object({ records: z.array(verbatim(accessLogKeySchema)), number: z.number().optional() });

/** Path of the access-log API for a project and cluster. */
export function dataArtsAccessLogPath(projectId: string, instanceId: string): string {
  return `/v1/${encodeURIComponent(projectId)}/service/instances/${encodeURIComponent(instanceId)}/accesslog`;
}

export interface DataArtsProviderOptions {
  /** Most records per page; a large backlog becomes several pages. @defaultValue 1000 */
  pageSize?: number;
  /** Throttling backoff floor in ms. @defaultValue see HuaweiClientOptions.throttleFloorMs */
  throttleFloorMs?: number;
}

/** Builds the DataArts access-log provider (options for tests and tuning). */
export function createHuaweiDataArtsAccessLogProvider(
  options: DataArtsProviderOptions = {},
): Provider<DataArtsParams, DataArtsCheckpoint, HuaweiCredentials> {
  const pageSize = Math.max(1, options.pageSize ?? 1000);
  return {
    id: HUAWEI_DATAARTS_ACCESSLOG,
    cloud: huaweiCloud,
    paramsSchema: dataArtsParamsSchema,
    checkpointSchema: dataArtsCheckpointSchema,
    defaultEndpoint: (params) => huaweiDefaultEndpoint('dayu', params),
    initialCheckpoint: () => initialCheckpoint(),
    pages: (source, from, context) => pages(source, from, context, pageSize, options.throttleFloorMs),
    summarize,
  };
}

async function* pages(
  source: SourceSpec<DataArtsParams, HuaweiCredentials>,
  from: DataArtsCheckpoint,
  context: ProviderContext,
  pageSize: number,
  throttleFloorMs: number | undefined,
): AsyncGenerator<ProviderPage<DataArtsCheckpoint>> {
  const { params } = source;
  const client = huaweiClientForSource(source, context, throttleFloorMs);
  const result = await client.get(
    dataArtsAccessLogPath(params.projectId, params.instanceId),
    { is_api: String(params.isApi) },
    { workspace: params.workspace },
    answerSchema,
  );
  const { number } = result.body;
  // Now, by the later-agreeing of the two clocks: a log cannot have started after it.
  const serverNow = Date.parse(result.headers.date ?? '');
  const localNow = context.now();
  const bound = Math.min(localNow, Number.isNaN(serverNow) ? localNow : serverNow) + FUTURE_TOLERANCE_MS;
  const entries = result.body.records.map(({ key, raw }): AccessLogEntry => {
    const id = dataArtsRecordId(key, raw);
    return { time: key.access_time, id, key: dataArtsRecordKey(id), raw };
  });

  // The doc does not promise `number` equals the list length, so a shortfall is not an error; but
  // it suggests the server cut the list, and logs it keeps back may age out before a poll sees them.
  if (number !== undefined && number > entries.length) {
    context.logger.warn(
      { number, listed: entries.length },
      `source ${source.id}: the server reported ${number} access logs but listed ${entries.length}: the list may be truncated`,
    );
  }

  // A record listed twice in one answer is one record.
  const distinct = new Map<string, AccessLogEntry>();
  for (const entry of entries) if (!distinct.has(entry.key)) distinct.set(entry.key, entry);

  const keptKeys = new Set(from.kept.flatMap(([, keys]) => keys));
  const watermark = from.watermark;
  const fresh: AccessLogEntry[] = [];
  const older: AccessLogEntry[] = [];
  let overlaps = false;
  for (const entry of distinct.values()) {
    if (watermark !== null && entry.time < watermark) {
      older.push(entry);
      overlaps = true;
    } else if (keptKeys.has(entry.key)) overlaps = true;
    else fresh.push(entry);
  }
  if (watermark !== null && distinct.size > 0 && !overlaps) {
    context.logger.warn(
      { watermark, oldest: [...distinct.values()].reduce((min, e) => Math.min(min, e.time), Infinity) },
      'no listed access log is at or before the checkpoint: logs may have aged out on the server before being archived',
    );
  }

  let checkpoint = from;
  const late = countLate(from, older);
  if (late.count > 0) {
    context.logger.warn(
      { late: late.count, watermark, latenessSeconds: params.latenessSeconds },
      `source ${source.id}: ${late.count} access logs were listed later than the lateness allowance ` +
        `(${params.latenessSeconds} s behind the newest archived one) and are NOT archived; raise params.latenessSeconds`,
    );
    checkpoint = { ...from, below: late.below };
  }

  const future = fresh.filter((e) => e.time > bound);
  if (future.length > 0) {
    context.guard(
      'dataarts-future-time',
      {
        logs: future.length,
        newest: future.reduce((max, e) => Math.max(max, e.time), 0),
        serverDate: result.headers.date,
        localTime: new Date(localNow).toISOString(),
      },
      `${future.length} access log(s) have an access_time past the server's Date and the local clock; archived, but the watermark stays at now`,
      future.length,
    );
  }

  const ordered = fresh.sort(compareEntries);
  // One context object for every record: the envelope renders it once per run of records (by identity).
  const streamContext = Object.freeze({ projectId: params.projectId, instanceId: params.instanceId, isApi: params.isApi });
  const latenessMs = params.latenessSeconds * 1000;
  const pages = [
    ...chunkPages(ordered, pageSize, (chunk) => {
      const records: ProviderRecord[] = chunk.map((e) => ({ id: e.id, context: streamContext, record: e.raw }));
      checkpoint = advance(checkpoint, chunk, latenessMs, bound);
      return { records, checkpoint };
    }),
  ];
  // Stated when the poll archived something or falls short: an idle poll restates nothing.
  const figure = listFigure(number, distinct.size, late.count, localNow);
  if (pages.length > 0) pages[pages.length - 1]!.completeness = [figure];
  else if (figure.note) pages.push({ records: [], checkpoint, completeness: [figure] });
  yield* pages;
}

/**
 * What one poll states: the server's `number` (the listed count when absent) against the logs
 * archived of those listed (all but the late ones). A poll that falls short is its own stream,
 * so the gap stays on record when later polls match again.
 */
function listFigure(number: number | undefined, listed: number, late: number, now: number): CompletenessFigure {
  const stated = number ?? listed;
  const archived = listed - late;
  const notes = [
    ...(stated > listed ? [`the server counted ${stated} access logs but listed ${listed}`] : []),
    ...(late > 0 ? [`${late} listed later than latenessSeconds and not archived`] : []),
  ];
  return {
    stream: notes.length > 0 ? `access log list at ${new Date(now).toISOString()}` : 'access log list',
    unit: 'records',
    stated,
    archived,
    at: now,
    ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
  };
}

/**
 * Listed logs older than the watermark that the per-second counts cannot account for: they were not
 * listed while they were within the allowance. Returns their number and the counts raised to what
 * is listed, so that the same logs are reported once (once a page carries the counts).
 */
function countLate(from: DataArtsCheckpoint, older: readonly AccessLogEntry[]): { count: number; below: DataArtsCheckpoint['below'] } {
  const listed = new Map<number, number>();
  for (const e of older) {
    if (e.time < from.below.since) continue; // below what is counted: nothing to compare with
    const second = Math.floor(e.time / 1000);
    listed.set(second, (listed.get(second) ?? 0) + 1);
  }
  const counts = new Map(from.below.perSecond);
  let count = 0;
  for (const [second, n] of listed) {
    const archived = counts.get(second) ?? 0;
    if (n > archived) {
      count += n - archived;
      counts.set(second, n);
    }
  }
  if (count === 0) return { count, below: from.below };
  return { count, below: { since: from.below.since, perSecond: [...counts].sort((a, b) => a[0] - b[0]) } };
}

/** The checkpoint after `chunk` (sorted, all new) has been archived on top of `from`. */
function advance(from: DataArtsCheckpoint, chunk: readonly AccessLogEntry[], latenessMs: number, bound: number): DataArtsCheckpoint {
  const last = chunk[chunk.length - 1];
  if (!last) return from;
  const byTime = new Map<number, Set<string>>(from.kept.map(([time, keys]) => [time, new Set(keys)]));
  for (const e of chunk) {
    const keys = byTime.get(e.time) ?? new Set<string>();
    keys.add(e.key);
    byTime.set(e.time, keys);
  }
  // `from.kept` is ascending and the chunk sorted, so the newest is the later of their last times;
  // a time past the clocks' bound counts as the bound.
  const newest = Math.min(bound, Math.max(from.kept.at(-1)?.[0] ?? -Infinity, last.time));
  // Never backwards: keys below the old watermark are gone, so lowering it would re-admit them.
  const watermark = Math.max(from.watermark ?? -Infinity, newest - latenessMs);

  const counts = new Map(from.below.perSecond);
  const kept: [number, string[]][] = [];
  for (const [time, keys] of [...byTime].sort((a, b) => a[0] - b[0])) {
    if (time >= watermark) kept.push([time, [...keys].sort()]);
    else if (time >= from.below.since) {
      // Leaving the kept set: only its count stays, to detect logs that show up later still.
      const second = Math.floor(time / 1000);
      counts.set(second, (counts.get(second) ?? 0) + keys.size);
    }
  }
  // Count for one allowance below the watermark, from a whole second so every kept bucket is complete.
  const since = Math.max(from.below.since, Math.floor((watermark - latenessMs) / 1000) * 1000);
  const perSecond = [...counts].filter(([second]) => (second + 1) * 1000 > since).sort((a, b) => a[0] - b[0]);
  return { v: 2, watermark, kept, below: { since, perSecond } };
}

function summarize(checkpoint: DataArtsCheckpoint): CheckpointSummary {
  if (checkpoint.watermark === null) return { text: 'nothing archived yet' };
  const ids = checkpoint.kept.reduce((n, [, keys]) => n + keys.length, 0);
  const newest = checkpoint.kept.at(-1)?.[0];
  const at = (ms: number) => new Date(ms).toISOString();
  return {
    text:
      `${newest === undefined ? '' : `newest archived access_time ${at(newest)}; `}` +
      `logs from ${at(checkpoint.watermark)} on are checked against ${ids} archived ids, ` +
      `older ones are taken as archived (late arrivals are logged as warnings)`,
  };
}

/** The provider as the registry lists it. */
export const huaweiDataArtsAccessLogProvider = createHuaweiDataArtsAccessLogProvider();
