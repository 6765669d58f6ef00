import { afterEach, describe, expect, it } from 'vitest';
import { ProviderResponseError } from '../src/errors/index.js';
import {
  aliyunSddpMaskingHistory as provider,
  sddpRateLimitKey,
  type SddpMaskingHistoryCheckpoint,
} from '../src/providers/aliyun-sddp-masking-history.js';
import type { ProviderContext, ProviderPage } from '../src/providers/provider.js';
import { LocalRateLimiter, type RateLimiter } from '../src/ratelimit/index.js';
import { createLogger } from '../src/observability/index.js';
import { SddpSimulator } from '../simulators/index.js';
import { HttpSimulator } from '../simulators/index.js';
import { harnessContext, harnessSource, readAllPages, recordsOf } from './helpers/provider-harness.js';

const FAULTS = ['throttle', 'server', 'reset', 'truncated', 'malformed', 'html', 'proto'] as const;
const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const SETTLE_S = 300;

/** A limiter that never waits: stands in for a client that ignores the quota. */
const noLimit: RateLimiter = { acquire: async () => ({ grantedAt: 0, release: () => {} }), close: async () => {} };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function setup(options: ConstructorParameters<typeof SddpSimulator>[0] = {}, rateLimiter?: RateLimiter, closedWindows = 20) {
  const sim = new SddpSimulator(options);
  await sim.start();
  let now = T0 + closedWindows * MIN + SETTLE_S * 1000;
  const context: ProviderContext & { close(): Promise<void> } = harnessContext({
    now: () => now,
    ...(rateLimiter ? { rateLimiter } : {}),
  });
  cleanups.push(
    () => sim.stop(),
    () => context.close(),
  );
  const source = (id = 'masking-history', extra: Record<string, unknown> = {}) =>
    harnessSource(
      provider,
      sim.url,
      sim.credentials,
      { startTime: new Date(T0).toISOString(), pageSize: 10, windowSeconds: 60, settleSeconds: SETTLE_S, ...extra },
      id,
    );
  return { sim, context, source, advance: (ms: number) => (now += ms), nowMs: () => now };
}

/** Items on both sides of window boundaries, plus enough in a few windows to need several pages. */
function seed(sim: SddpSimulator, fromWindow: number, toWindow: number): void {
  if (fromWindow === 0) sim.addRun({ StartTime: T0 - 1 }); // before startTime: never archived
  for (let w = fromWindow; w < toWindow; w += 1) {
    const start = T0 + w * MIN;
    if (w % 3 === 0) sim.addRun({ StartTime: start }); // exactly on the window's start
    if (w % 4 === 1) sim.addRun({ StartTime: start + MIN - 1 }); // last ms of the window
    if (w % 5 === 2) for (let i = 0; i < 23; i += 1) sim.addRun({ StartTime: start + 1000 * i, Status: 1 + (i % 4) });
  }
  sim.addRun({ StartTime: T0 + toWindow * MIN }); // on the first not-yet-closed window's start
}

/** Every one-second span of arrivals holds at most `limit` calls (allowing the simulator's jitter slack). */
function maxCallsPerSecond(times: readonly number[], toleranceMs = 50): number {
  let max = 0;
  for (let i = 0; i < times.length; i += 1) {
    let n = 0;
    for (let j = i; j < times.length && times[j]! - times[i]! < 1000 - toleranceMs; j += 1) n += 1;
    max = Math.max(max, n);
  }
  return max;
}

function byId<T extends { id: string }>(records: T[]): T[] {
  return [...records].sort((a, b) => Number(a.id) - Number(b.id));
}

describe('aliyun-sddp-masking-history', () => {
  it('archives closed windows once (boundary items included), grows, and never exceeds 10 calls/s', async () => {
    const { sim, context, source, advance, nowMs } = await setup({}, new LocalRateLimiter());
    seed(sim, 0, 20);
    sim.faults.setRandom(0.2, FAULTS);
    const src = source();
    // One certain fault, so the assertion on injected faults cannot depend on the dice.
    sim.faults.enqueue('server', 1);

    const first = await readAllPages(provider, src, provider.initialCheckpoint(src.params, nowMs()), context);
    const cp1 = first.at(-1)!.checkpoint;
    expect(cp1).toMatchObject({ windowStart: T0 + 20 * MIN, pending: [] });
    // Only the runs of the drift span (an hour, all 20 windows here) are remembered.
    expect(cp1.recent!.every(([ws]) => ws >= T0)).toBe(true);
    expect(recordsOf(first)).toEqual(sim.expectedRecords({ from: T0, until: cp1.windowStart, windowMs: MIN }));
    expect(recordsOf(first).some((r) => (r.record as { StartTime: number }).StartTime === T0 + 3 * MIN)).toBe(true);

    // Time passes: ten more windows close; new items land in them and on the old boundary.
    seed(sim, 20, 30);
    advance(10 * MIN);
    const second = await readAllPages(provider, src, cp1, context);
    const cp2 = second.at(-1)!.checkpoint;
    expect(cp2).toMatchObject({ windowStart: T0 + 30 * MIN, pending: [] });
    const all = [...recordsOf(first), ...recordsOf(second)];
    expect(byId(all)).toEqual(byId(sim.expectedRecords({ from: T0, until: cp2.windowStart, windowMs: MIN })));
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);

    // Nothing closed since: nothing new (the drift span is listed again, and yields nothing).
    expect(recordsOf(await readAllPages(provider, src, cp2, context))).toEqual([]);

    expect(sim.faults.injected).toBeGreaterThan(0);
    expect(sim.throttled).toBe(0);
    expect(maxCallsPerSecond(sim.callTimes)).toBeLessThanOrEqual(10);
  });

  it('holds 10 calls/s across two concurrent drains sharing one limiter and AccessKey', async () => {
    const limiter = new LocalRateLimiter();
    const { sim, source, nowMs } = await setup({}, limiter, 8);
    seed(sim, 0, 8);
    // Small pages, so the two drains make enough calls to measure the rate.
    const a = source('masking-a', { pageSize: 2 });
    const b = source('masking-b', { pageSize: 2 });
    const ctxA = harnessContext({ rateLimiter: limiter, now: nowMs });
    const ctxB = harnessContext({ rateLimiter: limiter, now: nowMs });
    cleanups.push(
      () => ctxA.close(),
      () => ctxB.close(),
    );
    const [pa, pb] = await Promise.all([
      readAllPages(provider, a, provider.initialCheckpoint(a.params, 0), ctxA),
      readAllPages(provider, b, provider.initialCheckpoint(b.params, 0), ctxB),
    ]);
    expect(recordsOf(pa)).toEqual(recordsOf(pb));
    expect(sim.callTimes.length).toBeGreaterThan(15);
    expect(sim.throttled).toBe(0);
    expect(maxCallsPerSecond(sim.callTimes)).toBeLessThanOrEqual(10);
  });

  it('a client ignoring the quota is throttled (Throttling.User) and still archives correctly after retries', async () => {
    const { sim, context, source } = await setup({ limitPerSecond: 4, throttleToleranceMs: 900 }, noLimit);
    seed(sim, 0, 8);
    const src = source();
    const pages = await readAllPages(provider, src, provider.initialCheckpoint(src.params, 0), context);
    expect(sim.throttled).toBeGreaterThan(0);
    expect(recordsOf(pages)).toEqual(sim.expectedRecords({ from: T0, until: T0 + 20 * MIN, windowMs: MIN }));
  });

  it('resuming from every page checkpoint gives exactly the remainder', async () => {
    const { sim, context, source } = await setup({ limitPerSecond: 100_000 }, noLimit);
    seed(sim, 0, 20);
    const src = source();
    const pages: ProviderPage<SddpMaskingHistoryCheckpoint>[] = await readAllPages(
      provider,
      src,
      provider.initialCheckpoint(src.params, 0),
      context,
    );
    expect(pages.length).toBeGreaterThan(5);
    for (let i = 0; i < pages.length; i += 1) {
      const rest = await readAllPages(provider, src, pages[i]!.checkpoint, context);
      expect(recordsOf(rest)).toEqual(recordsOf(pages.slice(i + 1)));
    }
  });

  it('folds empty windows into few pages while catching up', async () => {
    const { sim, context, source, advance } = await setup({ limitPerSecond: 100_000 }, noLimit);
    advance(230 * MIN);
    sim.addRun({ StartTime: T0 + 150 * MIN + 5 });
    const src = source();
    const pages = await readAllPages(provider, src, provider.initialCheckpoint(src.params, 0), context);
    expect(recordsOf(pages).map((r) => r.id)).toHaveLength(1);
    expect(pages.length).toBeLessThanOrEqual(4);
    expect(pages.find((p) => p.records.length === 1)!.checkpoint.windowStart).toBe(T0 + 151 * MIN);
    expect(pages.at(-1)!.checkpoint.windowStart).toBe(T0 + 250 * MIN);
  });

  it('skips long quiet spans with a few probes instead of one call per window', async () => {
    // Half a year of minute windows, three runs in it.
    const closed = 180 * 24 * 60;
    const { sim, context, source } = await setup({ limitPerSecond: 100_000 }, noLimit, closed);
    const when = [T0 + 5 * MIN + 1, T0 + 40_000 * MIN, T0 + (closed - 1) * MIN + 7];
    for (const StartTime of when) sim.addRun({ StartTime });
    const src = source();
    const pages = await readAllPages(provider, src, provider.initialCheckpoint(src.params, 0), context);
    expect(recordsOf(pages).map((r) => (r.record as { StartTime: number }).StartTime)).toEqual(when);
    expect(pages.at(-1)!.checkpoint).toMatchObject({ windowStart: T0 + closed * MIN, pending: [] });
    // One query spans every closed window: three items, one page.
    expect(sim.callTimes.length).toBeLessThanOrEqual(2);
  });

  it('refuses a window whose items do not add up to TotalCount (retryable), never archiving half of it', async () => {
    // A server that claims 3 items but serves 2: paging stops short of TotalCount.
    const liar = new HttpSimulator({
      handler: (request) => ({
        status: 200,
        body: {
          RequestId: 'LIAR',
          CurrentPage: Number(request.query.get('CurrentPage')),
          PageSize: 100,
          TotalCount: 3,
          Items:
            request.query.get('CurrentPage') === '1'
              ? [
                  { Id: 1, StartTime: T0 + 1 },
                  { Id: 2, StartTime: T0 + 2 },
                ]
              : [],
        },
      }),
      renderError: () => ({ status: 503, body: {} }),
    });
    await liar.start();
    const context = harnessContext({
      now: () => T0 + 2 * MIN,
      rateLimiter: noLimit,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 1000 },
    });
    cleanups.push(
      () => liar.stop(),
      () => context.close(),
    );
    const src = harnessSource(
      provider,
      liar.url,
      { accessKeyId: 'a', accessKeySecret: 'b' },
      { startTime: T0, windowSeconds: 60, settleSeconds: 0 },
    );
    const pages: ProviderPage<SddpMaskingHistoryCheckpoint>[] = [];
    const error = await (async () => {
      try {
        for await (const page of provider.pages(src, { windowStart: T0, pending: [] }, context)) pages.push(page);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ProviderResponseError);
    expect((error as ProviderResponseError).retryable).toBe(true);
    expect(pages).toEqual([]);
  });

  it('a run not final when its window settles waits in pending, then is archived once in its final state', async () => {
    const { sim, context, source, advance } = await setup({ limitPerSecond: 100_000 }, noLimit, 10);
    const done = sim.addRun({ StartTime: T0 + 2 * MIN + 10 });
    const waiting = sim.addRun({ StartTime: T0 + 2 * MIN + 20, Status: -1 });
    const running = sim.addRun({ StartTime: T0 + 6 * MIN, Status: 0 });
    const later = sim.addRun({ StartTime: T0 + 6 * MIN + 1 });
    const src = source();

    const first = await readAllPages(provider, src, provider.initialCheckpoint(src.params, 0), context);
    expect(recordsOf(first).map((r) => r.id)).toEqual([String(done.Id), String(later.Id)]);
    const cp1 = first.at(-1)!.checkpoint;
    expect(cp1).toMatchObject({
      windowStart: T0 + 10 * MIN,
      pending: [
        { id: waiting.Id, windowStart: T0 + 2 * MIN, windowEnd: T0 + 3 * MIN, taskId: waiting.TaskId },
        { id: running.Id, windowStart: T0 + 6 * MIN, windowEnd: T0 + 7 * MIN, taskId: running.TaskId },
      ],
    });
    const summary = provider.summarize!(cp1);
    expect(summary.text).toContain('2 run(s) pending');
    expect(summary.pending).toEqual(cp1.pending);

    // Nothing finished, nothing closed: the drift span holding both pending windows is listed
    // again (one call), nothing is archived.
    const calls = sim.callTimes.length;
    expect(recordsOf(await readAllPages(provider, src, cp1, context))).toEqual([]);
    expect(sim.callTimes.length - calls).toBe(1);

    // One finishes (failed) and a new window closes with a new run.
    sim.finishRun(waiting.Id, 2);
    const fresh = sim.addRun({ StartTime: T0 + 10 * MIN + 5 });
    advance(MIN);
    const second = await readAllPages(provider, src, cp1, context);
    expect(recordsOf(second).map((r) => r.id)).toEqual([String(waiting.Id), String(fresh.Id)]);
    expect((recordsOf(second)[0]!.record as { Status: number }).Status).toBe(2);
    expect(recordsOf(second)[0]!.context).toEqual({ windowStart: T0 + 2 * MIN, windowEnd: T0 + 3 * MIN });
    const cp2 = second.at(-1)!.checkpoint;
    expect(cp2.pending.map((p) => p.id)).toEqual([running.Id]);
    expect(cp2.windowStart).toBe(T0 + 11 * MIN);

    sim.finishRun(running.Id, 1);
    const third = await readAllPages(provider, src, cp2, context);
    expect(recordsOf(third).map((r) => r.id)).toEqual([String(running.Id)]);
    expect((recordsOf(third)[0]!.record as { Status: number }).Status).toBe(1);
    expect(third.at(-1)!.checkpoint).toMatchObject({ windowStart: T0 + 11 * MIN, pending: [] });
    expect(recordsOf(await readAllPages(provider, src, third.at(-1)!.checkpoint, context))).toEqual([]);

    const all = [...recordsOf(first), ...recordsOf(second), ...recordsOf(third)];
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
    expect(byId(all)).toEqual(byId(sim.expectedRecords({ from: T0, until: T0 + 11 * MIN, windowMs: MIN })));
  });

  it('resumes from every page checkpoint while runs are pending and as they finish', async () => {
    const { sim, context, source, advance } = await setup({ limitPerSecond: 100_000 }, noLimit, 20);
    seed(sim, 0, 20);
    // Runs not final in several windows, some sharing a window with final ones.
    const unfinished = [1, 2, 7, 7, 13].map((w, i) => sim.addRun({ StartTime: T0 + w * MIN + 500 + i, Status: i % 2 === 0 ? -1 : 0 }));
    const src = source();
    const first = await readAllPages(provider, src, provider.initialCheckpoint(src.params, 0), context);
    expect(first.at(-1)!.checkpoint.pending.map((p) => p.id)).toEqual(unfinished.map((r) => r.Id));
    for (let i = 0; i < first.length; i += 1) {
      const rest = await readAllPages(provider, src, first[i]!.checkpoint, context);
      expect(recordsOf(rest)).toEqual(recordsOf(first.slice(i + 1)));
    }

    // Most of them finish; windows close meanwhile.
    for (const run of unfinished.slice(0, 4)) sim.finishRun(run.Id, 1 + (run.Id % 4));
    seed(sim, 20, 25);
    advance(5 * MIN);
    const second = await readAllPages(provider, src, first.at(-1)!.checkpoint, context);
    expect(second.at(-1)!.checkpoint.pending.map((p) => p.id)).toEqual([unfinished[4]!.Id]);
    for (let i = 0; i < second.length; i += 1) {
      const rest = await readAllPages(provider, src, second[i]!.checkpoint, context);
      expect(recordsOf(rest)).toEqual(recordsOf(second.slice(i + 1)));
    }
    const all = [...recordsOf(first), ...recordsOf(second)];
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
    expect(byId(all)).toEqual(byId(sim.expectedRecords({ from: T0, until: T0 + 25 * MIN, windowMs: MIN })));
  });

  it('archives a run still not final after maxPendingSeconds in its current state, with a warning', async () => {
    // now = T0 + 15 min (10 closed windows + 5 min settle).
    const { sim, source, advance, nowMs } = await setup({ limitPerSecond: 100_000 }, noLimit, 10);
    const warnings: { msg: string; runId?: number }[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void warnings.push(JSON.parse(line)) } });
    const context = harnessContext({ now: nowMs, rateLimiter: noLimit, logger });
    cleanups.push(() => context.close());
    const ancient = sim.addRun({ StartTime: T0 + MIN, Status: 0 });
    const stuck = sim.addRun({ StartTime: T0 + 8 * MIN, Status: -1 });
    const src = source('masking-history', { maxPendingSeconds: 1200 });

    const first = await readAllPages(provider, src, provider.initialCheckpoint(src.params, 0), context);
    // Their windows ended 13 and 6 minutes ago: both wait.
    expect(recordsOf(first)).toEqual([]);
    expect(first.at(-1)!.checkpoint.pending.map((p) => p.id)).toEqual([ancient.Id, stuck.Id]);

    // 8 minutes on: the first has waited 21 min (> 1200 s) past its window's end, the second 14.
    advance(8 * MIN);
    const second = await readAllPages(provider, src, first.at(-1)!.checkpoint, context);
    expect(recordsOf(second).map((r) => r.id)).toEqual([String(ancient.Id)]);
    expect((recordsOf(second)[0]!.record as { Status: number }).Status).toBe(0);
    expect(second.at(-1)!.checkpoint.pending.map((p) => p.id)).toEqual([stuck.Id]);
    expect(warnings.some((w) => w.runId === ancient.Id && /maxPendingSeconds/.test(w.msg))).toBe(true);

    // It finishing later does not archive it again; the second's wait runs out too.
    sim.finishRun(ancient.Id, 1);
    advance(20 * MIN);
    const third = await readAllPages(provider, src, second.at(-1)!.checkpoint, context);
    expect(recordsOf(third).map((r) => r.id)).toEqual([String(stuck.Id)]);
    expect((recordsOf(third)[0]!.record as { Status: number }).Status).toBe(-1);
    expect(third.at(-1)!.checkpoint.pending).toEqual([]);

    // A window read for the first time after the wait: its unfinished run is archived at once.
    const late = sim.addRun({ StartTime: third.at(-1)!.checkpoint.windowStart + 1, Status: 0 });
    advance(60 * MIN);
    const fourth = await readAllPages(provider, src, third.at(-1)!.checkpoint, context);
    expect(recordsOf(fourth).map((r) => r.id)).toEqual([String(late.Id)]);
    expect(fourth.at(-1)!.checkpoint.pending).toEqual([]);
  });

  it('reads a checkpoint written before pending existed as one with nothing pending', async () => {
    const { sim, context, source } = await setup({ limitPerSecond: 100_000 }, noLimit, 5);
    sim.addRun({ StartTime: T0 + 3 * MIN });
    const src = source();
    const migrated = provider.checkpointSchema.parse({ windowStart: T0 + 2 * MIN });
    expect(migrated).toEqual({ windowStart: T0 + 2 * MIN, pending: [] });
    const pages = await readAllPages(provider, src, migrated, context);
    expect(recordsOf(pages)).toEqual(sim.expectedRecords({ from: T0 + 2 * MIN, until: T0 + 5 * MIN, windowMs: MIN }));
    expect(provider.checkpointSchema.safeParse({ windowStart: T0, pending: [{ id: 1, windowStart: T0 }] }).success).toBe(false);
  });

  it('pages to TotalCount when the server serves fewer items per page than PageSize asks', async () => {
    const { sim, context, source } = await setup({ limitPerSecond: 100_000, maxPageSize: 3 }, noLimit, 4);
    for (let i = 0; i < 23; i += 1) sim.addRun({ StartTime: T0 + MIN + 1000 * i });
    sim.addRun({ StartTime: T0 + 3 * MIN });
    const src = source();
    const pages = await readAllPages(provider, src, provider.initialCheckpoint(src.params, 0), context);
    expect(recordsOf(pages)).toEqual(sim.expectedRecords({ from: T0, until: T0 + 4 * MIN, windowMs: MIN }));
    expect(recordsOf(pages)).toHaveLength(24);
    // The 24 items took ceil(24 / 3) = 8 calls, not 1 short page.
    expect(sim.callTimes.length).toBeGreaterThanOrEqual(8);
  });

  it('validates params, rate-limit key hides the AccessKey ID, default endpoint', () => {
    expect(provider.paramsSchema.safeParse({ startTime: 'yesterday' }).success).toBe(false);
    const p = provider.paramsSchema.parse({ startTime: '2026-01-01T00:00:00Z' });
    expect(p).toMatchObject({ pageSize: 100, settleSeconds: 3600, windowSeconds: 3600 });
    expect(p.maxPendingSeconds).toBe(86400);
    expect(provider.initialCheckpoint(p, 0)).toEqual({ windowStart: T0, pending: [] });
    expect(provider.defaultEndpoint(p)).toBe('https://sddp.cn-zhangjiakou.aliyuncs.com');
    expect(sddpRateLimitKey('LTAI5tSecretish')).toMatch(/^sddp:[0-9a-f]{16}$/);
    expect(sddpRateLimitKey('LTAI5tSecretish')).not.toContain('LTAI');
    expect(provider.summarize!({ windowStart: T0, pending: [] }).text).toContain('2026-01-01T00:00:00.000Z');
  });
});
