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
  readonly #tokens = new Map<string, { executionId: string; filter: string; position: number }>();
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
    this.rpc = new AliyunRpcSimulator(API_VERSION, { ListExecutionLogs: (call) => this.#list(call) }, options);
  }

  /** Creates an execution with no log entries yet. */
  addExecution(id: string): void {
    if (this.#executions.has(id)) throw new Error(`execution ${id} exists`);
    this.#executions.set(id, []);
  }

  /** Appends entries (a string becomes a `System` entry of task `${id}.t0001`) to a running execution. */
  appendLogs(id: string, entries: readonly (string | Partial<OosExecutionLog>)[]): void {
    const logs = this.#executions.get(id);
    if (!logs) throw new Error(`no execution ${id}`);
    for (const entry of entries) {
      const given = typeof entry === 'string' ? { Message: entry } : entry;
      logs.push({
        TaskExecutionId: given.TaskExecutionId ?? `${id}.t0001`,
        Message: given.Message ?? '',
        LogType: given.LogType ?? 'System',
        Timestamp: given.Timestamp ?? new Date(Date.UTC(2026, 0, 1) + logs.length * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      });
    }
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

function filtered(logs: readonly OosExecutionLog[], taskExecutionId: string | undefined, logType: string | undefined): OosExecutionLog[] {
  return logs.filter((l) => (!taskExecutionId || l.TaskExecutionId === taskExecutionId) && (!logType || l.LogType === logType));
}
