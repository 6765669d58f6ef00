import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/observability/index.js';
import { aliyunDataWorksDqScanLog as provider, type DataWorksDqScanLogCheckpoint } from '../src/providers/aliyun-dataworks-dq-scan-log.js';
import { providerContext, readPages, type ReadPage } from '../src/providers/index.js';
import type { ProviderRecord } from '../src/providers/provider.js';
import { DataWorksSimulator } from '../simulators/index.js';
import { harnessContext, harnessSource, readAllPages, recordsOf, type HarnessContext } from './helpers/provider-harness.js';

const PROJECT = 10086;
const T0 = Date.now() - 60 * 60 * 1000;

let sim: DataWorksSimulator;
let clock: number;
let warnings: { msg: string; guard?: string; runId?: unknown }[];
let context: HarnessContext;

beforeEach(async () => {
  sim = new DataWorksSimulator({ segmentBytes: 64 });
  await sim.start();
  clock = T0 + 10 * 60 * 1000;
  warnings = [];
  const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void warnings.push(JSON.parse(line)) } });
  context = harnessContext({ now: () => clock, logger });
});
afterEach(async () => {
  await sim.stop();
  await context.close();
});

function discoverSource(discover: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return harnessSource(provider, sim.url, sim.credentials, {
    discover: { projectId: PROJECT, since: new Date(T0).toISOString(), lookbackSeconds: 60, settleSeconds: 0, pageSize: 3, ...discover },
    ...extra,
  });
}

function lines(runId: number, from: number, count: number): string {
  return Array.from({ length: count }, (_, i) => `run ${runId} line ${from + i} 检查 ✓\n`).join('');
}

/** Each run's records in the order read: runs are read concurrently, a run's own lines in order. */
function byRun(records: ProviderRecord[]): ProviderRecord[] {
  return records
    .map((r, i) => ({ r, i }))
    .sort((a, b) => Number(a.r.context.runId) - Number(b.r.context.runId) || a.i - b.i)
    .map(({ r }) => r);
}

describe('aliyun-dataworks-dq-scan-log: discovery', () => {
  it('archives every run the listing brings, runs appearing mid-drain included, each line once; retires final runs', async () => {
    // Ten runs before the first poll, a mix of outcomes and still running.
    const outcomes = ['Pass', 'Fail', 'Running', 'Error', 'Warn', 'Running', 'Pass', 'Pass', 'Running', 'Fail'];
    outcomes.forEach((status, i) => {
      const id = 5000 + i;
      sim.addRun(id, lines(id, 0, 3), { projectId: PROJECT, createTime: T0 + i * 1000, status });
    });
    // Noise the filters must leave out: another project.
    sim.addRun(9999, lines(9999, 0, 2), { projectId: 777, createTime: T0 + 500, status: 'Pass' });
    // Runs created while the listing is paged.
    let next = 6000;
    sim.beforeList = (call) => {
      if (call >= 2 && next < 6004) {
        sim.addRun(next, lines(next, 0, 2), { projectId: PROJECT, createTime: T0 + 20_000 + next, status: next % 2 ? 'Running' : 'Pass' });
        next += 1;
      }
    };
    const source = discoverSource();
    let checkpoint = provider.initialCheckpoint(source.params, clock);
    const archived: ProviderRecord[] = [];
    const drain = async () => {
      const pages = await readAllPages(provider, source, checkpoint, context);
      archived.push(...recordsOf(pages));
      if (pages.length > 0) checkpoint = pages.at(-1)!.checkpoint;
      return pages;
    };
    await drain();
    // Running runs grow, then finish; more runs arrive.
    expect(next).toBe(6004);
    sim.beforeList = undefined;
    for (const id of [5002, 5005, 5008, 6001, 6003]) sim.appendLog(id, lines(id, 100, 2));
    clock += 30_000;
    await drain();
    for (const id of [5002, 5005, 5008, 6001, 6003]) {
      sim.appendLog(id, lines(id, 200, 1));
      sim.setRunStatus(id, id === 5005 ? 'Error' : 'Pass', clock);
    }
    sim.addRun(7000, lines(7000, 0, 4), { projectId: PROJECT, createTime: T0 + 40_000, status: 'Pass' });
    clock += 30_000;
    await drain();
    clock += 30_000;
    await drain();

    const expected = sim.expectedRecords().filter((r) => r.context.runId !== 9999);
    expect(byRun(archived)).toEqual(expected);
    expect(new Set(archived.map((r) => r.id)).size).toBe(archived.length);
    // Everything is final and read: nothing active; retired ones only within the lookback.
    expect(checkpoint.discovered!.active).toEqual({});
    const windowStart = checkpoint.discovered!.from - 60_000;
    expect(checkpoint.discovered!.retired.every(([time]) => time >= windowStart)).toBe(true);
    // An idle poll yields nothing new.
    clock += 30_000;
    expect(recordsOf(await drain())).toEqual([]);
  });

  it('a page checkpoint the drain still holds does not change while later pages are read (the drain commits it then)', async () => {
    for (let i = 0; i < 6; i += 1)
      sim.addRun(8000 + i, lines(8000 + i, 0, 8), { projectId: PROJECT, createTime: T0 + i * 1000, status: 'Pass' });
    const source = discoverSource({}, { concurrency: 3 });
    const bound = providerContext(context.services, source);
    const held: { page: ReadPage<DataWorksDqScanLogCheckpoint>; text: string }[] = [];
    for await (const page of readPages(provider, source, provider.initialCheckpoint(source.params, clock), bound)) {
      held.push({ page, text: JSON.stringify(page.checkpoint) });
    }
    expect(held.length).toBeGreaterThan(5);
    for (const { page, text } of held) expect(JSON.stringify(page.checkpoint)).toBe(text);
  });

  it('keeps the checkpoint bounded over hundreds of runs: only running runs and the lookback stay', async () => {
    const source = discoverSource({ pageSize: 50 });
    let checkpoint = provider.initialCheckpoint(source.params, clock);
    const archived: ProviderRecord[] = [];
    let id = 1;
    const sizes: number[] = [];
    for (let round = 0; round < 6; round += 1) {
      for (let i = 0; i < 60; i += 1, id += 1) {
        sim.addRun(id, `only line of ${id}\n`, {
          projectId: PROJECT,
          createTime: T0 + id * 10_000,
          status: id % 7 === 0 ? 'Running' : 'Pass',
        });
      }
      // The runs left running a round ago finish now.
      clock = T0 + id * 10_000;
      for (const r of sim.runIds()) if (sim.runInfo(r).status === 'Running' && r < id - 60) sim.setRunStatus(r, 'Fail', clock);
      const pages = await readAllPages(provider, source, checkpoint, context);
      archived.push(...recordsOf(pages));
      checkpoint = pages.at(-1)!.checkpoint;
      sizes.push(JSON.stringify(checkpoint).length);
      const active = Object.keys(checkpoint.discovered!.active).map(Number);
      expect(active.every((r) => sim.runInfo(r).status === 'Running')).toBe(true);
      expect(checkpoint.discovered!.retired.length).toBeLessThanOrEqual(7);
    }
    expect(byRun(archived)).toEqual(sim.expectedRecords());
    // 360 runs archived; the checkpoint does not grow with them.
    expect(Math.max(...sizes)).toBeLessThan(2500);
  });

  it('follows a long-running run the listing window has left behind, and retires it once final', async () => {
    sim.addRun(1, lines(1, 0, 2), { projectId: PROJECT, createTime: T0, status: 'Running' });
    const source = discoverSource();
    let checkpoint = (await readAllPages(provider, source, provider.initialCheckpoint(source.params, clock), context)).at(-1)!.checkpoint;
    // Later runs move the listing far past run 1's start.
    for (let i = 2; i <= 5; i += 1) sim.addRun(i, lines(i, 0, 1), { projectId: PROJECT, createTime: T0 + i * 600_000, status: 'Pass' });
    sim.appendLog(1, lines(1, 2, 2));
    clock = T0 + 50 * 60_000;
    let pages = await readAllPages(provider, source, checkpoint, context);
    checkpoint = pages.at(-1)!.checkpoint;
    expect(Object.keys(checkpoint.discovered!.active)).toEqual(['1']);
    expect(checkpoint.discovered!.from).toBe(T0 + 5 * 600_000);
    sim.appendLog(1, lines(1, 4, 1));
    clock += 60_000;
    sim.setRunStatus(1, 'Pass', clock);
    pages = await readAllPages(provider, source, checkpoint, context);
    checkpoint = pages.at(-1)!.checkpoint;
    expect(checkpoint.discovered!.active).toEqual({});
    const all = await readAllPages(provider, source, provider.initialCheckpoint(source.params, clock), context);
    expect(byRun(recordsOf(all))).toEqual(sim.expectedRecords());
  });

  it('retires a run that never finishes after maxActiveSeconds, with a warning', async () => {
    sim.addRun(1, lines(1, 0, 2), { projectId: PROJECT, createTime: T0, status: 'Running' });
    const source = discoverSource({ maxActiveSeconds: 3600 });
    let checkpoint = (await readAllPages(provider, source, provider.initialCheckpoint(source.params, clock), context)).at(-1)!.checkpoint;
    expect(Object.keys(checkpoint.discovered!.active)).toEqual(['1']);
    sim.appendLog(1, lines(1, 2, 1));
    clock = T0 + 3600_000 + 1;
    const pages = await readAllPages(provider, source, checkpoint, context);
    checkpoint = pages.at(-1)!.checkpoint;
    expect(recordsOf(pages).map((r) => (r.record as { line: string }).line)).toEqual(['run 1 line 2 检查 ✓']);
    expect(checkpoint.discovered!.active).toEqual({});
    expect(warnings.some((w) => w.guard === 'discovery-abandoned' && w.runId === '1')).toBe(true);
  });

  it('a run removed while the listing is paged does not make the next one skipped', async () => {
    for (let i = 1; i <= 9; i += 1) sim.addRun(i, lines(i, 0, 1), { projectId: PROJECT, createTime: T0 + i * 1000, status: 'Pass' });
    sim.beforeList = (call) => {
      if (call === 2) sim.removeRun(1);
    };
    const source = discoverSource();
    const pages = await readAllPages(provider, source, provider.initialCheckpoint(source.params, clock), context);
    const ids = new Set(recordsOf(pages).map((r) => Number(r.context.runId)));
    for (let i = 2; i <= 9; i += 1) expect(ids.has(i)).toBe(true);
    expect(warnings.some((w) => w.guard === 'discovery-listing-shifted')).toBe(true);
  });

  it('runIds and discover together: a configured run is read once, as configured', async () => {
    sim.addRun(1, lines(1, 0, 2), { projectId: PROJECT, createTime: T0 + 1000, status: 'Pass' });
    sim.addRun(2, lines(2, 0, 2), { projectId: PROJECT, createTime: T0 + 2000, status: 'Pass' });
    const source = discoverSource({}, { runIds: [1] });
    const pages = await readAllPages(provider, source, provider.initialCheckpoint(source.params, clock), context);
    expect(byRun(recordsOf(pages))).toEqual(sim.expectedRecords());
    const last = pages.at(-1)!.checkpoint;
    expect(last.offsets).toEqual({ '1': Buffer.byteLength(lines(1, 0, 2)) });
    expect(last.discovered!.retired.map(([, key]) => key)).toEqual(['2']);
  });

  it('a scanId filter archives that scan only', async () => {
    sim.addRun(1, lines(1, 0, 1), { projectId: PROJECT, scanId: 1, createTime: T0 + 1000, status: 'Pass' });
    sim.addRun(2, lines(2, 0, 1), { projectId: PROJECT, scanId: 2, createTime: T0 + 2000, status: 'Pass' });
    const source = discoverSource({ scanId: 2 });
    const pages = await readAllPages(provider, source, provider.initialCheckpoint(source.params, clock), context);
    expect(recordsOf(pages).map((r) => r.context.runId)).toEqual([2]);
  });

  it('a start time in the future does not move the listing past now', async () => {
    sim.addRun(1, lines(1, 0, 1), { projectId: PROJECT, createTime: clock + 365 * 86_400_000, status: 'Pass' });
    const source = discoverSource();
    const first = await readAllPages(provider, source, provider.initialCheckpoint(source.params, clock), context);
    expect(first.at(-1)!.checkpoint.discovered!.from).toBeLessThanOrEqual(clock);
    expect(warnings.some((w) => w.guard === 'discovery-future-start')).toBe(true);
    sim.addRun(2, lines(2, 0, 1), { projectId: PROJECT, createTime: clock - 1000, status: 'Pass' });
    const second = await readAllPages(provider, source, first.at(-1)!.checkpoint, context);
    expect(recordsOf(second).map((r) => r.context.runId)).toEqual([2]);
  });

  it('validates discover params by path', () => {
    const missing = provider.paramsSchema.safeParse({});
    expect(missing.success).toBe(false);
    expect(missing.error!.issues[0]!.path).toEqual(['runIds']);
    const bad = provider.paramsSchema.safeParse({ discover: { projectId: 'x', since: 'yesterday' } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['discover.projectId', 'discover.since']);
    const ok = provider.paramsSchema.parse({ discover: { projectId: 10086, scanId: 2001, since: '2026-09-01T00:00:00Z' } });
    expect(ok.discover).toMatchObject({ lookbackSeconds: 600, settleSeconds: 300, pageSize: 100 });
    expect(ok.concurrency).toBe(4);
  });
});

describe('aliyun-dataworks-dq-scan-log: a log that changes below the checkpoint', () => {
  async function firstDrain(
    text: string,
  ): Promise<{ source: ReturnType<typeof harnessSource>; pages: ReadPage<DataWorksDqScanLogCheckpoint>[] }> {
    sim.addRun(1, text);
    const source = harnessSource(provider, sim.url, sim.credentials, { runIds: [1] });
    const pages = await readAllPages(provider, source, provider.initialCheckpoint(source.params, clock), context);
    return { source, pages };
  }

  async function drainWithFigures(source: ReturnType<typeof harnessSource>, from: DataWorksDqScanLogCheckpoint) {
    const bound = providerContext(context.services, source);
    const pages: ReadPage<DataWorksDqScanLogCheckpoint>[] = [];
    for await (const page of readPages(provider, source as never, from, bound)) pages.push(page);
    return { pages, guards: bound.guards };
  }

  it('an unchanged log is checked for free: the re-read of the last line rides on the next call', async () => {
    const { source, pages } = await firstDrain(lines(1, 0, 3));
    const calls = sim.callTimes.length;
    sim.appendLog(1, lines(1, 3, 1));
    const { pages: more, guards } = await drainWithFigures(source, pages.at(-1)!.checkpoint);
    expect(recordsOf(more).map((r) => r.id)).toEqual([`1:${Buffer.byteLength(lines(1, 0, 3))}`]);
    expect(guards).toEqual({});
    expect(sim.callTimes.length - calls).toBe(1);
  });

  it('a log cut short is reported and archived again as generation 1: every line of the new log, no id reused', async () => {
    const original = lines(1, 0, 6);
    const { source, pages } = await firstDrain(original);
    const shorter = `${lines(1, 0, 2)}rewritten tail\n`;
    sim.replaceLog(1, shorter);
    const { pages: more, guards } = await drainWithFigures(source, pages.at(-1)!.checkpoint);
    expect(guards).toEqual({ 'dataworks-log-shrank': 1 });
    const figure = more.flatMap((p) => p.completeness ?? []).find((f) => f.stream === 'run 1');
    expect(figure).toMatchObject({ unit: 'bytes', archived: Buffer.byteLength(original) });
    expect(figure!.stated).toBeLessThan(figure!.archived);
    const regen = recordsOf(more);
    expect(regen.every((r) => r.id.startsWith('1#1:') && r.context.generation === 1)).toBe(true);
    expect(regen.map((r) => r.record)).toEqual(sim.expectedRecords().map((r) => r.record));
    const ids = [...recordsOf(pages), ...regen].map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(more.at(-1)!.checkpoint.generations).toEqual({ '1': 1 });
    // And it carries on from there like any log.
    sim.appendLog(1, 'after\n');
    const { pages: after, guards: quiet } = await drainWithFigures(source, more.at(-1)!.checkpoint);
    expect(quiet).toEqual({});
    expect(recordsOf(after).map((r) => r.record)).toEqual([{ offset: Buffer.byteLength(shorter), line: 'after' }]);
  });

  it('a log rewritten below the checkpoint (same length or longer) is reported and archived again', async () => {
    const original = lines(1, 0, 4);
    const { source, pages } = await firstDrain(original);
    sim.replaceLog(1, `${original.slice(0, -3)}✗✗\nand more\n`);
    const { pages: more, guards } = await drainWithFigures(source, pages.at(-1)!.checkpoint);
    expect(guards).toEqual({ 'dataworks-log-changed': 1 });
    expect(recordsOf(more).map((r) => (r.record as { line: string }).line)).toEqual(sim.expectedRecords().map((r) => r.record.line));
    expect(recordsOf(more).every((r) => r.context.generation === 1)).toBe(true);
  });
});
