import { z } from 'zod';
import type { AliyunRpcClient } from '../aliyun/index.js';
import type { ActiveStream, DiscoveredStream, ListingCursor, ListingPage } from '../discovery/index.js';
import type { ProviderContext } from '../provider.js';

/**
 * `ListDataQualityScanRuns` (DataWorks 2024-05-18): the runs of a project (`ProjectId`,
 * required), optionally of one scan (`DataQualityScanId`), started within
 * `CreateTimeFrom`/`CreateTimeTo` (ms), sorted by `SortBy` ("CreateTime Asc"), paged by
 * `PageNumber` (from 1) / `PageSize`; the answer is `PageInfo { TotalCount, PageNumber, PageSize,
 * DataQualityScanRuns[] { Id, CreateTime, FinishTime, Status, Parameters } }`.
 */
const ACTION = 'ListDataQualityScanRuns';

/**
 * Statuses after which a run no longer changes (the API reference lists Pass, Running, Error,
 * Warn, Fail). Anything else, a status it does not list included, is taken as still running:
 * waiting costs a delay (bounded by maxActiveSeconds), taking a running run as final could retire
 * it before its last lines.
 */
const FINAL_STATUSES: ReadonlySet<string> = new Set(['Pass', 'Error', 'Fail', 'Warn']);

const runSchema = z
  .object({
    Id: z.number().int().positive(),
    CreateTime: z.number().int().nonnegative(),
    FinishTime: z.number().int().nullish(),
    Status: z.string().nullish(),
  })
  .passthrough();

type ScanRun = z.infer<typeof runSchema>;

const answerSchema = z
  .object({
    RequestId: z.string().optional(),
    PageInfo: z
      .object({
        TotalCount: z.number().int().nonnegative(),
        PageNumber: z.number().int().optional(),
        PageSize: z.number().int().optional(),
        DataQualityScanRuns: z.array(runSchema).nullish(),
      })
      .passthrough(),
  })
  .passthrough();

/** The discovery filters of a DataWorks source. */
export interface ScanRunFilter {
  projectId: number;
  scanId?: number | undefined;
  pageSize: number;
}

/** True when a run's Status is final. */
export function isScanRunFinal(status: string | null | undefined): boolean {
  return typeof status === 'string' && FINAL_STATUSES.has(status);
}

function discovered(run: ScanRun): DiscoveredStream<number> {
  const status = run.Status ?? '';
  return {
    key: String(run.Id),
    stream: run.Id,
    time: run.CreateTime,
    status,
    final: isScanRunFinal(status),
    ...(typeof run.FinishTime === 'number' && run.FinishTime > 0 ? { finishedAt: run.FinishTime } : {}),
  };
}

/** Lists and looks up the runs a DataWorks source discovers. */
export function scanRunListing(client: AliyunRpcClient, filter: ScanRunFilter, context: ProviderContext) {
  const call = async (params: Record<string, string | number | undefined>) => {
    const answer = await client.call(
      ACTION,
      { ProjectId: filter.projectId, DataQualityScanId: filter.scanId, SortBy: 'CreateTime Asc', ...params },
      answerSchema,
    );
    return answer.body.PageInfo;
  };

  /** One page of the runs created at or after `since`, oldest first. */
  async function list(since: number, page: ListingCursor | undefined): Promise<ListingPage<number>> {
    const pageNumber = typeof page === 'number' ? page : 1;
    const info = await call({ CreateTimeFrom: since, PageNumber: pageNumber, PageSize: filter.pageSize });
    const runs = info.DataQualityScanRuns ?? [];
    const before = (pageNumber - 1) * filter.pageSize;
    if (runs.length === 0 && info.TotalCount > before) {
      throw context.badAnswer(`${ACTION} page ${pageNumber} is empty but TotalCount is ${info.TotalCount}`);
    }
    const streams = runs.map(discovered).sort((a, b) => a.time - b.time || Number(a.key) - Number(b.key));
    const more = runs.length > 0 && before + runs.length < info.TotalCount;
    return { streams, next: more ? pageNumber + 1 : undefined, total: info.TotalCount };
  }

  /**
   * The current state of runs by their CreateTime: one call per run for the instant around it
   * (±1 ms, whichever way the API reads its bounds), picking the run by Id.
   */
  async function lookup(actives: readonly [string, ActiveStream<unknown>][]): Promise<Map<string, DiscoveredStream<number>>> {
    const found = new Map<string, DiscoveredStream<number>>();
    for (const [key, active] of actives) {
      const info = await call({ CreateTimeFrom: active.time - 1, CreateTimeTo: active.time + 1, PageNumber: 1, PageSize: 100 });
      const run = (info.DataQualityScanRuns ?? []).find((r) => String(r.Id) === key);
      if (run) found.set(key, discovered(run));
    }
    return found;
  }

  return { list, lookup };
}
