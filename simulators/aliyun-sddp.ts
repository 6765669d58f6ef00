import { AliyunRpcSimulator, aliyunError, aliyunOk, intParam, type AliyunActionCall, type AliyunSimulatorOptions } from './aliyun-rpc.js';
import { AliyunSimulatedApi } from './aliyun-simulated-api.js';
import type { SimResponse } from './http-simulator.js';

/** The API version this simulator implements (the seed page leaves it out; Alibaba's API reference names it). */
const API_VERSION = '2019-01-03';

/** One element of `Items`, field by field as DescribeDataMaskingRunHistory documents it. */
export interface SddpMaskingRun {
  Status: number;
  Type: number;
  SrcType: number;
  SrcTableName: string;
  MaskingCount: number;
  Percentage: number;
  DstType: number;
  FailMsg: string;
  FailCode: string;
  ConflictCount: number;
  DstTypeCode: string;
  EndTime: number;
  RunIndex: number;
  StartTime: number;
  HasSubProcess: number;
  HasDownloadFile: number;
  TaskId: string;
  SrcTypeCode: string;
  Id: number;
}

export interface SddpSimulatorOptions extends AliyunSimulatorOptions {
  /** Calls per AccessKey accepted in any one-second window. @defaultValue 10 */
  limitPerSecond?: number;
  /**
   * Slack in ms taken off the one-second window, for the jitter between a client's limiter
   * granting a call and the call arriving here (a busy event loop or GC pause delays a send by
   * tens of ms). @defaultValue 50
   */
  throttleToleranceMs?: number;
  /**
   * Most items the server puts on one page whatever PageSize asks for, as a server with a cap
   * of its own (below the documented 100) would; pages are then cut at this size. @defaultValue 100
   */
  maxPageSize?: number;
  /**
   * Misbehaviour: also match items whose StartTime is up to this many ms past the asked EndTime,
   * as a server with a looser bound would, so answers carry items outside the asked window.
   * @defaultValue 0
   */
  endTimeSlackMs?: number;
}

/** One item a correct archive holds, as the SDDP provider emits it. */
export interface SddpExpectedRecord {
  id: string;
  context: { windowStart: number; windowEnd: number };
  record: SddpMaskingRun;
}

/**
 * Data Security Center `DescribeDataMaskingRunHistory` (Sddp 2019-01-03).
 *
 * Window filter: an item matches when `StartTime(param) <= item.StartTime <= EndTime(param)`,
 * both bounds **inclusive** — the least favourable reading for a client that tiles time into
 * windows, since an item exactly on a boundary is returned by both neighbouring queries.
 * Items are ordered newest first (StartTime, then Id, descending); `CurrentPage` from 1,
 * `PageSize` default 10, at most 100 (`maxPageSize` lowers what is served). More than
 * `limitPerSecond` calls from one AccessKey in a one-second window answer 400
 * `Throttling.User`, counted in `throttled`.
 */
export class SddpSimulator extends AliyunSimulatedApi {
  readonly rpc: AliyunRpcSimulator;
  readonly #items: SddpMaskingRun[] = [];
  readonly #accepted = new Map<string, number[]>();
  readonly #limit: number;
  readonly #toleranceMs: number;
  readonly #maxPageSize: number;
  readonly #endTimeSlackMs: number;
  #nextId = 1;
  /** Calls refused by the per-account rate limit. */
  throttled = 0;

  constructor(options: SddpSimulatorOptions = {}) {
    super();
    this.#limit = options.limitPerSecond ?? 10;
    this.#toleranceMs = options.throttleToleranceMs ?? 50;
    this.#maxPageSize = options.maxPageSize ?? 100;
    this.#endTimeSlackMs = options.endTimeSlackMs ?? 0;
    this.rpc = new AliyunRpcSimulator(API_VERSION, { DescribeDataMaskingRunHistory: (call) => this.#describe(call) }, options);
  }

  /** Adds one execution record; missing fields get plausible values, `Id` the next free one. */
  addRun(item: Partial<SddpMaskingRun> & { StartTime: number }): SddpMaskingRun {
    const id = item.Id ?? this.#nextId;
    this.#nextId = Math.max(this.#nextId, id + 1);
    const full: SddpMaskingRun = {
      Status: 1,
      Type: 2,
      SrcType: 2,
      SrcTableName: `table_${id}`,
      MaskingCount: 100,
      Percentage: 100,
      DstType: 2,
      FailMsg: '',
      FailCode: '',
      ConflictCount: 0,
      DstTypeCode: 'OSS',
      EndTime: item.StartTime + 60_000,
      RunIndex: 1,
      HasSubProcess: 0,
      HasDownloadFile: 1,
      TaskId: 'mt4HBgtw1Bsim',
      SrcTypeCode: 'OSS',
      ...item,
      Id: id,
    };
    this.#items.push(full);
    return full;
  }

  /**
   * Changes a run's Status (a pending or running run finishing, say); a final Status (1–4) also
   * sets its EndTime to now, as a run ending does.
   */
  finishRun(id: number, status: number): SddpMaskingRun {
    const item = this.#items.find((i) => i.Id === id);
    if (!item) throw new Error(`no run ${id}`);
    item.Status = status;
    if (status >= 1 && status <= 4) item.EndTime = Date.now();
    return item;
  }

  /** Moves a run's StartTime (a pending run that starts, a record corrected by the service). */
  moveRun(id: number, startTime: number): SddpMaskingRun {
    const item = this.#items.find((i) => i.Id === id);
    if (!item) throw new Error(`no run ${id}`);
    item.StartTime = startTime;
    return item;
  }

  /**
   * Items a correct archive holds for windows of `windowMs` tiled from `from` (inclusive) up to
   * `until` (exclusive): ids `String(Id)`, context the half-open window holding the item's StartTime.
   * Runs whose Status is not final (-1 pending, 0 running) are not archived yet and are left out
   * unless `includeUnfinished` (for a run archived in its current state after the provider's
   * maximum wait).
   */
  expectedRecords(options: { from: number; until: number; windowMs: number; includeUnfinished?: boolean }): SddpExpectedRecord[] {
    return this.#items
      .filter((i) => i.StartTime >= options.from && i.StartTime < options.until)
      .filter((i) => options.includeUnfinished === true || (i.Status >= 1 && i.Status <= 4))
      .sort((a, b) => a.StartTime - b.StartTime || a.Id - b.Id)
      .map((record) => {
        const windowStart = options.from + Math.floor((record.StartTime - options.from) / options.windowMs) * options.windowMs;
        return { id: String(record.Id), context: { windowStart, windowEnd: windowStart + options.windowMs }, record };
      });
  }

  #admit(accessKeyId: string): number | undefined {
    const now = Date.now();
    const span = 1000 - this.#toleranceMs;
    const recent = (this.#accepted.get(accessKeyId) ?? []).filter((t) => now - t < span);
    this.#accepted.set(accessKeyId, recent);
    if (recent.length >= this.#limit) return span - (now - (recent[0] ?? now));
    recent.push(now);
    return undefined;
  }

  #describe(call: AliyunActionCall): SimResponse {
    const wait = this.#admit(call.accessKeyId);
    if (wait !== undefined) {
      this.throttled += 1;
      return aliyunError(400, 'Throttling.User', 'Request was denied due to user flow control.', call.requestId, {
        'x-ratelimit-user-api': `Limit:${this.#limit},Remain:0,TimeLeft:${Math.max(1, wait)},Reset:${Date.now() + wait}`,
      });
    }
    const p = call.params;
    const start = intParam(p, 'StartTime');
    const end = intParam(p, 'EndTime');
    const pageSize = intParam(p, 'PageSize') ?? 10;
    const currentPage = intParam(p, 'CurrentPage') ?? 1;
    for (const [name, value] of [
      ['StartTime', start],
      ['EndTime', end],
    ] as const) {
      if (Number.isNaN(value)) return aliyunError(400, 'InvalidParameter', `The parameter ${name} is invalid.`, call.requestId);
    }
    if (Number.isNaN(pageSize) || pageSize < 1 || pageSize > 100)
      return aliyunError(400, 'InvalidParameter', 'The parameter PageSize is invalid.', call.requestId);
    if (Number.isNaN(currentPage) || currentPage < 1)
      return aliyunError(400, 'InvalidParameter', 'The parameter CurrentPage is invalid.', call.requestId);
    const lang = p.get('Lang');
    if (lang && lang !== 'zh_cn' && lang !== 'en_us')
      return aliyunError(400, 'InvalidParameter', 'The parameter Lang is invalid.', call.requestId);
    const taskId = p.get('TaskId');
    const matching = this.#items
      .filter(
        (i) =>
          (start === undefined || i.StartTime >= start) &&
          (end === undefined || i.StartTime <= end + this.#endTimeSlackMs) &&
          (!taskId || i.TaskId === taskId),
      )
      .sort((a, b) => b.StartTime - a.StartTime || b.Id - a.Id);
    // A capping server pages by its own size, and says so in PageSize.
    const served = Math.min(pageSize, this.#maxPageSize);
    const items = matching.slice((currentPage - 1) * served, currentPage * served);
    return aliyunOk({ CurrentPage: currentPage, RequestId: call.requestId, PageSize: served, TotalCount: matching.length, Items: items });
  }
}
