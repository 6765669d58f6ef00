import { z } from 'zod';
import { aliyunClientForSource, aliyunCloud, aliyunEndpoint, type AliyunCredentials, type AliyunProduct } from './aliyun/index.js';
import { runCursorSchema, runLogReader, type RunCursor } from './dataworks/run-log.js';
import { scanRunListing } from './dataworks/scan-runs.js';
import {
  concurrencySchema,
  describeDiscovery,
  discoveryOptions,
  discoveryStateSchema,
  discoveryTimingShape,
  initialDiscoveryState,
  instantMs,
  readSourceStreams,
  type DiscoveryState,
} from './discovery/index.js';
import type { Provider, ProviderContext, ProviderPage, SourceSpec } from './provider.js';

/** DataWorks OpenAPI, version 2024-05-18. */
const PRODUCT: AliyunProduct = { code: 'dataworks', version: '2024-05-18' };

export { dataWorksLineId, type DataWorksLogLine } from './dataworks/run-log.js';

/** Default cap on one line held in memory: far above any sane log line, far below a worker's memory. */
const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

const discoverSchema = z
  .object({
    /** DataWorks workspace (project) whose data-quality runs are archived. */
    projectId: z.number().int().positive(),
    /** Only the runs of this data-quality scan (monitor). @defaultValue every scan of the project */
    scanId: z.number().int().positive().optional(),
    ...discoveryTimingShape,
  })
  .strict();

const paramsSchema = z
  .object({
    runIds: z
      .array(z.number().int().positive(), { invalid_type_error: 'expected array of integers' })
      .min(1, 'list at least one run Id')
      .refine((ids) => new Set(ids).size === ids.length, 'run Ids must be unique')
      .optional(),
    /** Find runs with ListDataQualityScanRuns instead of (or beside) listing them in `runIds`. */
    discover: discoverSchema.optional(),
    regionId: z.string().min(1).optional(),
    /**
     * Longest line (UTF-8 bytes, newline excluded) held in memory while its newline has not come.
     * A longer one stops the run with an error rather than grow memory without bound; raise it
     * when a log really has such lines. @defaultValue 67108864 (64 MiB)
     */
    maxLineBytes: z.number().int().positive().default(DEFAULT_MAX_LINE_BYTES),
    /** Runs read at once. @defaultValue 4 */
    concurrency: concurrencySchema,
  })
  .strict()
  .superRefine((params, ctx) => {
    if (!params.runIds && !params.discover) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['runIds'], message: 'list at least one run Id, or set params.discover' });
    }
  });

export type DataWorksDqScanLogParams = z.infer<typeof paramsSchema>;

const runKey = z.string().regex(/^\d+$/);

/**
 * Configured runs (`runIds`), by run Id as a decimal string: `offsets`, the UTF-8 byte offset of
 * the first line not yet archived (a run missing from the map starts at 0, so a run added to the
 * config later is read from its start); `tails`, the end of the last archived line, checked on
 * the next poll; `generations`, for a run whose log changed below the checkpoint. Discovered
 * runs are under `discovered` (see DiscoveryState). A checkpoint of `{ offsets }` alone, as
 * earlier versions wrote it, reads as it always did.
 */
const checkpointSchema = z
  .object({
    offsets: z.record(runKey, z.number().int().nonnegative()),
    tails: z.record(runKey, z.tuple([z.number().int().nonnegative(), z.string().min(1)])).optional(),
    generations: z.record(runKey, z.number().int().positive()).optional(),
    discovered: discoveryStateSchema(runCursorSchema).optional(),
  })
  .strict();

export type DataWorksDqScanLogCheckpoint = z.infer<typeof checkpointSchema>;

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
 * archive whatever was appended. A log found shorter or different below the checkpoint is
 * reported and archived again as a new generation (see `runLogReader`).
 *
 * Runs are the configured `runIds`, and with `discover` the runs ListDataQualityScanRuns lists
 * for the project (and scan) from `since` on: each is archived until it is final and read to its
 * end, then retired (see `readDiscovered`). Runs are read `concurrency` at a time. An error that
 * concerns one run only (the API refusing the request for it: a removed run,
 * `EntityNotExists.*`) skips that run for this drain, with a warning, and the others are read;
 * once they are, the drain fails with one error naming the skipped runs, so `status` shows it
 * while the others keep progressing. Errors that concern every run (rejected credentials, an
 * endpoint that is not the API) still fail at once.
 */
export const aliyunDataWorksDqScanLog: Provider<DataWorksDqScanLogParams, DataWorksDqScanLogCheckpoint, AliyunCredentials> = {
  id: 'aliyun-dataworks-dq-scan-log',
  cloud: aliyunCloud,
  paramsSchema,
  checkpointSchema,
  defaultEndpoint: (params) => aliyunEndpoint(PRODUCT, params.regionId),
  initialCheckpoint: (params) => ({
    offsets: Object.fromEntries((params.runIds ?? []).map((id) => [String(id), 0])),
    ...(params.discover ? { discovered: initialDiscoveryState<RunCursor>(instantMs(params.discover.since)) } : {}),
  }),
  pages: (source, from, context) => readRuns(source, from, context),
  summarize: (checkpoint) => {
    const entries = Object.entries(checkpoint.offsets);
    const total = entries.reduce((sum, [, offset]) => sum + offset, 0);
    const fixed = `${entries.length} run(s); ${total} bytes archived (${entries.map(([id, o]) => `${id}@${o}`).join(', ')})`;
    const discovered = checkpoint.discovered;
    if (!discovered) return { text: fixed };
    const active = Object.entries(discovered.active).map(([id, a]) => ({ runId: Number(id), status: a.status, offset: a.cursor.offset }));
    return { text: `${entries.length > 0 ? `${fixed}; ` : ''}${describeDiscovery(discovered, 'run')}`, pending: active };
  },
};

async function* readRuns(
  source: SourceSpec<DataWorksDqScanLogParams, AliyunCredentials>,
  from: DataWorksDqScanLogCheckpoint,
  context: ProviderContext,
): AsyncGenerator<ProviderPage<DataWorksDqScanLogCheckpoint>> {
  const { params } = source;
  const client = aliyunClientForSource(source, context, PRODUCT);
  let fixed: Record<string, RunCursor> = Object.fromEntries(
    Object.entries(from.offsets).map(([key, offset]) => {
      const last = from.tails?.[key];
      const gen = from.generations?.[key];
      return [key, { offset, ...(last ? { last } : {}), ...(gen ? { gen } : {}) }];
    }),
  );
  let discovered: DiscoveryState<RunCursor> | undefined =
    from.discovered ?? (params.discover ? initialDiscoveryState<RunCursor>(instantMs(params.discover.since)) : undefined);
  const readRun = runLogReader({
    client,
    context,
    maxLineBytes: params.maxLineBytes,
    startOf: (runId) => discovered?.active[String(runId)]?.time ?? 0,
  });

  yield* readSourceStreams(
    {
      noun: 'run',
      field: 'runId',
      param: 'runIds',
      configured: params.runIds ? { streams: params.runIds, key: String, from: fixed } : undefined,
      discovery:
        params.discover && discovered
          ? {
              options: discoveryOptions(params.discover, params.concurrency),
              from: discovered,
              listing: scanRunListing(client, params.discover, context),
              streamOf: Number,
            }
          : undefined,
      concurrency: params.concurrency,
      initial: () => ({ offset: 0 }),
      read: readRun,
      checkpoint: (configured, state) => {
        fixed = configured;
        discovered = state;
        return composeCheckpoint(fixed, discovered);
      },
    },
    context,
  );
}

function composeCheckpoint(
  fixed: Readonly<Record<string, RunCursor>>,
  discovered: DiscoveryState<RunCursor> | undefined,
): DataWorksDqScanLogCheckpoint {
  const keys = Object.keys(fixed);
  const offsets = Object.fromEntries(keys.map((k) => [k, fixed[k]!.offset]));
  const tails = Object.fromEntries(keys.flatMap((k) => (fixed[k]!.last ? [[k, fixed[k]!.last!]] : [])));
  const generations = Object.fromEntries(keys.flatMap((k) => (fixed[k]!.gen ? [[k, fixed[k]!.gen!]] : [])));
  return {
    offsets,
    ...(Object.keys(tails).length > 0 ? { tails } : {}),
    ...(Object.keys(generations).length > 0 ? { generations } : {}),
    ...(discovered ? { discovered } : {}),
  };
}
