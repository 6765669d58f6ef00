import { z } from 'zod';
import { huaweiClientForSource, huaweiCloud, huaweiDefaultEndpoint, type HuaweiCredentials } from './huawei/index.js';
import { copyDumps, copyDumpsSchema, dumpsStateSchema, initialDumpsState } from './dws/copy-dumps.js';
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
 * DWS: audit-log dump records of a cluster (`GET /v1.0/{project_id}/clusters/{cluster_id}/audit-log-records`).
 * Each record is a job dumping the audit log of [begin_time, end_time] to OBS; its `result` goes
 * from RUNNING to a final value. Every call returns all records, in no documented order, with no id.
 *
 * A record is archived once, in its final state. State kept (bounded):
 * - `pending`: records seen still in progress; each is archived when it turns final, however old.
 *   Its size is the number of jobs running at once (plus stuck ones, which `status` shows).
 * - `recent`: `[time, id]` of the most recently archived records (by `executor_time`), at most
 *   `recentIds` of them plus any sharing the oldest kept time; `floor` is that oldest kept time.
 *   A final record is new when it is pending, or when its time is ≥ floor and its id is not in
 *   `recent` (before any trimming, floor is null and every unknown id is new). The window makes
 *   late or out-of-order records safe as long as they are newer than the last `recentIds` archived
 *   ones; only a record first listed, already final, older than all of those is taken as archived.
 * A RUNNING record that is not pending is always tracked: nothing RUNNING has ever been archived.
 *
 * Final states: anything but the in-progress values below (and a missing `result`). An unknown
 * in-progress value would be archived too early, an unknown final one would stay pending and
 * visible in `status`; the list errs toward the listed DWS states.
 *
 * Pending is bounded: a record in progress for `maxPendingSeconds` since it was first seen (a
 * stuck job, an unknown final state) is archived in its current state with a warning, and one
 * that is no longer listed that long is dropped with a warning and reported as a gap; beyond
 * `maxPending` records the oldest are aged out alike.
 *
 * Each poll that archives something, or finds the list short of `count`, states `count` beside
 * the records listed (final ones archived, the others pending).
 *
 * With `copyDumps`, the files each SUCCESS dump wrote under its OBS prefix are archived too (see
 * dws/copy-dumps.ts): the record's prefix is queued in the checkpoint that archives the record.
 */

export const HUAWEI_DWS_AUDIT_LOG_RECORDS = 'huawei-dws-audit-log-records';

/** `result` values that mean the dump is still going. */
export const DWS_IN_PROGRESS: ReadonlySet<string> = new Set(['RUNNING', 'PENDING', 'WAITING', 'INIT', 'QUEUED', 'CREATING', 'PROCESSING']);

export const dwsParamsSchema = z
  .object({
    projectId: z.string().min(1),
    /** DWS cluster id (a UUID). */
    clusterId: z.string().min(1),
    /** Region (`cn-north-4`) for the default endpoint `https://dws.{region}.myhuaweicloud.com`. */
    region: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'expected a region id such as cn-north-4')
      .optional(),
    /**
     * Longest a record may stay in progress (or unlisted while pending) after it was first seen
     * before it is archived as it is (or dropped), with a warning. @defaultValue 604800 (7 days)
     */
    maxPendingSeconds: z
      .number()
      .int()
      .positive()
      .default(7 * 86_400),
    /** Most records kept pending; beyond it the oldest are aged out (see maxPendingSeconds). @defaultValue 1000 */
    maxPending: z.number().int().positive().default(1000),
    /** Copy the audit-log files each SUCCESS dump wrote to OBS into the archive (see copyDumps). */
    copyDumps: copyDumpsSchema.optional(),
  })
  .strict();

export type DwsParams = z.infer<typeof dwsParamsSchema>;

/** A record seen in progress: its id, ordering time and result then, and when it was first seen (ms). */
const pendingSchema = z.object({ id: z.string(), time: z.string(), result: z.string(), seenAt: z.number().int().optional() }).strict();

/**
 * `{ v: 1, floor: <executor_time> | null, recent: [[executor_time, id], …], pending: [{ id, time, result }, …] }`.
 */
export const dwsCheckpointSchema = z
  .object({
    v: z.literal(1),
    floor: z.string().nullable(),
    recent: z.array(z.tuple([z.string(), z.string()])),
    pending: z.array(pendingSchema),
    /** With `params.copyDumps`: the dumps still to copy and the files copied recently. */
    dumps: dumpsStateSchema.optional(),
  })
  .strict();

export type DwsCheckpoint = z.infer<typeof dwsCheckpointSchema>;
export type DwsPending = z.infer<typeof pendingSchema>;

const auditRecordKeySchema = z.object({
  cluster_id: z.string().nullish(),
  executor_time: z.string().nullish(),
  begin_time: z.string().nullish(),
  end_time: z.string().nullish(),
  result: z.string().nullish(),
  bucket_name: z.string().nullish(),
  location_prefix: z.string().nullish(),
});

export type DwsAuditRecordKey = z.infer<typeof auditRecordKeySchema>;

/**
 * Stable id: `<cluster_id>|<executor_time>|<begin_time>|<end_time>`. A dump job is its cluster, the
 * audit-log window it dumps and when it ran (a re-run of the same window is a new record); none of
 * these change when `result` does. `clusterId` stands in when a record omits `cluster_id`.
 */
export function dwsRecordId(record: DwsAuditRecordKey, clusterId: string): string {
  return [record.cluster_id ?? clusterId, record.executor_time ?? '', record.begin_time ?? '', record.end_time ?? ''].join('|');
}

/** Ordering time of a record: `executor_time` (`2022-10-31T09:11:31`, sorts as text), else `begin_time`. */
export function dwsRecordTime(record: DwsAuditRecordKey): string {
  return record.executor_time ?? record.begin_time ?? '';
}

/** True when `result` is final (the record may be archived). */
export function isDwsFinal(result: string | null | undefined): boolean {
  return typeof result === 'string' && result.length > 0 && !DWS_IN_PROGRESS.has(result.toUpperCase());
}

interface AuditEntry {
  id: string;
  /** Where a SUCCESS dump wrote its files. */
  dump?: { bucket: string; prefix: string } | undefined;
  time: string;
  result: string;
  final: boolean;
  raw: unknown;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareEntries(a: { time: string; id: string }, b: { time: string; id: string }): number {
  return compareText(a.time, b.time) || compareText(a.id, b.id);
}

/** The answer: `{ records: [...], count, cluster_id }`, each record checked and kept verbatim. */
const answerSchema = z.object({
  records: z.array(verbatim(auditRecordKeySchema)),
  count: z.number().optional(),
  cluster_id: z.string().nullish(),
});

/** Path of the audit-log-records API for a project and cluster. */
export function dwsAuditLogRecordsPath(projectId: string, clusterId: string): string {
  return `/v1.0/${encodeURIComponent(projectId)}/clusters/${encodeURIComponent(clusterId)}/audit-log-records`;
}

export interface DwsProviderOptions {
  /** Most records per page. @defaultValue 1000 */
  pageSize?: number;
  /** How many recently archived ids the checkpoint keeps (see the module comment). @defaultValue 256 */
  recentIds?: number;
  /** Throttling backoff floor in ms. @defaultValue see HuaweiClientOptions.throttleFloorMs */
  throttleFloorMs?: number;
}

/** Builds the DWS audit-log-records provider (options for tests and tuning). */
export function createHuaweiDwsAuditLogRecordsProvider(
  options: DwsProviderOptions = {},
): Provider<DwsParams, DwsCheckpoint, HuaweiCredentials> {
  const pageSize = Math.max(1, options.pageSize ?? 1000);
  const recentIds = Math.max(1, options.recentIds ?? 256);
  return {
    id: HUAWEI_DWS_AUDIT_LOG_RECORDS,
    cloud: huaweiCloud,
    paramsSchema: dwsParamsSchema,
    checkpointSchema: dwsCheckpointSchema,
    defaultEndpoint: (params) => huaweiDefaultEndpoint('dws', params),
    initialCheckpoint: () => ({ v: 1, floor: null, recent: [], pending: [] }),
    pages: (source, from, context) => pages(source, from, context, { pageSize, recentIds, throttleFloorMs: options.throttleFloorMs }),
    summarize,
  };
}

interface Tuning {
  pageSize: number;
  recentIds: number;
  throttleFloorMs: number | undefined;
}

async function* pages(
  source: SourceSpec<DwsParams, HuaweiCredentials>,
  from: DwsCheckpoint,
  context: ProviderContext,
  tuning: Tuning,
): AsyncGenerator<ProviderPage<DwsCheckpoint>> {
  const { params } = source;
  const client = huaweiClientForSource(source, context, tuning.throttleFloorMs);
  const result = await client.get(dwsAuditLogRecordsPath(params.projectId, params.clusterId), {}, {}, answerSchema);

  // One entry per id; if a record is listed twice, a final copy wins over a running one.
  const listed = new Map<string, AuditEntry>();
  for (const { key, raw } of result.body.records) {
    const entry: AuditEntry = {
      id: dwsRecordId(key, params.clusterId),
      time: dwsRecordTime(key),
      result: key.result ?? '',
      final: isDwsFinal(key.result),
      raw,
      dump: key.result === 'SUCCESS' && key.bucket_name ? { bucket: key.bucket_name, prefix: key.location_prefix ?? '' } : undefined,
    };
    const seen = listed.get(entry.id);
    if (!seen || (!seen.final && entry.final)) listed.set(entry.id, entry);
  }

  const now = context.now();
  const maxPendingMs = params.maxPendingSeconds * 1000;
  // A checkpoint from before `seenAt` was kept: the wait starts now.
  const pendingBefore = new Map(from.pending.map((p) => [p.id, { ...p, seenAt: p.seenAt ?? now }]));
  const recent = new Set(from.recent.map(([, id]) => id));
  const archivedAlready = (e: AuditEntry): boolean =>
    !pendingBefore.has(e.id) && (recent.has(e.id) || (from.floor !== null && e.time < from.floor));

  const toArchive: AuditEntry[] = [];
  // Pending entries not listed this time stay pending: a record that vanished and came back must not be lost.
  const pending = new Map(pendingBefore);
  for (const entry of listed.values()) {
    if (entry.final) {
      if (!archivedAlready(entry)) toArchive.push(entry);
    } else if (!recent.has(entry.id)) {
      // Nothing RUNNING was ever archived, so a running record not in `recent` is tracked whatever its age.
      pending.set(entry.id, { id: entry.id, time: entry.time, result: entry.result, seenAt: pendingBefore.get(entry.id)?.seenAt ?? now });
    }
  }

  // Bound pending: by age since first seen, then by count (oldest first).
  const lost: DwsPending[] = [];
  const byAge = sortedPending(pending).sort((a, b) => (a.seenAt ?? now) - (b.seenAt ?? now) || compareEntries(a, b));
  const excess = Math.max(0, byAge.length - params.maxPending);
  byAge.forEach((run, index) => {
    if (index >= excess && now - (run.seenAt ?? now) < maxPendingMs) return;
    const entry = listed.get(run.id);
    if (entry && !entry.final) {
      context.guard(
        'dws-pending-aged-out',
        { recordId: run.id, result: run.result, maxPendingSeconds: params.maxPendingSeconds, maxPending: params.maxPending },
        'audit-log dump record still in progress after maxPendingSeconds (or beyond maxPending); archived in its current state',
      );
      toArchive.push(entry);
    } else if (!entry) {
      context.guard(
        'dws-pending-lost',
        { recordId: run.id, result: run.result, maxPendingSeconds: params.maxPendingSeconds },
        'audit-log dump record pending but no longer listed after maxPendingSeconds; dropped without archiving (a gap)',
      );
      pending.delete(run.id);
      lost.push(run);
    }
  });
  toArchive.sort(compareEntries);
  const ctx = { projectId: params.projectId, clusterId: params.clusterId };

  // Newly running jobs change what `status` reports even when nothing is archived.
  const figures = [
    ...lost.map(
      (run): CompletenessFigure => ({
        stream: `record ${run.id}`,
        unit: 'records',
        stated: 1,
        archived: 0,
        at: now,
        note: `dump record of ${run.time} was ${run.result} and is no longer listed`,
      }),
    ),
  ];
  const inProgress = [...listed.values()].filter((e) => !e.final && !toArchive.includes(e)).length;
  const stated = result.body.count ?? listed.size;
  const short = stated > listed.size;
  const listFigure: CompletenessFigure = {
    stream: short ? `audit-log record list at ${new Date(now).toISOString()}` : 'audit-log record list',
    unit: 'records',
    stated,
    archived: listed.size - inProgress,
    ...(inProgress > 0 ? { pending: inProgress } : {}),
    at: now,
    ...(short ? { note: `the server counted ${stated} dump records but listed ${listed.size}` } : {}),
  };
  if (short || toArchive.length > 0) figures.push(listFigure);
  yield { records: [], checkpoint: { ...from, pending: sortedPending(pending) }, ...(figures.length > 0 ? { completeness: figures } : {}) };

  let window: [string, string][] = [...from.recent];
  let floor = from.floor;
  const copy = params.copyDumps;
  let dumps = from.dumps ?? (copy ? initialDumpsState() : undefined);
  yield* chunkPages(toArchive, tuning.pageSize, (chunk, rest) => {
    const records: ProviderRecord[] = chunk.map((e) => ({ id: e.id, context: { ...ctx }, record: e.raw }));
    for (const e of chunk) {
      pending.delete(e.id);
      window.push([e.time, e.id]);
    }
    // A SUCCESS record's files are queued in the same checkpoint that archives it: a crash in between copies them later.
    if (copy && dumps) {
      const queued = chunk.flatMap((e) => (e.dump ? [{ record: e.id, ...e.dump }] : []));
      if (queued.length > 0) dumps = { ...dumps, queue: [...dumps.queue, ...queued] };
    }
    // Records of later pages that are not pending are recognised only by time ≥ floor: never trim past them.
    const cap = rest.find((e) => !pending.has(e.id))?.time;
    ({ window, floor } = trim(window, floor, tuning.recentIds, cap));
    return {
      records,
      checkpoint: { v: 1, floor, recent: window, pending: sortedPending(pending), ...(dumps ? { dumps } : {}) },
    };
  });
  if (copy && dumps) {
    const base: DwsCheckpoint = { v: 1, floor, recent: window, pending: sortedPending(pending) };
    yield* copyDumps(dumps, { params: copy, context, recordContext: ctx }, (state) => ({ ...base, dumps: state }));
  }
}

/**
 * Keeps the `limit` newest `[time, id]` pairs (plus ties at the cut). The floor only moves forward,
 * and never past `cap` (the oldest record still to be archived in this drain).
 */
function trim(
  window: [string, string][],
  floor: string | null,
  limit: number,
  cap: string | undefined,
): { window: [string, string][]; floor: string | null } {
  const sorted = [...window].sort((a, b) => compareText(a[0], b[0]) || compareText(a[1], b[1]));
  if (sorted.length <= limit) return { window: sorted, floor };
  let next = sorted[sorted.length - limit]![0];
  if (cap !== undefined && next > cap) next = cap;
  if (floor !== null && floor > next) next = floor;
  return { window: sorted.filter(([time]) => time >= next), floor: next };
}

function sortedPending(pending: Map<string, DwsPending>): DwsPending[] {
  return [...pending.values()].sort(compareEntries);
}

function summarize(checkpoint: DwsCheckpoint): CheckpointSummary {
  const parts = [
    checkpoint.recent.length === 0 && checkpoint.floor === null
      ? 'nothing archived yet'
      : `${checkpoint.recent.length} recent records remembered${checkpoint.floor ? `, older than ${checkpoint.floor} settled` : ''}`,
    `${checkpoint.pending.length} pending (still running)`,
    ...(checkpoint.dumps
      ? [
          `${checkpoint.dumps.queue.length} dump(s) to copy${checkpoint.dumps.current ? `, copying ${checkpoint.dumps.current.key} (${checkpoint.dumps.current.offset} of ${checkpoint.dumps.current.size} bytes)` : ''}`,
        ]
      : []),
  ];
  return { text: parts.join('; '), pending: checkpoint.pending.map((p) => ({ ...p })) };
}

/** The provider as the registry lists it. */
export const huaweiDwsAuditLogRecordsProvider = createHuaweiDwsAuditLogRecordsProvider();
