import { z } from 'zod';
import { aliyunClientForSource, aliyunCloud, aliyunEndpoint, type AliyunCredentials, type AliyunProduct } from './aliyun/index.js';
import { readStreams, type StreamPage } from './kit/index.js';
import type { Provider, ProviderContext, ProviderPage, ProviderRecord, SourceSpec } from './provider.js';

/** DataWorks OpenAPI, version 2024-05-18. */
const PRODUCT: AliyunProduct = { code: 'dataworks', version: '2024-05-18' };

/** Default cap on one line held in memory: far above any sane log line, far below a worker's memory. */
const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

const paramsSchema = z
  .object({
    runIds: z
      .array(z.number().int().positive(), { invalid_type_error: 'expected array of integers' })
      .min(1, 'list at least one run Id')
      .refine((ids) => new Set(ids).size === ids.length, 'run Ids must be unique'),
    regionId: z.string().min(1).optional(),
    /**
     * Longest line (UTF-8 bytes, newline excluded) held in memory while its newline has not come.
     * A longer one stops the run with an error rather than grow memory without bound; raise it
     * when a log really has such lines. @defaultValue 67108864 (64 MiB)
     */
    maxLineBytes: z.number().int().positive().default(DEFAULT_MAX_LINE_BYTES),
  })
  .strict();

export type DataWorksDqScanLogParams = z.infer<typeof paramsSchema>;

/**
 * Per run Id (as a decimal string key), the UTF-8 byte offset of the first line not yet archived.
 * A run missing from the map starts at 0, so a run added to the config later is read from its start.
 */
const checkpointSchema = z.object({ offsets: z.record(z.string().regex(/^\d+$/), z.number().int().nonnegative()) }).strict();

export type DataWorksDqScanLogCheckpoint = z.infer<typeof checkpointSchema>;

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

/**
 * DataWorks data-quality scan run logs (GetDataQualityScanRunLog), one record per line.
 *
 * Lines are cut at `\n` only; the text is kept verbatim otherwise (a `\r` before the `\n` stays,
 * so the archive reproduces the log byte for byte). A segment may end mid-line: the partial line
 * is carried in memory to the next segment, and the page's checkpoint stays at that line's start,
 * so a crash re-reads it from there. A line longer than a segment is accumulated across calls in
 * the same page, up to `maxLineBytes`: beyond it the run is skipped like a refused one (below),
 * with an error naming the run and the line's offset. At NextOffset -1 the unterminated tail is
 * the last line and the checkpoint is the end of the log; later polls continue from there and
 * archive whatever was appended.
 *
 * Runs are read one after another. An error that concerns one run only (the API refusing the
 * request for it: a removed run, `EntityNotExists.*`) skips that run for this drain, with a
 * warning, and the others are read; once they are, the drain fails with one error naming the
 * skipped runs, so `status` shows it while the others keep progressing. Errors that concern every
 * run (rejected credentials, an endpoint that is not the API) still fail at once.
 */
export const aliyunDataWorksDqScanLog: Provider<DataWorksDqScanLogParams, DataWorksDqScanLogCheckpoint, AliyunCredentials> = {
  id: 'aliyun-dataworks-dq-scan-log',
  cloud: aliyunCloud,
  paramsSchema,
  checkpointSchema,
  defaultEndpoint: (params) => aliyunEndpoint(PRODUCT, params.regionId),
  initialCheckpoint: (params) => ({ offsets: Object.fromEntries(params.runIds.map((id) => [String(id), 0])) }),
  pages: (source, from, context) => readRuns(source, from, context),
  summarize: (checkpoint) => {
    const entries = Object.entries(checkpoint.offsets);
    const total = entries.reduce((sum, [, offset]) => sum + offset, 0);
    return { text: `${entries.length} run(s); ${total} bytes archived (${entries.map(([id, o]) => `${id}@${o}`).join(', ')})` };
  },
};

function readRuns(
  source: SourceSpec<DataWorksDqScanLogParams, AliyunCredentials>,
  from: DataWorksDqScanLogCheckpoint,
  context: ProviderContext,
): AsyncIterable<ProviderPage<DataWorksDqScanLogCheckpoint>> {
  const client = aliyunClientForSource(source, context, PRODUCT);
  const { maxLineBytes } = source.params;

  /** One run's lines from `offset` (the start of its first unarchived line); the cursor is that offset. */
  async function* readRun(runId: number, offset: number): AsyncGenerator<StreamPage<number>> {
    let lineStart = offset;
    // Next byte to ask for; ahead of lineStart while a partial line is carried.
    let fetchAt = lineStart;
    let partial = '';
    // UTF-8 bytes of `partial`, kept as it grows so a long line is not re-measured per segment.
    let partialBytes = 0;
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
      fetchAt += logBytes;
      const text = partial + log;
      const records: ProviderRecord[] = [];
      // Search only the new text: a long carried line must not be rescanned on every segment.
      const first = log.indexOf('\n');
      let cut = first === -1 ? -1 : partial.length + first;
      let from = 0;
      while (cut !== -1) {
        const line = text.slice(from, cut);
        records.push(lineRecord(runId, lineStart, line));
        lineStart += Buffer.byteLength(line, 'utf8') + 1;
        from = cut + 1;
        cut = text.indexOf('\n', from);
      }
      partial = text.slice(from);
      // With a newline in this segment the rest is part of it (short to measure); else it grew by the segment.
      partialBytes = first === -1 ? partialBytes + logBytes : Buffer.byteLength(partial, 'utf8');
      // Dropped (memory is the point); the lines before it are still yielded, and the cursor stays at its start.
      const tooLong = partialBytes > maxLineBytes;
      if (next === -1 && !tooLong && partial !== '') {
        records.push(lineRecord(runId, lineStart, partial));
        lineStart += partialBytes;
      } else if (next !== -1 && logBytes === 0) {
        // Not the end, yet no bytes: asking again from the same offset would loop forever.
        throw context.badAnswer(`run ${runId} returned an empty segment at byte ${fetchAt} without ending`);
      }
      yield { records, state: lineStart };
      if (tooLong) {
        throw context.unreadableStream(
          `run ${runId} has a line at byte ${lineStart} longer than maxLineBytes (${maxLineBytes} bytes; ${partialBytes} read without a newline)`,
          `raise sources[].params.maxLineBytes above the line's length (it is held in memory whole), or remove run ${runId} from params.runIds`,
        );
      }
      if (next === -1) return;
    }
  }

  return readStreams(
    {
      noun: 'run',
      field: 'runId',
      param: 'runIds',
      streams: source.params.runIds,
      key: String,
      from: from.offsets,
      initial: () => 0,
      checkpoint: (offsets) => ({ offsets }),
      read: readRun,
    },
    context,
  );
}

/** U+FFFD, what a JSON encoder puts for invalid UTF-8 such as half a character. */
const REPLACEMENT = '\uFFFD';
const TRAILING_REPLACEMENTS = /\uFFFD+$/u;

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

function lineRecord(runId: number, offset: number, line: string): ProviderRecord {
  const record: DataWorksLogLine = { offset, line };
  return { id: `${runId}:${offset}`, context: { runId }, record };
}
