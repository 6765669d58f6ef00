import { z } from 'zod';
import { huaweiClientForSource, huaweiCloud, huaweiDefaultEndpoint, type HuaweiCredentials } from './huawei/index.js';
import { chunkPages, verbatim } from './kit/index.js';
import type { CheckpointSummary, Provider, ProviderContext, ProviderPage, ProviderRecord, SourceSpec } from './provider.js';

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
  })
  .strict();

export type DwsParams = z.infer<typeof dwsParamsSchema>;

const pendingSchema = z.object({ id: z.string(), time: z.string(), result: z.string() }).strict();

/**
 * `{ v: 1, floor: <executor_time> | null, recent: [[executor_time, id], …], pending: [{ id, time, result }, …] }`.
 */
export const dwsCheckpointSchema = z
  .object({
    v: z.literal(1),
    floor: z.string().nullable(),
    recent: z.array(z.tuple([z.string(), z.string()])),
    pending: z.array(pendingSchema),
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
    };
    const seen = listed.get(entry.id);
    if (!seen || (!seen.final && entry.final)) listed.set(entry.id, entry);
  }

  const pendingBefore = new Map(from.pending.map((p) => [p.id, p]));
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
      pending.set(entry.id, { id: entry.id, time: entry.time, result: entry.result });
    }
  }
  toArchive.sort(compareEntries);
  const ctx = { projectId: params.projectId, clusterId: params.clusterId };

  // Newly running jobs change what `status` reports even when nothing is archived.
  yield { records: [], checkpoint: { ...from, pending: sortedPending(pending) } };

  let window: [string, string][] = [...from.recent];
  let floor = from.floor;
  yield* chunkPages(toArchive, tuning.pageSize, (chunk, rest) => {
    const records: ProviderRecord[] = chunk.map((e) => ({ id: e.id, context: { ...ctx }, record: e.raw }));
    for (const e of chunk) {
      pending.delete(e.id);
      window.push([e.time, e.id]);
    }
    // Records of later pages that are not pending are recognised only by time ≥ floor: never trim past them.
    const cap = rest.find((e) => !pending.has(e.id))?.time;
    ({ window, floor } = trim(window, floor, tuning.recentIds, cap));
    return { records, checkpoint: { v: 1, floor, recent: window, pending: sortedPending(pending) } };
  });
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
  ];
  return { text: parts.join('; '), pending: checkpoint.pending.map((p) => ({ ...p })) };
}

/** The provider as the registry lists it. */
export const huaweiDwsAuditLogRecordsProvider = createHuaweiDwsAuditLogRecordsProvider();
