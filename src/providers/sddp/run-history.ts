import { z } from 'zod';
import type { AliyunRpcClient } from '../aliyun/index.js';
import type { ProviderContext } from '../provider.js';

const ACTION = 'DescribeDataMaskingRunHistory';

const itemSchema = z
  .object({ Id: z.number().int(), StartTime: z.number(), Status: z.unknown().optional(), TaskId: z.unknown().optional() })
  .passthrough();

/** One element of `Items`: the fields the provider reads, the element itself passed through. */
export type SddpItem = z.infer<typeof itemSchema>;

const responseSchema = z
  .object({
    RequestId: z.string().optional(),
    TotalCount: z.number().int().nonnegative(),
    Items: z.array(itemSchema),
  })
  .passthrough();

/** The filters every call of a source carries. */
export interface RunHistoryFilter {
  pageSize: number;
  lang?: string | undefined;
  taskId?: string | undefined;
}

/** The first page of a query: the total the API states for it, and its items. */
export interface FirstPage {
  total: number;
  items: SddpItem[];
}

/**
 * Calls `DescribeDataMaskingRunHistory` (Sddp 2019-01-03): `StartTime`/`EndTime` (ms), `PageSize`,
 * `CurrentPage` (from 1), optional `Lang` and `TaskId`; the answer holds `TotalCount` and `Items`.
 */
export function runHistory(client: AliyunRpcClient, context: ProviderContext, filter: RunHistoryFilter) {
  const page = async (startTime: number, endTime: number, currentPage: number, pageSize = filter.pageSize, taskId = filter.taskId) => {
    const query = {
      StartTime: startTime,
      EndTime: endTime,
      PageSize: pageSize,
      CurrentPage: currentPage,
      Lang: filter.lang,
      TaskId: taskId,
    };
    return (await client.call(ACTION, query, responseSchema)).body;
  };

  /** Page 1 of the items with `startTime <= StartTime <= endTime`. */
  async function first(startTime: number, endTime: number, taskId?: string): Promise<FirstPage> {
    const body = await page(startTime, endTime, 1, filter.pageSize, taskId ?? filter.taskId);
    return { total: body.TotalCount, items: body.Items };
  }

  /**
   * Every item of the query, paged to its TotalCount from its first page. Paging stops at
   * TotalCount or an empty page, never on a short page (a server may serve fewer than PageSize);
   * a total that changes while paging, an item seen twice (the pages shifted, which leaves a gap
   * elsewhere), or a count short of the total refuses the whole query (retryable) rather than
   * return part of it.
   */
  async function all(startTime: number, endTime: number, from: FirstPage, taskId?: string): Promise<SddpItem[]> {
    const items = [...from.items];
    const seen = new Set<number>();
    const what = `${new Date(startTime + 1).toISOString()}–${new Date(endTime).toISOString()}`;
    const check = (batch: readonly SddpItem[]): void => {
      for (const item of batch) {
        if (seen.has(item.Id)) throw context.badAnswer(`item ${item.Id} appeared twice while paging ${what}`);
        seen.add(item.Id);
      }
    };
    check(items);
    for (let current = 2; items.length < from.total; current += 1) {
      const body = await page(startTime, endTime, current, filter.pageSize, taskId ?? filter.taskId);
      if (body.TotalCount !== from.total) {
        throw context.badAnswer(`TotalCount of ${what} changed from ${from.total} to ${body.TotalCount} while paging`);
      }
      if (body.Items.length === 0) break;
      check(body.Items);
      items.push(...body.Items);
    }
    if (items.length !== from.total) {
      throw context.badAnswer(`${what} returned ${items.length} items but TotalCount is ${from.total}`);
    }
    return items;
  }

  return { first, all };
}
