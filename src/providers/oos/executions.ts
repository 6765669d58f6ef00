import { z } from 'zod';
import type { AliyunRpcClient } from '../aliyun/index.js';
import type { ActiveStream, DiscoveredStream, ListingCursor, ListingPage } from '../discovery/index.js';
import type { ProviderContext } from '../provider.js';

/**
 * `ListExecutions` (OOS 2019-06-01): executions filtered by `TemplateName` (every template whose
 * name *contains* it), `Status`, `StartDateAfter`/`StartDateBefore` (ISO-8601, inclusive) or one
 * `ExecutionId`, sorted by `SortField` (StartDate | EndDate | Status) and `SortOrder` (Ascending |
 * Descending), `MaxResults` 10–100 a page with an opaque `NextToken`; the answer is
 * `Executions[] { ExecutionId, Status, StartDate, EndDate, UpdateDate, TemplateName, … }`,
 * `NextToken`, `TotalCount`.
 */
const ACTION = 'ListExecutions';

/**
 * Statuses after which an execution no longer changes (the API reference lists Started, Queued,
 * Running, Waiting, Pending, Success, Failed, Cancelled, Skipped). Anything else is taken as still
 * running: waiting costs a delay (bounded by maxActiveSeconds), while retiring a running one
 * early would lose its last entries.
 */
const FINAL_STATUSES: ReadonlySet<string> = new Set(['Success', 'Failed', 'Cancelled', 'Skipped']);

const executionSchema = z
  .object({
    ExecutionId: z.string().min(1),
    Status: z.string().nullish(),
    StartDate: z.string().nullish(),
    CreateDate: z.string().nullish(),
    EndDate: z.string().nullish(),
  })
  .passthrough();

type Execution = z.infer<typeof executionSchema>;

const answerSchema = z
  .object({
    RequestId: z.string().optional(),
    NextToken: z.string().nullish(),
    TotalCount: z.number().int().nonnegative().optional(),
    Executions: z.array(executionSchema).nullish(),
  })
  .passthrough();

/** The discovery filters of an OOS source. */
export interface ExecutionFilter {
  regionId: string;
  templateName: string;
  pageSize: number;
}

/** True when an execution's Status is final. */
export function isExecutionFinal(status: string | null | undefined): boolean {
  return typeof status === 'string' && FINAL_STATUSES.has(status);
}

/** `2019-05-16T10:26:14Z`, the API's time format (whole seconds). */
export function oosTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Lists and looks up the executions an OOS source discovers. */
export function executionListing(client: AliyunRpcClient, filter: ExecutionFilter, context: ProviderContext) {
  const discovered = (execution: Execution): DiscoveredStream<string> => {
    const started = Date.parse(execution.StartDate ?? execution.CreateDate ?? '');
    if (Number.isNaN(started)) {
      throw context.badAnswer(`${ACTION} lists execution ${execution.ExecutionId} without a StartDate`);
    }
    const ended = Date.parse(execution.EndDate ?? '');
    const status = execution.Status ?? '';
    return {
      key: execution.ExecutionId,
      stream: execution.ExecutionId,
      time: started,
      status,
      final: isExecutionFinal(status),
      ...(Number.isNaN(ended) ? {} : { finishedAt: ended }),
    };
  };

  /** One page of the executions started at or after `since` (whole seconds), oldest first. */
  async function list(since: number, page: ListingCursor | undefined): Promise<ListingPage<string>> {
    const answer = await client.call(
      ACTION,
      {
        RegionId: filter.regionId,
        TemplateName: filter.templateName,
        StartDateAfter: oosTime(since),
        SortField: 'StartDate',
        SortOrder: 'Ascending',
        MaxResults: filter.pageSize,
        NextToken: typeof page === 'string' ? page : undefined,
      },
      answerSchema,
    );
    const executions = answer.body.Executions ?? [];
    const streams = executions.map(discovered).sort((a, b) => a.time - b.time || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const next = answer.body.NextToken || undefined;
    return { streams, next, ...(answer.body.TotalCount === undefined ? {} : { total: answer.body.TotalCount }) };
  }

  /** The current state of executions by id (`ExecutionId` filter), one call each. */
  async function lookup(actives: readonly [string, ActiveStream<unknown>][]): Promise<Map<string, DiscoveredStream<string>>> {
    const found = new Map<string, DiscoveredStream<string>>();
    for (const [key] of actives) {
      const answer = await client.call(ACTION, { RegionId: filter.regionId, ExecutionId: key, MaxResults: 10 }, answerSchema);
      const execution = (answer.body.Executions ?? []).find((e) => e.ExecutionId === key);
      if (execution) found.set(key, discovered(execution));
    }
    return found;
  }

  return { list, lookup };
}
