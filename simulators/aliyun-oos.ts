import { randomBytes } from 'node:crypto';
import { AliyunRpcSimulator, aliyunError, aliyunOk, intParam, type AliyunActionCall, type AliyunSimulatorOptions } from './aliyun-rpc.js';
import { AliyunSimulatedApi } from './aliyun-simulated-api.js';
import type { SimResponse } from './http-simulator.js';

/** The API version this simulator implements (the seed page leaves it out; Alibaba's API reference names it). */
const API_VERSION = '2019-06-01';

/** One entry of `ExecutionLogs`, as the OOS doc lists its fields. */
export interface OosExecutionLog {
  TaskExecutionId: string;
  Message: string;
  LogType: string;
  Timestamp: string;
}

export interface OosSimulatorOptions extends AliyunSimulatorOptions {
  /** The region the simulated executions live in; another RegionId finds nothing. @defaultValue cn-hangzhou */
  regionId?: string;
}

/** What ListExecutions says of an execution, field by field from the API reference (the ones the simulator fills). */
export interface OosExecutionInfo {
  TemplateName: string;
  /** Started | Queued | Running | Waiting | Pending | Success | Failed | Cancelled | Skipped. */
  Status: string;
  /** ISO-8601, whole seconds. */
  StartDate: string;
  EndDate?: string;
  UpdateDate: string;
  Mode: string;
  Category: string;
}

/** Statuses the API reference lists as an execution's outcome. */
const FINAL_STATUSES = new Set(['Success', 'Failed', 'Cancelled', 'Skipped']);

/** One entry a correct archive holds, as the OOS provider emits it. */
export interface OosExpectedRecord {
  id: string;
  context: { executionId: string };
  record: OosExecutionLog;
}

/** Code the simulator answers for an expired or unknown NextToken; the provider handles it. */
export const OOS_INVALID_TOKEN_CODE = 'InvalidParameter.NextToken';

/**
 * OOS `ListExecutionLogs` (2019-06-01): `ExecutionId`, optional `TaskExecutionId` / `LogType`
 * filters, `MaxResults` (1–100, default 50) and an opaque `NextToken`; answers `ExecutionLogs`,
 * `IsTruncated`, `MaxResults` and `NextToken` (omitted on the last page). A token names a position
 * in the (filtered) list and can be re-used until `expireTokens()` invalidates every token.
 */
export class OosSimulator extends AliyunSimulatedApi {
  readonly rpc: AliyunRpcSimulator;
  readonly #regionId: string;
  readonly #executions = new Map<string, OosExecutionLog[]>();
  readonly #info = new Map<string, OosExecutionInfo>();
  readonly #tokens = new Map<string, { executionId: string; filter: string; position: number }>();
  readonly #listTokens = new Map<string, { filter: string; position: number }>();
  readonly #now: () => number;
  /** Called before every ListExecutions answer (tests start executions mid-drain here). */
  beforeList: ((call: number) => void) | undefined;
  /** ListExecutions calls answered. */
  listCalls = 0;
  /** Times a refused (expired or unknown) token was presented. */
  refusedTokens = 0;
  /**
   * Misbehaviour: this many calls (Infinity: all) answer an empty page marked truncated, with a
   * new token for the same position, as a server stuck in a loop would.
   */
  emptyTruncatedPages = 0;

  constructor(options: OosSimulatorOptions = {}) {
    super();
    this.#regionId = options.regionId ?? 'cn-hangzhou';
    this.#now = options.now ?? Date.now;
    this.rpc = new AliyunRpcSimulator(
      API_VERSION,
      { ListExecutionLogs: (call) => this.#list(call), ListExecutions: (call) => this.#listExecutions(call) },
      options,
    );
  }

  /**
   * Creates an execution with no log entries yet; `info` what ListExecutions lists of it (default:
   * template ACS-ECS-BulkyRunCommand, started now, Running).
   */
  addExecution(id: string, info: Partial<OosExecutionInfo> = {}): void {
    if (this.#executions.has(id)) throw new Error(`execution ${id} exists`);
    this.#executions.set(id, []);
    const start = info.StartDate ?? oosTime(this.#now());
    this.#info.set(id, {
      TemplateName: 'ACS-ECS-BulkyRunCommand',
      Status: 'Running',
      StartDate: start,
      UpdateDate: start,
      Mode: 'Automatic',
      Category: 'Other',
      ...info,
    });
  }

  /** Sets an execution's Status; a final one (Success, Failed, Cancelled, Skipped) also sets EndDate (default now). */
  setExecutionStatus(id: string, status: string, endDate: number = this.#now()): void {
    const info = this.#info.get(id);
    if (!info) throw new Error(`no execution ${id}`);
    info.Status = status;
    info.UpdateDate = oosTime(endDate);
    if (FINAL_STATUSES.has(status)) info.EndDate = oosTime(endDate);
    else delete info.EndDate;
  }

  /** What ListExecutions lists of an execution. */
  executionInfo(id: string): OosExecutionInfo {
    const info = this.#info.get(id);
    if (!info) throw new Error(`no execution ${id}`);
    return { ...info };
  }

  /** Ids of every execution, in the order they were added. */
  executionIds(): string[] {
    return [...this.#executions.keys()];
  }

  /**
   * Inserts entries at `index` of an execution's log, before entries already listed (a server
   * that orders late entries by their time): what a client that counts entries misses.
   */
  insertLogs(id: string, index: number, entries: readonly (string | Partial<OosExecutionLog>)[]): void {
    const logs = this.#executions.get(id);
    if (!logs) throw new Error(`no execution ${id}`);
    const made = entries.map((entry, i) => this.#entry(id, entry, index + i));
    logs.splice(index, 0, ...made);
  }

  /** Removes `count` entries at `index` of an execution's log. */
  removeLogs(id: string, index: number, count: number): void {
    const logs = this.#executions.get(id);
    if (!logs) throw new Error(`no execution ${id}`);
    logs.splice(index, count);
  }

  /** The entries of an execution as an unfiltered listing shows them now. */
  logsOf(id: string): OosExecutionLog[] {
    return [...(this.#executions.get(id) ?? [])];
  }

  #entry(id: string, entry: string | Partial<OosExecutionLog>, index: number): OosExecutionLog {
    const given = typeof entry === 'string' ? { Message: entry } : entry;
    return {
      TaskExecutionId: given.TaskExecutionId ?? `${id}.t0001`,
      Message: given.Message ?? '',
      LogType: given.LogType ?? 'System',
      Timestamp: given.Timestamp ?? new Date(Date.UTC(2026, 0, 1) + index * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
  }

  /** Appends entries (a string becomes a `System` entry of task `${id}.t0001`) to a running execution. */
  appendLogs(id: string, entries: readonly (string | Partial<OosExecutionLog>)[]): void {
    const logs = this.#executions.get(id);
    if (!logs) throw new Error(`no execution ${id}`);
    for (const entry of entries) logs.push(this.#entry(id, entry, logs.length));
  }

  /** Invalidates every NextToken handed out so far, as a token's lifetime running out does. */
  expireTokens(): void {
    this.#tokens.clear();
  }

  /** Entries a correct archive holds (ids `${executionId}:${index}`), under the given filters. */
  expectedRecords(filter: { taskExecutionId?: string; logType?: string } = {}): OosExpectedRecord[] {
    const out: OosExpectedRecord[] = [];
    for (const [executionId, logs] of this.#executions) {
      filtered(logs, filter.taskExecutionId, filter.logType).forEach((record, index) => {
        out.push({ id: `${executionId}:${index}`, context: { executionId }, record });
      });
    }
    return out;
  }

  #listExecutions(call: AliyunActionCall): SimResponse {
    this.listCalls += 1;
    this.beforeList?.(this.listCalls);
    const p = call.params;
    const region = p.get('RegionId');
    const maxResults = intParam(p, 'MaxResults') ?? 50;
    if (Number.isNaN(maxResults) || maxResults < 10 || maxResults > 100) {
      return aliyunError(400, 'InvalidParameter.MaxResults', 'The parameter MaxResults must be between 10 and 100.', call.requestId);
    }
    const times: Record<string, number | undefined> = {};
    for (const name of ['StartDateAfter', 'StartDateBefore', 'EndDateAfter', 'EndDateBefore']) {
      const raw = p.get(name);
      if (raw === null || raw === '') continue;
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(raw)) {
        return aliyunError(400, 'InvalidParameter', `The parameter ${name} is not an ISO-8601 UTC time.`, call.requestId);
      }
      times[name] = Date.parse(raw);
    }
    const sortField = p.get('SortField') ?? 'StartDate';
    const sortOrder = p.get('SortOrder') ?? 'Descending';
    if (!['StartDate', 'EndDate', 'Status'].includes(sortField) || !['Ascending', 'Descending'].includes(sortOrder)) {
      return aliyunError(400, 'InvalidParameter', 'The parameter SortField or SortOrder is invalid.', call.requestId);
    }
    const template = p.get('TemplateName');
    const status = p.get('Status');
    const executionId = p.get('ExecutionId');
    const within = (value: string | undefined, after: number | undefined, before: number | undefined): boolean => {
      if (after === undefined && before === undefined) return true;
      if (value === undefined) return false;
      const t = Date.parse(value);
      return (after === undefined || t >= after) && (before === undefined || t <= before);
    };
    const matching = [...this.#info]
      .filter(
        ([id, info]) =>
          (!region || region === this.#regionId) &&
          (!executionId || id === executionId) &&
          (!template || info.TemplateName.includes(template)) &&
          (!status || info.Status === status) &&
          within(info.StartDate, times.StartDateAfter, times.StartDateBefore) &&
          within(info.EndDate, times.EndDateAfter, times.EndDateBefore),
      )
      .sort(([a, x], [b, y]) => {
        const key = (i: OosExecutionInfo) =>
          sortField === 'Status' ? i.Status : sortField === 'EndDate' ? (i.EndDate ?? '') : i.StartDate;
        const order = key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : a < b ? -1 : a > b ? 1 : 0;
        return sortOrder === 'Ascending' ? order : -order;
      });
    const filterKey = JSON.stringify([region, executionId, template, status, times, sortField, sortOrder, maxResults]);
    let position = 0;
    const token = p.get('NextToken');
    if (token) {
      const known = this.#listTokens.get(token);
      if (!known || known.filter !== filterKey) {
        return aliyunError(400, OOS_INVALID_TOKEN_CODE, 'The specified NextToken is invalid or has expired.', call.requestId);
      }
      position = known.position;
    }
    const page = matching.slice(position, position + maxResults);
    const body: Record<string, unknown> = {
      RequestId: call.requestId,
      MaxResults: maxResults,
      TotalCount: matching.length,
      Executions: page.map(([id, info]) => ({ ExecutionId: id, ...info, RamRole: 'OOSServiceRole', ExecutedBy: '1309252800' })),
    };
    if (position + maxResults < matching.length) {
      const next = randomBytes(24).toString('base64');
      this.#listTokens.set(next, { filter: filterKey, position: position + maxResults });
      body.NextToken = next;
    }
    return aliyunOk(body);
  }

  #list(call: AliyunActionCall): SimResponse {
    const p = call.params;
    const executionId = p.get('ExecutionId');
    if (!executionId)
      return aliyunError(
        400,
        'MissingParameter.ExecutionId',
        'The input parameter "ExecutionId" that is mandatory for processing this request is not supplied.',
        call.requestId,
      );
    const region = p.get('RegionId');
    const logs = this.#executions.get(executionId);
    if (!logs || (region && region !== this.#regionId)) {
      return aliyunError(404, 'EntityNotExists.Execution', `The specified execution ${executionId} does not exist.`, call.requestId);
    }
    const maxResults = intParam(p, 'MaxResults') ?? 50;
    if (Number.isNaN(maxResults) || maxResults < 1 || maxResults > 100) {
      return aliyunError(400, 'InvalidParameter.MaxResults', 'The parameter MaxResults must be between 1 and 100.', call.requestId);
    }
    const taskExecutionId = p.get('TaskExecutionId') ?? undefined;
    const logType = p.get('LogType') ?? undefined;
    const filterKey = `${executionId}\u0000${taskExecutionId ?? ''}\u0000${logType ?? ''}`;
    let position = 0;
    const token = p.get('NextToken');
    if (token) {
      const known = this.#tokens.get(token);
      if (!known || known.filter !== filterKey) {
        this.refusedTokens += 1;
        return aliyunError(400, OOS_INVALID_TOKEN_CODE, 'The specified NextToken is invalid or has expired.', call.requestId);
      }
      position = known.position;
    }
    const all = filtered(logs, taskExecutionId, logType);
    if (this.emptyTruncatedPages > 0) {
      this.emptyTruncatedPages -= 1;
      const same = randomBytes(24).toString('base64');
      this.#tokens.set(same, { executionId, filter: filterKey, position });
      return aliyunOk({ RequestId: call.requestId, IsTruncated: true, MaxResults: maxResults, ExecutionLogs: [], NextToken: same });
    }
    const page = all.slice(position, position + maxResults);
    const truncated = position + maxResults < all.length;
    const body: Record<string, unknown> = {
      RequestId: call.requestId,
      IsTruncated: truncated,
      MaxResults: maxResults,
      ExecutionLogs: page,
    };
    if (truncated) {
      const next = randomBytes(24).toString('base64');
      this.#tokens.set(next, { executionId, filter: filterKey, position: position + maxResults });
      body.NextToken = next;
    }
    return aliyunOk(body);
  }
}

function filtered(
  logs: readonly OosExecutionLog[],
  taskExecutionId: string | undefined,
  logType: string | undefined,
): readonly OosExecutionLog[] {
  // Unfiltered is the common call: copying a long execution's log for every page made each call O(n).
  if (!taskExecutionId && !logType) return logs;
  return logs.filter((l) => (!taskExecutionId || l.TaskExecutionId === taskExecutionId) && (!logType || l.LogType === logType));
}

/** `2019-05-16T10:26:14Z`: the API's time format. */
function oosTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
