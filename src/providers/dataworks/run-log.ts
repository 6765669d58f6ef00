import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ProviderValidationError } from '../../errors/index.js';
import type { AliyunRpcClient } from '../aliyun/index.js';
import type { StreamPage } from '../kit/index.js';
import type { CompletenessFigure, ProviderContext, ProviderRecord } from '../provider.js';

/**
 * Where one run's log is archived to: `offset`, the UTF-8 byte offset of its first unarchived
 * line; `last`, `[byte, hash]` of the end of the last archived line (its final ≤ 4 KiB, from a
 * character boundary, to `offset`), re-read and compared on the next poll; `gen`, how many times
 * the log was found changed below the checkpoint and archived again from byte 0.
 */
export const runCursorSchema = z
  .object({
    offset: z.number().int().nonnegative(),
    last: z.tuple([z.number().int().nonnegative(), z.string().min(1)]).optional(),
    gen: z.number().int().positive().optional(),
  })
  .strict();

export type RunCursor = z.infer<typeof runCursorSchema>;

/** One archived line: where it starts in the log (bytes) and its text without the `\n`. */
export interface DataWorksLogLine {
  offset: number;
  line: string;
}

const responseSchema = z
  .object({
    RequestId: z.string().optional(),
    LogSegment: z.object({ Log: z.string(), NextOffset: z.number().int().min(-1) }).passthrough(),
  })
  .passthrough();

const ACTION = 'GetDataQualityScanRunLog';
/** Most bytes of the last archived line that are re-read and compared on the next poll. */
const CHECKED_TAIL_BYTES = 4096;

/** U+FFFD, what a JSON encoder puts for invalid UTF-8 such as half a character. */
const REPLACEMENT = '\uFFFD';
const TRAILING_REPLACEMENTS = /\uFFFD+$/u;

/** A segment of the log as the reader takes it: whole characters, their byte count, and whether it is the last. */
interface Segment {
  log: string;
  logBytes: number;
  end: boolean;
}

/** What reading a run's log needs besides the run and its cursor. */
export interface RunLogReaderOptions {
  client: AliyunRpcClient;
  context: ProviderContext;
  maxLineBytes: number;
  /** Start (ms) of a run for its completeness figures; 0 when unknown (a configured run id). */
  startOf(runId: number): number;
}

/** Record id of a line: `<runId>:<offset>`, or `<runId>#<gen>:<offset>` once the log was archived again. */
export function dataWorksLineId(runId: number, offset: number, gen: number | undefined): string {
  return gen ? `${runId}#${gen}:${offset}` : `${runId}:${offset}`;
}

/**
 * Reads one run's log from its cursor, a page per segment (see the provider's doc for lines,
 * partial lines and characters cut by the server).
 *
 * The API promises nothing about a log below what it has already returned. Before reading on,
 * the end of the last archived line is read again and compared with its hash; a log that is now
 * shorter than the checkpoint, or different there, is reported (warning, guard metric, a
 * completeness figure naming the difference) and archived again from byte 0 as the run's next
 * generation (ids `<runId>#<gen>:<offset>`, context `{ runId, generation }`), so no line of the
 * new log is lost and no id is reused. At NextOffset -1 the page states the log's byte length.
 */
export function runLogReader(options: RunLogReaderOptions): (runId: number, cursor: RunCursor) => AsyncGenerator<StreamPage<RunCursor>> {
  const { client, context, maxLineBytes } = options;

  async function* segments(runId: number, start: number): AsyncGenerator<Segment> {
    let fetchAt = start;
    for (;;) {
      const answer = await client.call(ACTION, { Id: runId, Offset: fetchAt }, responseSchema);
      const { NextOffset: next } = answer.body.LogSegment;
      let log = answer.body.LogSegment.Log;
      let logBytes = Buffer.byteLength(log, 'utf8');
      // A server cutting at a byte count may split a character; its JSON encoder renders the half
      // as U+FFFD, 3 bytes for 1–3 — as many as the half for 3 of an emoji's 4, so a byte count
      // that agrees with NextOffset does not prove the segment whole. A segment that is not the
      // last and ends with U+FFFD is therefore taken only up to its trailing U+FFFDs, and the
      // next call starts there, so the character is read whole (NextOffset could be mid-character).
      let trimmed = false;
      if (next !== -1 && log.endsWith(REPLACEMENT)) {
        const whole = wholeCharacters(log, next - fetchAt);
        if (whole !== undefined) {
          log = whole;
          logBytes = Buffer.byteLength(log, 'utf8');
          trimmed = true;
        }
      }
      // Our line offsets are byte arithmetic on the text; if the server's offsets disagree with it,
      // every later offset would be wrong.
      if (next !== -1 && (trimmed ? logBytes > next - fetchAt : next !== fetchAt + logBytes)) {
        throw context.badAnswer(`run ${runId} segment at byte ${fetchAt} holds ${logBytes} bytes but NextOffset is ${next}`);
      }
      if (next !== -1 && logBytes === 0) {
        // Not the end, yet no bytes: asking again from the same offset would loop forever.
        throw context.badAnswer(`run ${runId} returned an empty segment at byte ${fetchAt} without ending`);
      }
      yield { log, logBytes, end: next === -1 };
      fetchAt += logBytes;
      if (next === -1) return;
    }
  }

  /**
   * Re-reads `[last[0], offset)` and compares it: `ok` with the segments after it, or how the log
   * differs (`length`: its byte length when it is shorter, if known).
   */
  async function check(
    runId: number,
    offset: number,
    last: [number, string],
  ): Promise<{ ok: true; rest: AsyncGenerator<Segment> } | { ok: false; shrank: boolean; length: number | undefined }> {
    const expected = offset - last[0];
    const read = segments(runId, last[0]);
    const chunks: Buffer[] = [];
    let got = 0;
    let end = false;
    try {
      while (got < expected && !end) {
        const next = await read.next();
        if (next.done) break;
        chunks.push(Buffer.from(next.value.log, 'utf8'));
        got += next.value.logBytes;
        end = next.value.end;
      }
    } catch (error) {
      // The simulator (and, we assume, the API) refuses an Offset beyond the end of the log.
      if (error instanceof ProviderValidationError && /Offset/i.test(error.providerCode ?? '')) {
        return { ok: false, shrank: true, length: undefined };
      }
      throw error;
    }
    if (got < expected) return { ok: false, shrank: true, length: last[0] + got };
    const bytes = Buffer.concat(chunks);
    if (tailHash(bytes.subarray(0, expected)) !== last[1]) {
      await read.return(undefined);
      return { ok: false, shrank: false, length: undefined };
    }
    const beyond = bytes.subarray(expected);
    async function* rest(): AsyncGenerator<Segment> {
      if (beyond.length > 0 || end) yield { log: beyond.toString('utf8'), logBytes: beyond.length, end };
      if (!end) yield* read;
    }
    return { ok: true, rest: rest() };
  }

  return async function* readRun(runId: number, cursor: RunCursor): AsyncGenerator<StreamPage<RunCursor>> {
    let gen = cursor.gen;
    let lineStart = cursor.offset;
    let last = cursor.last;
    let feed: AsyncGenerator<Segment>;
    if (last !== undefined && last[0] < lineStart) {
      const checked = await check(runId, lineStart, last);
      if (checked.ok) {
        feed = checked.rest;
      } else {
        const figure = changedFigure(runId, gen, lineStart, checked.shrank, checked.length);
        context.guard(
          checked.shrank ? 'dataworks-log-shrank' : 'dataworks-log-changed',
          { runId, offset: lineStart, length: checked.length, generation: (gen ?? 0) + 1 },
          `run ${runId}: ${figure.note}; archiving the log again from byte 0 as generation ${(gen ?? 0) + 1}`,
        );
        gen = (gen ?? 0) + 1;
        lineStart = 0;
        last = undefined;
        yield { records: [], state: { offset: 0, gen }, completeness: [figure] };
        feed = segments(runId, 0);
      }
    } else {
      feed = segments(runId, lineStart);
    }

    let partial = '';
    // UTF-8 bytes of `partial`, kept as it grows so a long line is not re-measured per segment.
    let partialBytes = 0;
    // Bytes read so far: where the next segment starts.
    let readTo = lineStart;
    const startedAt = lineStart;
    // One context object for every line of the run: the envelope renders it once per page (by identity).
    const runContext = Object.freeze(gen ? { runId, generation: gen } : { runId });
    const record = (offset: number, line: string): ProviderRecord => {
      const item: DataWorksLogLine = { offset, line };
      return { id: dataWorksLineId(runId, offset, gen), context: runContext, record: item };
    };
    for await (const { log, logBytes, end } of feed) {
      readTo += logBytes;
      const records: ProviderRecord[] = [];
      // The last line of the page, newline included: only its end is hashed for the checkpoint.
      let lastLine: string | undefined;
      // Lines are cut from the segment itself, never from `partial + log`: searching or slicing
      // that concatenation makes V8 copy it into one flat string first, which cost ten times the
      // cutting (6 ms a 512 KiB segment). Only the carried line is joined to its end.
      const first = log.indexOf('\n');
      let cut = first;
      let from = 0;
      while (cut !== -1) {
        const line = from === 0 && partial !== '' ? partial + log.slice(0, cut) : log.slice(from, cut);
        records.push(record(lineStart, line));
        lineStart += Buffer.byteLength(line, 'utf8') + 1;
        from = cut + 1;
        cut = log.indexOf('\n', from);
        if (cut === -1) lastLine = `${line}\n`;
      }
      partial = first === -1 ? partial + log : log.slice(from);
      // With a newline in this segment the rest is part of it (short to measure); else it grew by the segment.
      partialBytes = first === -1 ? partialBytes + logBytes : Buffer.byteLength(partial, 'utf8');
      // Dropped (memory is the point); the lines before it are still yielded, and the cursor stays at its start.
      const tooLong = partialBytes > maxLineBytes;
      if (end && !tooLong && partial !== '') {
        records.push(record(lineStart, partial));
        lastLine = partial;
        lineStart += partialBytes;
      }
      if (lastLine !== undefined) last = checkedTail(lineStart, Buffer.from(lastLine, 'utf8'));
      const state: RunCursor = { offset: lineStart, ...(last ? { last } : {}), ...(gen ? { gen } : {}) };
      // Stated when the read got somewhere (or falls short): an idle poll restates nothing.
      const completeness: CompletenessFigure[] | undefined =
        end && (readTo > startedAt || lineStart < readTo)
          ? [
              {
                stream: streamName(runId, gen),
                unit: 'bytes',
                stated: readTo,
                archived: lineStart,
                at: options.startOf(runId),
                ...(lineStart < readTo ? { note: `a line at byte ${lineStart} is longer than maxLineBytes` } : {}),
              },
            ]
          : undefined;
      yield { records, state, ...(completeness ? { completeness } : {}) };
      if (tooLong) {
        throw context.unreadableStream(
          `run ${runId} has a line at byte ${lineStart} longer than maxLineBytes (${maxLineBytes} bytes; ${partialBytes} read without a newline)`,
          `raise sources[].params.maxLineBytes above the line's length (it is held in memory whole), or stop archiving run ${runId}`,
        );
      }
      if (end) return;
    }
  };

  function changedFigure(
    runId: number,
    gen: number | undefined,
    offset: number,
    shrank: boolean,
    length: number | undefined,
  ): CompletenessFigure {
    const note = shrank
      ? `the log is now ${length === undefined ? 'shorter' : `${length} bytes`}, less than the ${offset} bytes archived`
      : `the log differs from what was archived before byte ${offset}`;
    return {
      stream: streamName(runId, gen),
      unit: 'bytes',
      stated: shrank ? (length ?? 0) : offset,
      archived: offset,
      at: options.startOf(runId),
      note,
    };
  }
}

/** Name of a run (generation) in completeness figures. */
function streamName(runId: number, gen: number | undefined): string {
  return gen ? `run ${runId} generation ${gen}` : `run ${runId}`;
}

/** `[byte, hash]` of the end of the last archived line, which ends at `end` and is `bytes` long. */
function checkedTail(end: number, bytes: Buffer): [number, string] {
  let from = Math.max(0, bytes.length - CHECKED_TAIL_BYTES);
  // Start on a character: the API refuses an Offset inside one.
  while (from < bytes.length && ((bytes[from] ?? 0) & 0xc0) === 0x80) from += 1;
  return [end - (bytes.length - from), tailHash(bytes.subarray(from))];
}

function tailHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 22);
}

/**
 * `log` (a segment of `span` bytes that may end in a cut character) without its trailing U+FFFDs;
 * undefined when nothing would be left. A U+FFFD that was really in the log is then read again
 * from the next offset, which costs bytes, not correctness. The first character is kept when
 * `span` is at least 4 bytes: it was whole (a segment starts on a character and none is longer),
 * and keeping it makes every call progress through a run of real U+FFFDs.
 */
function wholeCharacters(log: string, span: number): string | undefined {
  let whole = log.replace(TRAILING_REPLACEMENTS, '');
  if (whole === '' && span >= 4) whole = log.slice(0, 1);
  return whole === '' ? undefined : whole;
}
