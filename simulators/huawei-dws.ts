import { HttpSimulator, type SimRequest, type SimResponse } from './http-simulator.js';
import { huaweiErrorResponse, huaweiRequestId, renderHuaweiError, verifyHuaweiAuth, type HuaweiSimAuth } from './huawei-auth.js';
import { SimulatedApi } from './simulated-api.js';

/** AuditDumpRecord, field by field from the DWS API reference. */
export interface AuditDumpRecord {
  cluster_id: string;
  executor_time: string;
  begin_time: string;
  end_time: string;
  bucket_name: string;
  location_prefix: string;
  result: string;
  failed_reason?: string;
}

export interface HuaweiDwsSimulatorOptions {
  projectId: string;
  clusterId: string;
  auth: HuaweiSimAuth;
  /** Order of `records` in answers; the API documents none. @defaultValue 'desc' (newest first) */
  order?: 'desc' | 'asc' | 'shuffle';
  latencyMs?: number;
  random?: () => number;
}

/** Which record(s) `finish` moves: the provider's id, a predicate, or a record `addRecord` returned. */
export type DwsRecordMatch = string | AuditDumpRecord | ((record: AuditDumpRecord) => boolean);

/**
 * Simulates `GET /v1.0/{project_id}/clusters/{cluster_id}/audit-log-records`: every call returns
 * all dump records as `{ records, count, cluster_id }`, with a valid token or AK/SK signature.
 */
export class HuaweiDwsSimulator extends SimulatedApi {
  protected readonly http: HttpSimulator;
  readonly #options: HuaweiDwsSimulatorOptions;
  readonly #records: AuditDumpRecord[] = [];
  readonly #random: () => number;
  #clock = Date.UTC(2022, 9, 31, 9, 0, 0);

  constructor(options: HuaweiDwsSimulatorOptions) {
    super();
    this.#options = options;
    this.#random = options.random ?? Math.random;
    this.http = new HttpSimulator({
      handler: (request) => this.#handle(request),
      renderError: renderHuaweiError,
      ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }),
    });
  }

  /**
   * Adds a dump record (RUNNING unless `result` is given). Missing times follow a clock that moves
   * one minute per record; give `executor_time` to create ties or out-of-order records.
   */
  addRecord(partial: Partial<AuditDumpRecord> = {}): AuditDumpRecord {
    this.#clock += 60_000;
    const record: AuditDumpRecord = {
      result: 'RUNNING',
      cluster_id: this.#options.clusterId,
      executor_time: dwsTime(this.#clock),
      begin_time: dwsTime(this.#clock - 10 * 60_000),
      end_time: dwsTime(this.#clock),
      bucket_name: 'audit-bucket',
      location_prefix: 'dws/audit',
      ...partial,
    };
    this.#records.push(record);
    return record;
  }

  /** Adds `count` records, each RUNNING unless `result` is given. */
  addRecords(count: number, partial: Partial<AuditDumpRecord> = {}): AuditDumpRecord[] {
    return Array.from({ length: count }, () => this.addRecord(partial));
  }

  /** Moves matching records to `result` (`SUCCESS`, or `FAILED` with `failedReason`); returns how many. */
  finish(match: DwsRecordMatch, result: string, failedReason?: string): number {
    let count = 0;
    for (const record of this.#records.filter(this.#matcher(match))) {
      record.result = result;
      if (failedReason === undefined) delete record.failed_reason;
      else record.failed_reason = failedReason;
      count += 1;
    }
    return count;
  }

  /** Removes matching records from answers (a server purging old dumps); returns how many. */
  remove(match: DwsRecordMatch): number {
    const matches = this.#matcher(match);
    let count = 0;
    for (let i = this.#records.length - 1; i >= 0; i -= 1) {
      if (matches(this.#records[i]!)) {
        this.#records.splice(i, 1);
        count += 1;
      }
    }
    return count;
  }

  /** The records in an answer right now (copies). */
  currentRecords(): AuditDumpRecord[] {
    return this.#records.map((r) => ({ ...r }));
  }

  /** Ids of the records still in progress: what `summarize()` should list as pending. */
  pendingIds(): string[] {
    return this.#records
      .filter((r) => !isFinal(r.result))
      .map((r) => this.idOf(r))
      .sort();
  }

  /**
   * The archive id of a record, as the archive format fixes it:
   * `<cluster_id>|<executor_time>|<begin_time>|<end_time>`. Computed here, not taken from the
   * archiver, so an id change that would break existing archives fails the tests.
   */
  idOf(record: AuditDumpRecord): string {
    return [record.cluster_id ?? this.#options.clusterId, record.executor_time ?? '', record.begin_time ?? '', record.end_time ?? ''].join(
      '|',
    );
  }

  /** What a correct archive holds now: every final record once, in its final state, with the provider's ids. */
  expectedRecords(): { id: string; context: Record<string, unknown>; record: unknown }[] {
    const context = { projectId: this.#options.projectId, clusterId: this.#options.clusterId };
    return this.#records
      .filter((r) => isFinal(r.result))
      .map((r) => ({ id: this.idOf(r), context: { ...context }, record: { ...r } }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  #matcher(match: DwsRecordMatch): (record: AuditDumpRecord) => boolean {
    if (typeof match === 'function') return match;
    if (typeof match === 'string') return (r) => this.idOf(r) === match;
    const id = this.idOf(match);
    return (r) => this.idOf(r) === id;
  }

  #handle(request: SimRequest): SimResponse {
    const match = /^\/v1\.0\/([^/]+)\/clusters\/([^/]+)\/audit-log-records\/?$/.exec(request.path);
    if (request.method !== 'GET' || !match) {
      return huaweiErrorResponse(404, 'APIGW.0101', 'The API does not exist or has not been published in the environment');
    }
    const denied = verifyHuaweiAuth(request, this.#options.auth);
    if (denied) return denied;
    const [, projectId, clusterId] = match;
    if (decodeURIComponent(projectId ?? '') !== this.#options.projectId) {
      return huaweiErrorResponse(403, 'DWS.0003', 'The project id does not match the credentials');
    }
    if (decodeURIComponent(clusterId ?? '') !== this.#options.clusterId) {
      return huaweiErrorResponse(404, 'DWS.0001', 'The cluster does not exist');
    }
    const records = this.currentRecords();
    const order = this.#options.order ?? 'desc';
    records.sort((a, b) => (a.executor_time < b.executor_time ? -1 : a.executor_time > b.executor_time ? 1 : 0));
    if (order === 'desc') records.reverse();
    else if (order === 'shuffle') shuffle(records, this.#random);
    return {
      status: 200,
      headers: { 'x-request-id': huaweiRequestId() },
      body: { records, count: records.length, cluster_id: this.#options.clusterId },
    };
  }
}

/** `2022-10-31T09:11:31`, the API's time format (UTC, no zone suffix). */
function dwsTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

function shuffle<T>(list: T[], random: () => number): void {
  for (let i = list.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
}

/** `result` values of a dump still in progress, per the DWS API reference; any other value is final. */
const IN_PROGRESS = new Set(['RUNNING', 'PENDING', 'WAITING', 'INIT', 'QUEUED', 'CREATING', 'PROCESSING']);

function isFinal(result: string | undefined): boolean {
  return typeof result === 'string' && result.length > 0 && !IN_PROGRESS.has(result.toUpperCase());
}
