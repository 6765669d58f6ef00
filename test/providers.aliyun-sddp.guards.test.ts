import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/observability/index.js';
import { aliyunSddpMaskingHistory as provider, type SddpMaskingHistoryCheckpoint } from '../src/providers/aliyun-sddp-masking-history.js';
import { providerContext, readPages, type ReadPage } from '../src/providers/index.js';
import type { RateLimiter } from '../src/ratelimit/index.js';
import { SddpSimulator } from '../simulators/index.js';
import { harnessContext, harnessSource, recordsOf, type HarnessContext } from './helpers/provider-harness.js';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const HOUR = 60 * MIN;
const noLimit: RateLimiter = { acquire: async () => ({ grantedAt: 0, release: () => {} }), close: async () => {} };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A simulator, a clock at `closed` closed minute windows past T0 (settle 0), and a drain function. */
async function setup(closed: number, options: ConstructorParameters<typeof SddpSimulator>[0] = {}, extra: Record<string, unknown> = {}) {
  const sim = new SddpSimulator({ limitPerSecond: 100_000, ...options });
  await sim.start();
  let now = T0 + closed * MIN;
  const warnings: { msg: string; guard?: string }[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void warnings.push(JSON.parse(line)) } });
  const context: HarnessContext = harnessContext({ now: () => now, rateLimiter: noLimit, logger });
  cleanups.push(
    () => sim.stop(),
    () => context.close(),
  );
  const source = harnessSource(provider, sim.url, sim.credentials, {
    startTime: T0,
    pageSize: 10,
    windowSeconds: 60,
    settleSeconds: 0,
    startTimeDriftSeconds: 600,
    ...extra,
  });
  let checkpoint: SddpMaskingHistoryCheckpoint = provider.initialCheckpoint(source.params, now);
  const archived: { id: string; context: Record<string, unknown>; record: unknown }[] = [];
  const drain = async () => {
    const bound = providerContext(context.services, source);
    const pages: ReadPage<SddpMaskingHistoryCheckpoint>[] = [];
    for await (const page of readPages(provider, source, checkpoint, bound)) pages.push(page);
    if (pages.length > 0) checkpoint = provider.checkpointSchema.parse(JSON.parse(JSON.stringify(pages.at(-1)!.checkpoint)));
    archived.push(...recordsOf(pages));
    return { pages, guards: { ...bound.guards } };
  };
  return { sim, warnings, drain, archived, advance: (ms: number) => (now += ms), checkpoint: () => checkpoint };
}

const ids = (records: { id: string }[]) => records.map((r) => Number(r.id));

describe('aliyun-sddp-masking-history: StartTime that moves, items outside the window', () => {
  it('a pending run whose StartTime moves to a window not read yet is archived once, there, in its final state', async () => {
    const { sim, drain, archived, advance } = await setup(10);
    const run = sim.addRun({ StartTime: T0 + 2 * MIN, Status: -1 });
    await drain();
    expect(archived).toEqual([]);
    // It starts: its StartTime becomes its real start, after the windows read so far.
    sim.moveRun(run.Id, T0 + 12 * MIN + 5);
    sim.finishRun(run.Id, 1);
    // Not listed up to now: it stays pending (its wait runs on).
    await drain();
    expect(archived).toEqual([]);
    advance(5 * MIN);
    const moved = await drain();
    expect(moved.guards['sddp-start-time-moved']).toBe(1);
    expect(ids(archived)).toEqual([run.Id]);
    expect(archived[0]!.context).toEqual({ windowStart: T0 + 12 * MIN, windowEnd: T0 + 13 * MIN });
    advance(20 * MIN);
    await drain();
    expect(ids(archived)).toEqual([run.Id]);
  });

  it('a pending run that moves to another window already read is found by its TaskId and archived once', async () => {
    const { sim, drain, archived, checkpoint, advance } = await setup(40);
    const run = sim.addRun({ StartTime: T0 + 2 * MIN, Status: 0, TaskId: 'task-moving' });
    sim.addRun({ StartTime: T0 + 3 * MIN, TaskId: 'task-other' });
    await drain();
    expect(checkpoint().pending.map((p) => p.id)).toEqual([run.Id]);
    // Far outside the drift span (10 min before the checkpoint at 40 min), and already read.
    sim.moveRun(run.Id, T0 + 15 * MIN);
    advance(MIN);
    const first = await drain();
    expect(first.guards['sddp-start-time-moved']).toBe(1);
    expect(checkpoint().pending).toMatchObject([{ id: run.Id, windowStart: T0 + 15 * MIN }]);
    sim.finishRun(run.Id, 4);
    advance(MIN);
    await drain();
    expect(ids(archived).filter((id) => id === run.Id)).toEqual([run.Id]);
    expect(checkpoint().pending).toEqual([]);
    expect((archived.find((r) => Number(r.id) === run.Id)!.record as { Status: number }).Status).toBe(4);
  });

  it('an archived run whose StartTime moves into a later window is not archived again', async () => {
    const { sim, drain, archived, advance } = await setup(10);
    const run = sim.addRun({ StartTime: T0 + 8 * MIN });
    await drain();
    expect(ids(archived)).toEqual([run.Id]);
    sim.moveRun(run.Id, T0 + 11 * MIN + 30_000);
    advance(5 * MIN);
    const again = await drain();
    expect(again.guards['sddp-start-time-moved']).toBe(1);
    expect(ids(archived)).toEqual([run.Id]);
  });

  it('a run whose StartTime moves back into a window already read is archived once, from the drift span', async () => {
    const { sim, drain, archived, advance } = await setup(10);
    sim.addRun({ StartTime: T0 + 4 * MIN });
    const late = sim.addRun({ StartTime: T0 + 30 * MIN });
    await drain();
    expect(ids(archived)).not.toContain(late.Id);
    sim.moveRun(late.Id, T0 + 6 * MIN);
    advance(MIN);
    const moved = await drain();
    expect(moved.guards['sddp-listed-late']).toBe(1);
    expect(ids(archived).filter((id) => id === late.Id)).toEqual([late.Id]);
    advance(40 * MIN);
    await drain();
    expect(ids(archived).filter((id) => id === late.Id)).toEqual([late.Id]);
    expect(new Set(ids(archived)).size).toBe(archived.length);
  });

  it('counts items the API returns outside the asked window, and archives each once in its own window', async () => {
    // A server whose EndTime bound is a minute loose: every answer carries the next window's items.
    const { sim, drain, archived, advance } = await setup(3, { endTimeSlackMs: MIN }, { pageSize: 100 });
    const inside = [sim.addRun({ StartTime: T0 + 30_000 }), sim.addRun({ StartTime: T0 + MIN + 30_000 })];
    const outside = [sim.addRun({ StartTime: T0 + 3 * MIN + 10 }), sim.addRun({ StartTime: T0 + 3 * MIN + 20 })];
    const first = await drain();
    expect(first.guards['sddp-outside-window']).toBe(2);
    expect(ids(archived)).toEqual(inside.map((r) => r.Id));
    advance(MIN);
    await drain();
    expect([...ids(archived)].sort((a, b) => a - b)).toEqual([...inside, ...outside].map((r) => r.Id));
  });

  it('a pending run that is no longer listed anywhere is reported as a gap after maxPendingSeconds', async () => {
    const { sim, drain, warnings, advance } = await setup(10, {}, { maxPendingSeconds: 600 });
    const run = sim.addRun({ StartTime: T0 + 2 * MIN, Status: -1 });
    await drain();
    sim.moveRun(run.Id, T0 - HOUR);
    advance(15 * MIN);
    const lost = await drain();
    expect(lost.guards['sddp-pending-lost']).toBe(1);
    const figure = lost.pages.flatMap((p) => p.completeness ?? []).find((f) => f.stream === `run ${run.Id}`);
    expect(figure).toMatchObject({ stated: 1, archived: 0 });
    expect(warnings.some((w) => w.guard === 'sddp-pending-lost')).toBe(true);
  });

  it('states each window it reads: items listed, archived and pending', async () => {
    const { sim, drain } = await setup(5);
    sim.addRun({ StartTime: T0 + MIN + 1 });
    sim.addRun({ StartTime: T0 + MIN + 2, Status: 0 });
    sim.addRun({ StartTime: T0 + 3 * MIN });
    const { pages } = await drain();
    const figures = pages.flatMap((p) => p.completeness ?? []);
    expect(figures).toEqual([
      { stream: `window ${new Date(T0 + MIN).toISOString()}`, unit: 'records', stated: 2, archived: 1, pending: 1, at: T0 + MIN },
      { stream: `window ${new Date(T0 + 3 * MIN).toISOString()}`, unit: 'records', stated: 1, archived: 1, at: T0 + 3 * MIN },
    ]);
  });
});

describe('aliyun-sddp-masking-history: calls worth their cost', () => {
  it('a backlog of 5,000 runs in one week, the source starting 11 months earlier: within 10 % of ceil(items / pageSize) calls', async () => {
    const days = 335;
    const sim = new SddpSimulator({ limitPerSecond: 100_000 });
    await sim.start();
    const start = T0;
    const weekStart = start + (days - 7) * 24 * HOUR;
    for (let i = 0; i < 5000; i += 1) sim.addRun({ StartTime: weekStart + Math.floor((i * 7 * 24 * HOUR) / 5000) });
    const now = start + days * 24 * HOUR + HOUR;
    const context = harnessContext({ now: () => now, rateLimiter: noLimit });
    cleanups.push(
      () => sim.stop(),
      () => context.close(),
    );
    const source = harnessSource(provider, sim.url, sim.credentials, { startTime: start, pageSize: 100 });
    const bound = providerContext(context.services, source);
    const records = [];
    for await (const page of readPages(provider, source, provider.initialCheckpoint(source.params, now), bound))
      records.push(...page.records);
    expect(records).toHaveLength(5000);
    expect(new Set(records.map((r) => r.id)).size).toBe(5000);
    expect(sim.callTimes.length).toBeLessThanOrEqual(Math.ceil(Math.ceil(5000 / 100) * 1.1));
  });
});
