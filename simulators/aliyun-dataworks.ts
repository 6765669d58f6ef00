import { AliyunRpcSimulator, aliyunError, aliyunOk, intParam, type AliyunActionCall, type AliyunSimulatorOptions } from './aliyun-rpc.js';
import { AliyunSimulatedApi } from './aliyun-simulated-api.js';
import type { SimResponse } from './http-simulator.js';

/** The API version this simulator implements (the seed page leaves it out; Alibaba's API reference names it). */
const API_VERSION = '2024-05-18';

export interface DataWorksSimulatorOptions extends AliyunSimulatorOptions {
  /** Most bytes of log per call; the real API sends at most 512 KB. @defaultValue 524288 */
  segmentBytes?: number;
  /**
   * Cut segments at exactly `segmentBytes`, even inside a character, and accept any Offset, as a
   * server slicing bytes would: a cut character is rendered as U+FFFD, as a JSON encoder renders
   * invalid UTF-8, so `Log` re-encodes to more bytes than NextOffset − Offset. @defaultValue false
   */
  cutMidCharacter?: boolean;
}

/** What ListDataQualityScanRuns says of a run, field by field from the API reference. */
export interface ScanRunInfo {
  projectId: number;
  /** The data-quality scan (monitor) the run belongs to. */
  scanId: number;
  /** ms since the epoch. */
  createTime: number;
  /** ms since the epoch; absent while running. */
  finishTime?: number;
  /** Pass | Running | Error | Fail | Warn. */
  status: string;
  parameters: { Name: string; Value: string }[];
}

/** Statuses the API reference lists as a run's outcome. */
const FINAL_STATUSES = new Set(['Pass', 'Error', 'Fail', 'Warn']);

interface Run {
  info: ScanRunInfo;
  /** Backing store with spare capacity, so appends are amortised O(appended) not O(log). */
  store: Buffer;
  length: number;
  /**
   * Ends of log at which the simulator answered NextOffset -1 while the log had no trailing
   * newline: a correct client archived the unterminated tail as a line there, so text appended
   * later starts a new line at that offset.
   */
  forcedBreaks: Set<number>;
}

/** One line a correct archive holds, as the DataWorks provider emits it. */
export interface DataWorksExpectedRecord {
  id: string;
  context: { runId: number };
  record: { offset: number; line: string };
}

/**
 * DataWorks `GetDataQualityScanRunLog` (2024-05-18): `Id` and `Offset` (bytes) in, `LogSegment
 * { Log, NextOffset }` out, at most `segmentBytes` per call cut on a UTF-8 character boundary
 * (unless `cutMidCharacter`), NextOffset -1 once the rest of the log has been returned.
 */
export class DataWorksSimulator extends AliyunSimulatedApi {
  readonly rpc: AliyunRpcSimulator;
  readonly #runs = new Map<number, Run>();
  #segmentBytes: number;
  readonly #cutMidCharacter: boolean;
  /** Segments that ended inside a character (only with `cutMidCharacter`). */
  cutCharacters = 0;
  /** Called before every ListDataQualityScanRuns answer (tests create runs mid-drain here). */
  beforeList: ((call: number) => void) | undefined;
  /** ListDataQualityScanRuns calls answered. */
  listCalls = 0;
  readonly #now: () => number;

  constructor(options: DataWorksSimulatorOptions = {}) {
    super();
    this.#segmentBytes = options.segmentBytes ?? 512 * 1024;
    this.#cutMidCharacter = options.cutMidCharacter ?? false;
    this.#now = options.now ?? Date.now;
    this.rpc = new AliyunRpcSimulator(
      API_VERSION,
      { GetDataQualityScanRunLog: (call) => this.#getLog(call), ListDataQualityScanRuns: (call) => this.#listRuns(call) },
      options,
    );
  }

  /** Changes the segment size from now on (tests shrink it to a few bytes). */
  setSegmentBytes(bytes: number): void {
    this.#segmentBytes = bytes;
  }

  /**
   * Creates run `id` with an initial log; `info` what ListDataQualityScanRuns lists of it
   * (default: project 10086, scan 2001, created now, Running).
   */
  addRun(id: number, text = '', info: Partial<ScanRunInfo> = {}): void {
    if (this.#runs.has(id)) throw new Error(`run ${id} exists`);
    const initial = Buffer.from(text, 'utf8');
    const createTime = info.createTime ?? this.#now();
    const full: ScanRunInfo = {
      projectId: 10086,
      scanId: 2001,
      createTime,
      status: 'Running',
      parameters: [{ Name: 'triggerTime', Value: String(Math.floor(createTime / 1000)) }],
      ...info,
    };
    this.#runs.set(id, { info: full, store: initial, length: initial.length, forcedBreaks: new Set() });
  }

  /** Sets a run's Status; a final one (Pass, Error, Fail, Warn) also sets its FinishTime (default now). */
  setRunStatus(id: number, status: string, finishTime: number = this.#now()): void {
    const run = this.#run(id);
    run.info.status = status;
    if (FINAL_STATUSES.has(status)) run.info.finishTime = finishTime;
    else delete run.info.finishTime;
  }

  /** What ListDataQualityScanRuns lists of run `id`. */
  runInfo(id: number): ScanRunInfo {
    return { ...this.#run(id).info };
  }

  /** Ids of every run, in creation order. */
  runIds(): number[] {
    return [...this.#runs].sort(([a, x], [b, y]) => x.info.createTime - y.info.createTime || a - b).map(([id]) => id);
  }

  /** Replaces a run's whole log (a log rewritten or cut short below what a client has read). */
  replaceLog(id: number, text: string): void {
    const run = this.#run(id);
    const bytes = Buffer.from(text, 'utf8');
    run.store = bytes;
    run.length = bytes.length;
    run.forcedBreaks = new Set();
  }

  /** Removes a run: it is no longer listed and its log is refused. */
  removeRun(id: number): void {
    this.#runs.delete(id);
  }

  #run(id: number): Run {
    const run = this.#runs.get(id);
    if (!run) throw new Error(`no run ${id}`);
    return run;
  }

  /** Appends text to a running run's log. */
  appendLog(id: number, text: string): void {
    const run = this.#runs.get(id);
    if (!run) throw new Error(`no run ${id}`);
    const added = Buffer.from(text, 'utf8');
    if (run.length + added.length > run.store.length) {
      const grown = Buffer.allocUnsafe(Math.max(run.length + added.length, run.store.length * 2, 4096));
      run.store.copy(grown, 0, 0, run.length);
      run.store = grown;
    }
    added.copy(run.store, run.length);
    run.length += added.length;
  }

  /** Every line of every run, as a correct archive holds it (ids `${runId}:${byteOffset}`). */
  expectedRecords(): DataWorksExpectedRecord[] {
    const out: DataWorksExpectedRecord[] = [];
    for (const [runId, run] of this.#runs) {
      const log = run.store.subarray(0, run.length);
      const breaks = [...run.forcedBreaks].sort((a, b) => a - b);
      let start = 0;
      let nextBreak = 0;
      const push = (end: number): void => {
        const record = { offset: start, line: log.subarray(start, end).toString('utf8') };
        out.push({ id: `${runId}:${start}`, context: { runId }, record });
      };
      for (;;) {
        const newline = log.indexOf(0x0a, start);
        const lineEnd = newline === -1 ? log.length : newline;
        // A forced break inside this line (a tail archived at NextOffset -1 before more text came).
        while (nextBreak < breaks.length && breaks[nextBreak]! <= start) nextBreak += 1;
        if (nextBreak < breaks.length && breaks[nextBreak]! <= lineEnd) {
          push(breaks[nextBreak]!);
          start = breaks[nextBreak]!;
          nextBreak += 1;
          continue;
        }
        if (newline === -1) {
          if (start < log.length) push(log.length);
          break;
        }
        push(newline);
        start = newline + 1;
      }
    }
    return out;
  }

  #listRuns(call: AliyunActionCall): SimResponse {
    this.listCalls += 1;
    this.beforeList?.(this.listCalls);
    const p = call.params;
    const projectId = intParam(p, 'ProjectId');
    if (projectId === undefined) {
      return aliyunError(
        400,
        'MissingParameter.ProjectId',
        'The input parameter "ProjectId" that is mandatory for processing this request is not supplied.',
        call.requestId,
      );
    }
    const scanId = intParam(p, 'DataQualityScanId');
    const from = intParam(p, 'CreateTimeFrom');
    const to = intParam(p, 'CreateTimeTo');
    const pageNumber = intParam(p, 'PageNumber') ?? 1;
    const pageSize = intParam(p, 'PageSize') ?? 10;
    for (const [name, value] of [
      ['ProjectId', projectId],
      ['DataQualityScanId', scanId],
      ['CreateTimeFrom', from],
      ['CreateTimeTo', to],
    ] as const) {
      if (Number.isNaN(value)) return aliyunError(400, 'InvalidParameter', `The parameter ${name} is invalid.`, call.requestId);
    }
    if (Number.isNaN(pageNumber) || pageNumber < 1)
      return aliyunError(400, 'InvalidParameter', 'The parameter PageNumber is invalid.', call.requestId);
    if (Number.isNaN(pageSize) || pageSize < 1 || pageSize > 100)
      return aliyunError(400, 'InvalidParameter', 'The parameter PageSize is invalid.', call.requestId);
    const sort = /^(CreateTime|Id)(?: (Asc|Desc))?$/.exec(p.get('SortBy') ?? 'Id Asc');
    if (!sort) return aliyunError(400, 'InvalidParameter', 'The parameter SortBy is invalid.', call.requestId);
    const status = p.get('Status');
    const matching = [...this.#runs]
      .filter(
        ([, r]) =>
          r.info.projectId === projectId &&
          (scanId === undefined || r.info.scanId === scanId) &&
          (from === undefined || r.info.createTime >= from) &&
          (to === undefined || r.info.createTime <= to) &&
          (!status || r.info.status === status),
      )
      .sort(([a, x], [b, y]) => (sort[1] === 'Id' ? a - b : x.info.createTime - y.info.createTime || a - b));
    if (sort[2] === 'Desc') matching.reverse();
    const page = matching.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
    return aliyunOk({
      RequestId: call.requestId,
      PageInfo: {
        TotalCount: matching.length,
        PageNumber: pageNumber,
        PageSize: pageSize,
        DataQualityScanRuns: page.map(([id, r]) => ({
          Id: id,
          CreateTime: r.info.createTime,
          ...(r.info.finishTime === undefined ? {} : { FinishTime: r.info.finishTime }),
          Status: r.info.status,
          Parameters: r.info.parameters,
        })),
      },
    });
  }

  #getLog(call: AliyunActionCall): SimResponse {
    const id = intParam(call.params, 'Id');
    const offset = intParam(call.params, 'Offset') ?? 0;
    if (id === undefined || Number.isNaN(id))
      return aliyunError(400, 'InvalidParameter', 'The parameter Id is required and must be an integer.', call.requestId);
    const run = this.#runs.get(id);
    if (!run)
      return aliyunError(404, 'EntityNotExists.DataQualityScanRun', `The data quality scan run ${id} does not exist.`, call.requestId);
    const log = run.store.subarray(0, run.length);
    if (Number.isNaN(offset) || offset < 0 || offset > log.length || (!this.#cutMidCharacter && isContinuationByte(log, offset))) {
      return aliyunError(400, 'InvalidParameter.Offset', `The parameter Offset ${call.params.get('Offset')} is invalid.`, call.requestId);
    }
    let end = Math.min(log.length, offset + this.#segmentBytes);
    if (this.#cutMidCharacter) {
      if (isContinuationByte(log, end)) this.cutCharacters += 1;
    } else {
      while (end > offset && isContinuationByte(log, end)) end -= 1;
    }
    if (end === offset && offset < log.length) {
      // A segment smaller than one character still returns that whole character.
      end = offset + 1;
      while (isContinuationByte(log, end)) end += 1;
    }
    const nextOffset = end >= log.length ? -1 : end;
    if (nextOffset === -1 && log.length > 0 && log[log.length - 1] !== 0x0a) run.forcedBreaks.add(log.length);
    return aliyunOk({
      RequestId: call.requestId,
      LogSegment: { Log: log.subarray(offset, end).toString('utf8'), NextOffset: nextOffset },
    });
  }
}

function isContinuationByte(buffer: Buffer, index: number): boolean {
  return index < buffer.length && ((buffer[index] ?? 0) & 0xc0) === 0x80;
}
