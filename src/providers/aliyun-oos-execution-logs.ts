import { z } from 'zod';
import { aliyunClientForSource, aliyunCloud, aliyunEndpoint, type AliyunCredentials, type AliyunProduct } from './aliyun/index.js';
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
import { executionCursorSchema, executionLogReader, type ExecutionCursor } from './oos/execution-log.js';
import { executionListing } from './oos/executions.js';
import type { Provider, ProviderContext, ProviderPage, SourceSpec } from './provider.js';

/** OOS OpenAPI, version 2019-06-01. */
const PRODUCT: AliyunProduct = { code: 'oos', version: '2019-06-01' };

const discoverSchema = z
  .object({
    /** Executions of every template whose name contains this (ListExecutions `TemplateName`). */
    templateName: z.string().min(1),
    ...discoveryTimingShape,
    /** Executions per listing call (ListExecutions allows 10–100). @defaultValue 100 */
    pageSize: z.number().int().min(10).max(100).default(100),
  })
  .strict();

const paramsSchema = z
  .object({
    regionId: z.string().min(1),
    executionIds: z
      .array(z.string().min(1), { invalid_type_error: 'expected array of execution ids' })
      .min(1, 'list at least one execution id')
      .refine((ids) => new Set(ids).size === ids.length, 'execution ids must be unique')
      .optional(),
    /** Find executions with ListExecutions instead of (or beside) listing them in `executionIds`. */
    discover: discoverSchema.optional(),
    /** Entries per call. @defaultValue 50 */
    maxResults: z.number().int().min(1).max(100).default(50),
    taskExecutionId: z.string().min(1).optional(),
    logType: z.string().min(1).optional(),
    /** Executions read at once. @defaultValue 4 */
    concurrency: concurrencySchema,
  })
  .strict()
  .superRefine((params, ctx) => {
    if (!params.executionIds && !params.discover) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['executionIds'],
        message: 'list at least one execution id, or set params.discover',
      });
    }
  });

export type OosExecutionLogsParams = z.infer<typeof paramsSchema>;

/** Configured executions by id (see ExecutionCursor), and those found by `discover`. */
const checkpointSchema = z
  .object({
    executions: z.record(z.string().min(1), executionCursorSchema),
    discovered: discoveryStateSchema(executionCursorSchema).optional(),
  })
  .strict();

export type OosExecutionLogsCheckpoint = z.infer<typeof checkpointSchema>;

/**
 * OOS execution logs (ListExecutionLogs), one record per `ExecutionLogs` entry, verbatim, id
 * `<executionId>:<n>` for the n-th entry archived of that execution (see `executionLogReader`
 * for pages, tokens and the check of entries already archived).
 *
 * Executions are the configured `executionIds`, and with `discover` those ListExecutions lists
 * for the template from `since` on: each is archived until it is final and read to its end, then
 * retired (see `readDiscovered`). Executions are read `concurrency` at a time. An error that
 * concerns one execution only (the API refusing the request for it: `EntityNotExists.Execution`,
 * a token refused again and again) skips that execution for this drain, with a warning, and the
 * others are read; once they are, the drain fails with one error naming the skipped executions,
 * so `status` shows it while the others keep progressing. Errors that concern every execution
 * (rejected credentials, an endpoint that is not the API) still fail at once.
 */
export const aliyunOosExecutionLogs: Provider<OosExecutionLogsParams, OosExecutionLogsCheckpoint, AliyunCredentials> = {
  id: 'aliyun-oos-execution-logs',
  cloud: aliyunCloud,
  paramsSchema,
  checkpointSchema,
  defaultEndpoint: (params) => aliyunEndpoint(PRODUCT, params.regionId),
  initialCheckpoint: (params) => ({
    executions: Object.fromEntries((params.executionIds ?? []).map((id) => [id, { archived: 0, tokenIndex: 0 }])),
    ...(params.discover ? { discovered: initialDiscoveryState<ExecutionCursor>(instantMs(params.discover.since)) } : {}),
  }),
  pages: (source, from, context) => readExecutions(source, from, context),
  summarize: (checkpoint) => {
    const entries = Object.entries(checkpoint.executions);
    const total = entries.reduce((sum, [, s]) => sum + s.archived, 0);
    const fixed = `${entries.length} execution(s); ${total} log entries archived`;
    const discovered = checkpoint.discovered;
    if (!discovered) return { text: fixed };
    const active = Object.entries(discovered.active).map(([id, a]) => ({ executionId: id, status: a.status, archived: a.cursor.archived }));
    return { text: `${entries.length > 0 ? `${fixed}; ` : ''}${describeDiscovery(discovered, 'execution')}`, pending: active };
  },
};

async function* readExecutions(
  source: SourceSpec<OosExecutionLogsParams, AliyunCredentials>,
  from: OosExecutionLogsCheckpoint,
  context: ProviderContext,
): AsyncGenerator<ProviderPage<OosExecutionLogsCheckpoint>> {
  const { params } = source;
  const client = aliyunClientForSource(source, context, PRODUCT);
  let discovered: DiscoveryState<ExecutionCursor> | undefined =
    from.discovered ?? (params.discover ? initialDiscoveryState<ExecutionCursor>(instantMs(params.discover.since)) : undefined);
  const readExecution = executionLogReader({
    client,
    context,
    filter: params,
    startOf: (id) => discovered?.active[id]?.time ?? 0,
  });

  yield* readSourceStreams(
    {
      noun: 'execution',
      field: 'executionId',
      param: 'executionIds',
      configured: params.executionIds ? { streams: params.executionIds, key: (id) => id, from: from.executions } : undefined,
      discovery:
        params.discover && discovered
          ? {
              options: discoveryOptions(params.discover, params.concurrency),
              from: discovered,
              listing: executionListing(client, { regionId: params.regionId, ...params.discover }, context),
              streamOf: (key) => key,
            }
          : undefined,
      concurrency: params.concurrency,
      initial: () => ({ archived: 0, tokenIndex: 0 }),
      read: readExecution,
      checkpoint: (executions, state) => {
        discovered = state;
        return { executions, ...(state ? { discovered: state } : {}) };
      },
    },
    context,
  );
}
