import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderAuthError, ProviderResponseError, ProviderValidationError } from '../src/errors/index.js';
import { createLogger } from '../src/observability/index.js';
import { aliyunOosExecutionLogs as provider, type OosExecutionLogsCheckpoint } from '../src/providers/aliyun-oos-execution-logs.js';
import { providerContext, readPages } from '../src/providers/index.js';
import type { ProviderContext, ProviderPage } from '../src/providers/provider.js';
import { OosSimulator } from '../simulators/index.js';
import { harnessContext, harnessSource, readAllPages, recordsOf, type HarnessContext } from './helpers/provider-harness.js';

const FAULTS = ['throttle', 'server', 'reset', 'truncated', 'malformed', 'html', 'proto', 'oversize'] as const;

let sim: OosSimulator;
let context: ProviderContext & { close(): Promise<void> };

beforeEach(async () => {
  sim = new OosSimulator();
  await sim.start();
  context = harnessContext();
});
afterEach(async () => {
  await sim.stop();
  await context.close();
});

function sourceFor(executionIds: string[], extra: Record<string, unknown> = {}) {
  return harnessSource(provider, sim.url, sim.credentials, { regionId: 'cn-hangzhou', executionIds, ...extra });
}

function entries(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix} ${i} — 任务 ${i} completed`);
}

/** Records across several drains, in one canonical order, duplicates kept (so a repeat fails). */
function byId<T extends { id: string }>(records: T[]): T[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Records grouped by execution (in the order given), each execution's in the order read:
 * executions are read concurrently, so only the order within one is the provider's contract.
 */
function byExecution<T extends { context: Record<string, unknown> }>(records: T[], order: readonly string[]): T[] {
  const rank = (r: T) => order.indexOf(String(r.context.executionId));
  return records
    .map((r, i) => ({ r, i }))
    .sort((a, b) => rank(a.r) - rank(b.r) || a.i - b.i)
    .map(({ r }) => r);
}

async function expectResumeFromEveryPage(
  pages: ProviderPage<OosExecutionLogsCheckpoint>[],
  source: ReturnType<typeof sourceFor>,
): Promise<void> {
  for (let i = 0; i < pages.length; i += 1) {
    const rest = await readAllPages(provider, source, pages[i]!.checkpoint, context);
    expect(byId(recordsOf(rest))).toEqual(byId(recordsOf(pages.slice(i + 1))));
  }
}

/** Pages a drain yields before it throws, and what it threw (undefined when it did not). */
async function pagesUntilError(
  source: ReturnType<typeof sourceFor>,
  from: OosExecutionLogsCheckpoint,
  ctx: ProviderContext,
): Promise<{ pages: ProviderPage<OosExecutionLogsCheckpoint>[]; error: unknown }> {
  const pages: ProviderPage<OosExecutionLogsCheckpoint>[] = [];
  try {
    const bound = 'services' in ctx ? providerContext((ctx as HarnessContext).services, source) : ctx;
    for await (const page of readPages(provider, source, from, bound)) pages.push(page);
  } catch (error) {
    return { pages, error };
  }
  return { pages, error: undefined };
}

describe('aliyun-oos-execution-logs', () => {
  it('drains with faults, picks up appended entries without repeats, survives expired tokens, resumes from every page', async () => {
    for (const id of ['exec-a', 'exec-b', 'exec-c']) sim.addExecution(id);
    sim.appendLogs('exec-a', entries('a', 120));
    sim.appendLogs('exec-b', entries('b', 7));
    const source = sourceFor(['exec-a', 'exec-b', 'exec-c']);
    sim.faults.setRandom(0.3, FAULTS);
    // One certain fault, so the assertion below cannot depend on the dice.
    sim.faults.enqueue('server', 1);

    const first = await readAllPages(provider, source, provider.initialCheckpoint(source.params, 0), context);
    expect(byExecution(recordsOf(first), ['exec-a', 'exec-b', 'exec-c'])).toEqual(sim.expectedRecords());
    expect(sim.faults.injected).toBeGreaterThan(0);
    const cp1 = first.at(-1)!.checkpoint;
    expect(cp1.executions['exec-a']).toMatchObject({ archived: 120, tokenIndex: 100 });
    expect(cp1.executions['exec-a']!.token).toBeDefined();
    expect(cp1.executions['exec-a']!.tail).toHaveLength(8);
    expect(cp1.executions['exec-b']).toMatchObject({ archived: 7, tokenIndex: 0 });
    expect(cp1.executions['exec-b']!.tail).toHaveLength(7);
    expect(cp1.executions['exec-c']).toEqual({ archived: 0, tokenIndex: 0 });

    sim.faults.clear();
    await expectResumeFromEveryPage(first, source);
    sim.faults.setRandom(0.3, FAULTS);

    // Running executions grow: the last, partly full page is re-read from its token and skipped.
    sim.appendLogs('exec-a', entries('a2', 45));
    sim.appendLogs('exec-b', entries('b2', 3));
    sim.appendLogs('exec-c', entries('c', 5));
    const second = await readAllPages(provider, source, cp1, context);
    let all = [...recordsOf(first), ...recordsOf(second)];
    expect(byId(all)).toEqual(byId(sim.expectedRecords()));
    expect(sim.refusedTokens).toBe(0);

    // Tokens expire: the provider lists again from the start and skips what is archived.
    sim.expireTokens();
    sim.appendLogs('exec-a', entries('a3', 10));
    const third = await readAllPages(provider, source, second.at(-1)!.checkpoint, context);
    all = [...all, ...recordsOf(third)];
    expect(byId(all)).toEqual(byId(sim.expectedRecords()));
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
    expect(sim.refusedTokens).toBeGreaterThan(0);

    sim.faults.clear();
    await expectResumeFromEveryPage(third, source);
    // Caught up: nothing new, nothing yielded.
    expect(await readAllPages(provider, source, third.at(-1)!.checkpoint, context)).toEqual([]);
  });

  it('handles a last page that is exactly full, then growth past it', async () => {
    sim.addExecution('exec-full');
    sim.appendLogs('exec-full', entries('f', 100));
    const source = sourceFor(['exec-full'], { maxResults: 50 });
    const first = await readAllPages(provider, source, provider.initialCheckpoint(source.params, 0), context);
    expect(recordsOf(first)).toEqual(sim.expectedRecords());
    sim.appendLogs('exec-full', entries('g', 1));
    const second = await readAllPages(provider, source, first.at(-1)!.checkpoint, context);
    expect(recordsOf(second).map((r) => r.id)).toEqual(['exec-full:100']);
    // The token shortcut: a caught-up poll costs one call (the last page), not a full re-listing.
    const before = sim.callTimes.length;
    expect(await readAllPages(provider, source, second.at(-1)!.checkpoint, context)).toEqual([]);
    expect(sim.callTimes.length - before).toBe(1);
    expect(byId([...recordsOf(first), ...recordsOf(second)])).toEqual(byId(sim.expectedRecords()));
  });

  it('applies TaskExecutionId and LogType filters; ids count within the filtered list', async () => {
    sim.addExecution('exec-f');
    sim.appendLogs('exec-f', [
      { Message: 'start', LogType: 'System' },
      { Message: 'task log', LogType: 'Task', TaskExecutionId: 'exec-f.t0010' },
      { Message: 'end', LogType: 'System' },
      { Message: 'task log 2', LogType: 'Task', TaskExecutionId: 'exec-f.t0010' },
    ]);
    const source = sourceFor(['exec-f'], { logType: 'Task', maxResults: 1 });
    const pages = await readAllPages(provider, source, provider.initialCheckpoint(source.params, 0), context);
    expect(recordsOf(pages)).toEqual(sim.expectedRecords({ logType: 'Task' }));
    expect(recordsOf(pages).map((r) => r.id)).toEqual(['exec-f:0', 'exec-f:1']);
  });

  it('an unknown execution is a validation error, not retried', async () => {
    const source = sourceFor(['exec-nope']);
    await expect(readAllPages(provider, source, provider.initialCheckpoint(source.params, 0), context)).rejects.toBeInstanceOf(
      ProviderValidationError,
    );
    expect(sim.callTimes.length).toBe(1);
  });

  it('an execution that no longer exists is skipped: the others are read, then the drain fails naming it', async () => {
    sim.addExecution('exec-a');
    sim.addExecution('exec-c');
    sim.appendLogs('exec-a', entries('a', 3));
    sim.appendLogs('exec-c', entries('c', 2));
    const warnings: { msg: string; executionId?: string }[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void warnings.push(JSON.parse(line)) } });
    const ctx = harnessContext({ logger });
    const source = sourceFor(['exec-a', 'exec-gone', 'exec-c']);
    const { pages, error } = await pagesUntilError(source, provider.initialCheckpoint(source.params, 0), ctx);
    await ctx.close();
    expect(byExecution(recordsOf(pages), ['exec-a', 'exec-c'])).toEqual(sim.expectedRecords());
    expect(pages.at(-1)!.checkpoint.executions['exec-c']).toMatchObject({ archived: 2, tokenIndex: 0 });
    expect(error).toBeInstanceOf(ProviderValidationError);
    expect((error as ProviderValidationError).retryable).toBe(false);
    expect((error as Error).message).toContain('exec-gone');
    expect((error as Error).message).toContain('EntityNotExists.Execution');
    expect((error as ProviderValidationError).hint).toContain('params.executionIds');
    expect(warnings.some((w) => w.executionId === 'exec-gone')).toBe(true);
    // The next poll gets as far: the good executions keep progressing.
    sim.appendLogs('exec-c', entries('c2', 1));
    const again = await pagesUntilError(source, pages.at(-1)!.checkpoint, context);
    expect(recordsOf(again.pages).map((r) => r.id)).toEqual(['exec-c:2']);
    expect(again.error).toBeInstanceOf(ProviderValidationError);
  });

  it('rejected credentials still fail at once, before any other execution is read', async () => {
    sim.addExecution('exec-a');
    sim.addExecution('exec-b');
    const source = harnessSource(
      provider,
      sim.url,
      { ...sim.credentials, accessKeySecret: 'not-the-secret' },
      { regionId: 'cn-hangzhou', executionIds: ['exec-a', 'exec-b'] },
    );
    const { pages, error } = await pagesUntilError(source, provider.initialCheckpoint(source.params, 0), context);
    expect(error).toBeInstanceOf(ProviderAuthError);
    expect(pages).toEqual([]);
    expect(sim.callTimes.length).toBe(1);
  });

  it('follows a few empty truncated pages, but refuses (retryably) a server that never stops sending them', async () => {
    sim.addExecution('exec-a');
    sim.appendLogs('exec-a', entries('a', 7));
    const source = sourceFor(['exec-a'], { maxResults: 3 });
    sim.emptyTruncatedPages = 5;
    const pages = await readAllPages(provider, source, provider.initialCheckpoint(source.params, 0), context);
    expect(recordsOf(pages)).toEqual(sim.expectedRecords());

    sim.appendLogs('exec-a', entries('a2', 2));
    sim.emptyTruncatedPages = Number.POSITIVE_INFINITY;
    const before = sim.callTimes.length;
    const { pages: stuck, error } = await pagesUntilError(source, pages.at(-1)!.checkpoint, context);
    expect(stuck).toEqual([]);
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect((error as ProviderResponseError).retryable).toBe(true);
    expect((error as Error).message).toContain('exec-a');
    expect(sim.callTimes.length - before).toBe(101);
  });

  it('validates params and checkpoints', () => {
    expect(provider.paramsSchema.safeParse({ regionId: 'cn-hangzhou', executionIds: [] }).success).toBe(false);
    expect(provider.paramsSchema.safeParse({ regionId: 'cn-hangzhou', executionIds: ['e'], maxResults: 101 }).success).toBe(false);
    expect(provider.paramsSchema.parse({ regionId: 'cn-hangzhou', executionIds: ['e'] }).maxResults).toBe(50);
    expect(provider.checkpointSchema.safeParse({ executions: { e: { archived: 1, tokenIndex: 5 } } }).success).toBe(false);
    expect(provider.defaultEndpoint({ regionId: 'cn-hangzhou', executionIds: ['e'], maxResults: 50, concurrency: 4 })).toBe(
      'https://oos.cn-hangzhou.aliyuncs.com',
    );
    expect(provider.summarize!({ executions: { e: { archived: 3, tokenIndex: 0 } } }).text).toContain('3 log entries');
  });
});
