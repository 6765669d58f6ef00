import { z } from 'zod';
import { ProviderValidationError } from '../errors/index.js';
import { aliyunClientForSource, aliyunCloud, aliyunEndpoint, type AliyunCredentials, type AliyunProduct } from './aliyun/index.js';
import { readStreams, type StreamPage } from './kit/index.js';
import type { Provider, ProviderContext, ProviderPage, ProviderRecord, SourceSpec } from './provider.js';

/** OOS OpenAPI, version 2019-06-01. */
const PRODUCT: AliyunProduct = { code: 'oos', version: '2019-06-01' };

const paramsSchema = z
  .object({
    regionId: z.string().min(1),
    executionIds: z
      .array(z.string().min(1), { invalid_type_error: 'expected array of execution ids' })
      .min(1, 'list at least one execution id')
      .refine((ids) => new Set(ids).size === ids.length, 'execution ids must be unique'),
    /** Entries per call. @defaultValue 50 */
    maxResults: z.number().int().min(1).max(100).default(50),
    taskExecutionId: z.string().min(1).optional(),
    logType: z.string().min(1).optional(),
  })
  .strict();

export type OosExecutionLogsParams = z.infer<typeof paramsSchema>;

/**
 * Per execution: `archived` entries are in the archive (ids 0…archived-1). `token` is a shortcut:
 * the NextToken whose page starts at entry `tokenIndex` (≤ archived); absent means "from the
 * start" (tokenIndex 0). The count is the truth; the token only saves re-listing.
 */
const executionStateSchema = z
  .object({
    archived: z.number().int().nonnegative(),
    token: z.string().min(1).optional(),
    tokenIndex: z.number().int().nonnegative(),
  })
  .strict()
  .refine((s) => s.tokenIndex <= s.archived, 'tokenIndex must not exceed archived');

const checkpointSchema = z.object({ executions: z.record(z.string().min(1), executionStateSchema) }).strict();

export type OosExecutionLogsCheckpoint = z.infer<typeof checkpointSchema>;
type ExecutionState = z.infer<typeof executionStateSchema>;

const responseSchema = z
  .object({
    RequestId: z.string().optional(),
    NextToken: z.string().optional(),
    IsTruncated: z.boolean().optional(),
    MaxResults: z.number().optional(),
    ExecutionLogs: z.array(z.record(z.unknown())),
  })
  .passthrough();

const ACTION = 'ListExecutionLogs';
/** Refused tokens tolerated per execution and drain before the refusal is reported. */
const MAX_TOKEN_REFUSALS = 3;
/**
 * Consecutive truncated pages without entries tolerated before the listing is refused: a server
 * answering "more to come" with nothing and a new token would otherwise be followed forever.
 * A few empty pages can be legitimate (a filter matching nothing on a server page), so not one.
 * Below the kit's FOLD_LIMIT, so none of such a run's token-only pages reaches the drain.
 */
const MAX_EMPTY_TRUNCATED_PAGES = 100;

/** True when the error is OOS refusing a NextToken (expired or unknown), not a real bad request. */
function isRefusedToken(error: unknown): boolean {
  return error instanceof ProviderValidationError && /NextToken/i.test(`${error.providerCode ?? ''} ${error.message}`);
}

/**
 * OOS execution logs (ListExecutionLogs), one record per `ExecutionLogs` entry, verbatim.
 *
 * The page boundary is the subtle part: a last page that is not full has no NextToken, so the
 * checkpoint keeps the token *of that page* and the count; the next poll re-reads that page and
 * skips the entries already archived, which picks up entries appended to a running execution
 * without repeats. A refused token (they expire) falls back to listing from the start, skipping
 * `archived` entries. Pages that only move the token shortcut are folded by the kit.
 *
 * Executions are read one after another. An error that concerns one execution only (the API
 * refusing the request for it: `EntityNotExists.Execution`, a token refused again and again)
 * skips that execution for this drain, with a warning, and the others are read; once they are,
 * the drain fails with one error naming the skipped executions, so `status` shows it while the
 * others keep progressing. Errors that concern every execution (rejected credentials, an
 * endpoint that is not the API) still fail at once.
 */
export const aliyunOosExecutionLogs: Provider<OosExecutionLogsParams, OosExecutionLogsCheckpoint, AliyunCredentials> = {
  id: 'aliyun-oos-execution-logs',
  cloud: aliyunCloud,
  paramsSchema,
  checkpointSchema,
  defaultEndpoint: (params) => aliyunEndpoint(PRODUCT, params.regionId),
  initialCheckpoint: (params) => ({
    executions: Object.fromEntries(params.executionIds.map((id) => [id, { archived: 0, tokenIndex: 0 }])),
  }),
  pages: (source, from, context) => readExecutions(source, from, context),
  summarize: (checkpoint) => {
    const entries = Object.entries(checkpoint.executions);
    const total = entries.reduce((sum, [, s]) => sum + s.archived, 0);
    return { text: `${entries.length} execution(s); ${total} log entries archived` };
  },
};

function readExecutions(
  source: SourceSpec<OosExecutionLogsParams, AliyunCredentials>,
  from: OosExecutionLogsCheckpoint,
  context: ProviderContext,
): AsyncIterable<ProviderPage<OosExecutionLogsCheckpoint>> {
  const { params } = source;
  const client = aliyunClientForSource(source, context, PRODUCT);

  /** One execution's entries after the `archived` ones, a page per call. */
  async function* readExecution(executionId: string, start: ExecutionState): AsyncGenerator<StreamPage<ExecutionState>> {
    let archived = start.archived;
    let token = start.token;
    let position = token ? start.tokenIndex : 0;
    let refusals = 0;
    let emptyTruncated = 0;
    for (;;) {
      let result;
      try {
        result = await client.call(
          ACTION,
          {
            RegionId: params.regionId,
            ExecutionId: executionId,
            TaskExecutionId: params.taskExecutionId,
            LogType: params.logType,
            MaxResults: params.maxResults,
            NextToken: token,
          },
          responseSchema,
        );
      } catch (error) {
        // A token minted moments ago being refused again and again is not expiry: give up.
        if (token === undefined || !isRefusedToken(error) || refusals >= MAX_TOKEN_REFUSALS) throw error;
        refusals += 1;
        context.logger.info({ executionId, archived }, 'NextToken refused; listing again from the start');
        token = undefined;
        position = 0;
        continue;
      }
      const page = result.body;
      const truncated = page.IsTruncated ?? page.NextToken !== undefined;
      if (truncated && !page.NextToken) throw context.badAnswer(`${ACTION} says IsTruncated but gives no NextToken`);
      const entries = page.ExecutionLogs;
      emptyTruncated = truncated && entries.length === 0 ? emptyTruncated + 1 : 0;
      if (emptyTruncated > MAX_EMPTY_TRUNCATED_PAGES) {
        throw context.badAnswer(
          `${ACTION} of execution ${executionId} answered ${emptyTruncated} truncated pages in a row with no entries; stopped following NextToken`,
          'retried on the next poll; if it persists, the OOS API is misbehaving for this execution',
        );
      }
      const skip = archived - position;
      if (!truncated && skip > entries.length) {
        // Fewer entries exist than we archived: the list shrank, so our count no longer names the same entries.
        throw context.badAnswer(`execution ${executionId} lists ${position + entries.length} log entries but ${archived} are archived`);
      }
      const records: ProviderRecord[] = entries.slice(Math.max(0, skip)).map((record, i) => ({
        id: `${executionId}:${archived + i}`,
        context: { executionId },
        record,
      }));
      archived += records.length;
      if (truncated) {
        // The next page starts right after this one; if we are not past `archived` yet, the
        // token still only names a position at or before it.
        position += entries.length;
        token = page.NextToken;
        yield { records, state: { archived, token: page.NextToken, tokenIndex: position } };
      } else {
        // Last page: keep this page's own token so the next poll re-reads it and skips.
        yield { records, state: token === undefined ? { archived, tokenIndex: 0 } : { archived, token, tokenIndex: position } };
        return;
      }
    }
  }

  return readStreams(
    {
      noun: 'execution',
      field: 'executionId',
      param: 'executionIds',
      streams: params.executionIds,
      key: (id) => id,
      from: from.executions,
      initial: () => ({ archived: 0, tokenIndex: 0 }),
      checkpoint: (executions) => ({ executions }),
      read: readExecution,
    },
    context,
  );
}
