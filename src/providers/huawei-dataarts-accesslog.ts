import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  huaweiClientForSource,
  huaweiCredentialsSchema,
  huaweiDefaultEndpoint,
  type HuaweiCredentials,
} from './huawei/index.js';
import type { CheckpointSummary, Provider, ProviderContext, ProviderPage, ProviderRecord, SourceSpec } from './provider.js';

/**
 * DataArts Studio DataService: access logs of a cluster
 * (`GET /v1/{project_id}/service/instances/{instance_id}/accesslog?is_api=…`, `workspace` header).
 *
 * The API has no pagination and no time filter: every call returns the list the server currently
 * keeps. So progress is a watermark on `access_time` plus the ids already archived at exactly that
 * millisecond: a record is new when it is later than the watermark, or at the watermark with an
 * unseen id. Many logs can share a millisecond, and a poll can land between two of them; the ids at
 * the watermark make that neither lose nor repeat one, and they are all the state kept.
 *
 * Known limit: a log that first shows up with an `access_time` older than the watermark (a server
 * that ingests late) is taken as archived. The design chose this bounded state; a warning is logged
 * when a poll shares no record with the checkpoint (logs may have aged out unseen in between).
 */

export const HUAWEI_DATAARTS_ACCESSLOG = 'huawei-dataarts-accesslog';

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
    region: z.string().regex(/^[a-z0-9-]+$/, 'expected a region id such as cn-north-4').optional(),
  })
  .strict();

export type DataArtsParams = z.infer<typeof dataArtsParamsSchema>;

/** `{ v: 1, watermark: <access_time ms> | null, idsAtWatermark: [record ids archived at exactly that ms] }`. */
export const dataArtsCheckpointSchema = z
  .object({
    v: z.literal(1),
    watermark: z.number().int().nullable(),
    idsAtWatermark: z.array(z.string()),
  })
  .strict();

export type DataArtsCheckpoint = z.infer<typeof dataArtsCheckpointSchema>;

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
  return `sha256:${createHash('sha256').update(JSON.stringify(raw ?? record)).digest('hex')}`;
}

interface AccessLogEntry {
  time: number;
  id: string;
  raw: unknown;
}

function compareEntries(a: AccessLogEntry, b: AccessLogEntry): number {
  if (a.time !== b.time) return a.time - b.time;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Reads `{ records, number }`, keeping each element verbatim; throws on any element it cannot place. */
function readAccessLogs(body: unknown): AccessLogEntry[] {
  const envelope = z.object({ records: z.array(z.unknown()), number: z.number().optional() }).safeParse(body);
  if (!envelope.success) throw new Error('expected { records: [...], number }');
  return envelope.data.records.map((raw, index) => {
    const key = accessLogKeySchema.safeParse(raw);
    if (!key.success) {
      const issue = key.error.issues[0];
      throw new Error(`records[${index}].${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
    }
    return { time: key.data.access_time, id: dataArtsRecordId(key.data, raw), raw };
  });
}

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
    cloud: 'huawei',
    paramsSchema: dataArtsParamsSchema,
    credentialsSchema: huaweiCredentialsSchema,
    checkpointSchema: dataArtsCheckpointSchema,
    defaultEndpoint: (params) => huaweiDefaultEndpoint('dayu', params),
    initialCheckpoint: () => ({ v: 1, watermark: null, idsAtWatermark: [] }),
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
  const client = huaweiClientForSource(source, context, 'dayu', throttleFloorMs);
  const result = await client.get(
    dataArtsAccessLogPath(params.projectId, params.instanceId),
    { is_api: String(params.isApi) },
    { workspace: params.workspace },
    readAccessLogs,
  );

  const seenAtWatermark = new Set(from.idsAtWatermark);
  const watermark = from.watermark;
  const fresh = new Map<string, AccessLogEntry>();
  let overlaps = false;
  for (const entry of result.body) {
    const isNew = watermark === null || entry.time > watermark || (entry.time === watermark && !seenAtWatermark.has(entry.id));
    if (!isNew) overlaps = true;
    // A record listed twice in one answer is one record.
    else if (!fresh.has(entry.id)) fresh.set(entry.id, entry);
  }
  if (watermark !== null && result.body.length > 0 && !overlaps) {
    context.logger.warn(
      { source: source.id, provider: HUAWEI_DATAARTS_ACCESSLOG, watermark, oldest: result.body.reduce((min, e) => Math.min(min, e.time), Infinity) },
      'no listed access log is at or before the checkpoint: logs may have aged out on the server before being archived',
    );
  }
  const ordered = [...fresh.values()].sort(compareEntries);
  const context_ = { projectId: params.projectId, instanceId: params.instanceId, isApi: params.isApi };

  let checkpoint = from;
  for (let start = 0; start < ordered.length; start += pageSize) {
    const chunk = ordered.slice(start, start + pageSize);
    const records: ProviderRecord[] = chunk.map((e) => ({ id: e.id, context: { ...context_ }, record: e.raw }));
    checkpoint = advance(checkpoint, chunk);
    yield {
      records,
      checkpoint,
      requestIds: result.requestId ? [result.requestId] : [],
      bytes: start === 0 ? result.bytes : 0,
    };
  }
}

/** The checkpoint after `chunk` (sorted, all new) has been archived on top of `from`. */
function advance(from: DataArtsCheckpoint, chunk: readonly AccessLogEntry[]): DataArtsCheckpoint {
  const last = chunk[chunk.length - 1];
  if (!last) return from;
  const ids = last.time === from.watermark ? new Set(from.idsAtWatermark) : new Set<string>();
  for (const e of chunk) if (e.time === last.time) ids.add(e.id);
  return { v: 1, watermark: last.time, idsAtWatermark: [...ids].sort() };
}

function summarize(checkpoint: DataArtsCheckpoint): CheckpointSummary {
  if (checkpoint.watermark === null) return { text: 'nothing archived yet' };
  const at = new Date(checkpoint.watermark).toISOString();
  return { text: `archived up to access_time ${at} (${checkpoint.idsAtWatermark.length} ids at that ms)` };
}

/** The provider as the registry lists it. */
export const huaweiDataArtsAccessLogProvider = createHuaweiDataArtsAccessLogProvider();
