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

interface Run {
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

  constructor(options: DataWorksSimulatorOptions = {}) {
    super();
    this.#segmentBytes = options.segmentBytes ?? 512 * 1024;
    this.#cutMidCharacter = options.cutMidCharacter ?? false;
    this.rpc = new AliyunRpcSimulator(API_VERSION, { GetDataQualityScanRunLog: (call) => this.#getLog(call) }, options);
  }

  /** Changes the segment size from now on (tests shrink it to a few bytes). */
  setSegmentBytes(bytes: number): void {
    this.#segmentBytes = bytes;
  }

  /** Creates run `id` with an initial log. */
  addRun(id: number, text = ''): void {
    if (this.#runs.has(id)) throw new Error(`run ${id} exists`);
    const initial = Buffer.from(text, 'utf8');
    this.#runs.set(id, { store: initial, length: initial.length, forcedBreaks: new Set() });
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
