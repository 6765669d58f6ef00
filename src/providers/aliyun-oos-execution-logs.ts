import { z } from 'zod';
import { ProviderResponseError, ProviderValidationError } from '../errors/index.js';
import { aliyunClientForSource, aliyunCredentialsSchema, aliyunEndpoint, type AliyunCredentials } from './aliyun/index.js';
import { concernsOneStream, skippedStreamsError, type SkippedStream } from './skipped-streams.js';
import type { Provider, ProviderContext, ProviderPage, ProviderRecord, SourceSpec } from './provider.js';

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
 * `archived` entries.
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
  cloud: 'aliyun',
  paramsSchema,
  credentialsSchema: aliyunCredentialsSchema,
  checkpointSchema,
  defaultEndpoint: (params) => aliyunEndpoint('oos', params.regionId),
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

async function* readExecutions(
  source: SourceSpec<OosExecutionLogsParams, AliyunCredentials>,
  from: OosExecutionLogsCheckpoint,
  context: ProviderContext,
): AsyncGenerator<ProviderPage<OosExecutionLogsCheckpoint>> {
  const { params } = source;
  const client = aliyunClientForSource(source, context, 'oos', aliyunEndpoint('oos', params.regionId));
  const executions: Record<string, ExecutionState> = { ...from.executions };
  const details = { source: source.id, provider: source.provider };
  const skipped: SkippedStream[] = [];
  for (const executionId of params.executionIds) {
    const start = executions[executionId] ?? { archived: 0, tokenIndex: 0 };
    let archived = start.archived;
    let token = start.token;
    let position = token ? start.tokenIndex : 0;
    let lastYielded: ExecutionState = start;
    let refusals = 0;
    let emptyTruncated = 0;
    for (;;) {
      let result;
      try {
        result = await client.call(ACTION, {
          RegionId: params.regionId,
          ExecutionId: executionId,
          TaskExecutionId: params.taskExecutionId,
          LogType: params.logType,
          MaxResults: params.maxResults,
          NextToken: token,
        });
      } catch (error) {
        // A token minted moments ago being refused again and again is not expiry: give up.
        if (token === undefined || !isRefusedToken(error) || refusals >= MAX_TOKEN_REFUSALS) {
          if (!concernsOneStream(error)) throw error;
          context.logger.warn(
            { source: source.id, executionId, archived, providerCode: error.providerCode, err: { message: error.message } },
            'execution skipped for this drain after an error a retry will not fix; the other executions continue',
          );
          skipped.push({ id: executionId, error });
          break;
        }
        refusals += 1;
        context.logger.info({ source: source.id, executionId, archived }, 'NextToken refused; listing again from the start');
        token = undefined;
        position = 0;
        continue;
      }
      const parsed = responseSchema.safeParse(result.body);
      if (!parsed.success)
        throw new ProviderResponseError(`source ${source.id}: ${ACTION} answer lacks ExecutionLogs`, {
          ...details,
          requestId: result.requestId,
        });
      const page = parsed.data;
      const truncated = page.IsTruncated ?? page.NextToken !== undefined;
      if (truncated && !page.NextToken) {
        throw new ProviderResponseError(`source ${source.id}: ${ACTION} says IsTruncated but gives no NextToken`, {
          ...details,
          requestId: result.requestId,
        });
      }
      const entries = page.ExecutionLogs;
      emptyTruncated = truncated && entries.length === 0 ? emptyTruncated + 1 : 0;
      if (emptyTruncated > MAX_EMPTY_TRUNCATED_PAGES) {
        throw new ProviderResponseError(
          `source ${source.id}: ${ACTION} of execution ${executionId} answered ${emptyTruncated} truncated pages in a row with no entries; stopped following NextToken`,
          {
            ...details,
            requestId: result.requestId,
            hint: 'retried on the next poll; if it persists, the OOS API is misbehaving for this execution',
          },
        );
      }
      const skip = archived - position;
      if (!truncated && skip > entries.length) {
        // Fewer entries exist than we archived: the list shrank, so our count no longer names the same entries.
        throw new ProviderResponseError(
          `source ${source.id}: execution ${executionId} lists ${position + entries.length} log entries but ${archived} are archived`,
          { ...details, requestId: result.requestId },
        );
      }
      const records: ProviderRecord[] = entries.slice(Math.max(0, skip)).map((record, i) => ({
        id: `${executionId}:${archived + i}`,
        context: { executionId },
        record,
      }));
      archived += records.length;
      let state: ExecutionState;
      if (truncated) {
        // The next page starts right after this one; if we are not past `archived` yet, the
        // token still only names a position at or before it.
        position += entries.length;
        token = page.NextToken;
        state = { archived, token: page.NextToken, tokenIndex: position };
      } else {
        // Last page: keep this page's own token so the next poll re-reads it and skips.
        state = token === undefined ? { archived, tokenIndex: 0 } : { archived, token, tokenIndex: position };
      }
      executions[executionId] = state;
      // Pages that only move the token shortcut (skipping what is archived) are folded into the
      // next page with records, or into one record-less page at the end.
      const changed =
        lastYielded.archived !== state.archived || lastYielded.token !== state.token || lastYielded.tokenIndex !== state.tokenIndex;
      if (records.length > 0 || (!truncated && changed)) {
        lastYielded = state;
        yield {
          records,
          checkpoint: { executions: { ...executions } },
          requestIds: result.requestId ? [result.requestId] : [],
          bytes: result.bytes,
        };
      }
      if (!truncated) break;
    }
  }
  if (skipped.length > 0) throw skippedStreamsError(source, 'execution', 'executionIds', skipped);
}
