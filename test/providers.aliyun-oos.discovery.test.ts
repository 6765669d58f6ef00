import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/observability/index.js';
import { aliyunOosExecutionLogs as provider, type OosExecutionLogsCheckpoint } from '../src/providers/aliyun-oos-execution-logs.js';
import { providerContext, readPages, type ReadPage } from '../src/providers/index.js';
import type { ProviderRecord } from '../src/providers/provider.js';
import { OosSimulator } from '../simulators/index.js';
import { harnessContext, harnessSource, readAllPages, recordsOf, type HarnessContext } from './helpers/provider-harness.js';

const TEMPLATE = 'ACS-ECS-BulkyRunCommand';
const T0 = Math.floor((Date.now() - 60 * 60 * 1000) / 1000) * 1000;

let sim: OosSimulator;
let clock: number;
let warnings: { msg: string; guard?: string }[];
let context: HarnessContext;

beforeEach(async () => {
  sim = new OosSimulator();
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

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function discoverSource(discover: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return harnessSource(provider, sim.url, sim.credentials, {
    regionId: 'cn-hangzhou',
    maxResults: 5,
    discover: { templateName: TEMPLATE, since: iso(T0), lookbackSeconds: 60, settleSeconds: 0, pageSize: 10, ...discover },
    ...extra,
  });
}

function fixedSource(executionIds: string[]) {
  return harnessSource(provider, sim.url, sim.credentials, { regionId: 'cn-hangzhou', executionIds, maxResults: 5 });
}

function entries(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix} step ${i} — 任务完成`);
}

/** Archived entries of an execution as text, in archive order. */
function messages(records: ProviderRecord[], executionId: string): string[] {
  return records.filter((r) => r.context.executionId === executionId).map((r) => (r.record as { Message: string }).Message);
}

async function drainGuarded(source: ReturnType<typeof fixedSource>, from: OosExecutionLogsCheckpoint) {
  const bound = providerContext(context.services, source);
  const pages: ReadPage<OosExecutionLogsCheckpoint>[] = [];
  for await (const page of readPages(provider, source as never, from, bound)) pages.push(page);
  return { pages, guards: bound.guards, checkpoint: pages.at(-1)?.checkpoint ?? from };
}

describe('aliyun-oos-execution-logs: discovery', () => {
  it('archives every execution of the template, new ones mid-drain included, each entry once; retires final ones', async () => {
    const statuses = [
      'Success',
      'Running',
      'Failed',
      'Running',
      'Cancelled',
      'Success',
      'Waiting',
      'Success',
      'Running',
      'Success',
      'Failed',
      'Queued',
    ];
    statuses.forEach((Status, i) => {
      const id = `exec-${String(i).padStart(3, '0')}`;
      sim.addExecution(id, { StartDate: iso(T0 + i * 1000), Status });
      sim.appendLogs(id, entries(id, 3 + (i % 4)));
    });
    // Another template, and one whose name contains ours: the API matches by "contains".
    sim.addExecution('exec-other', { TemplateName: 'ACS-ECS-Other', StartDate: iso(T0 + 500) });
    sim.appendLogs('exec-other', entries('other', 2));
    sim.addExecution('exec-variant', { TemplateName: `${TEMPLATE}-v2`, StartDate: iso(T0 + 700), Status: 'Success' });
    sim.appendLogs('exec-variant', entries('variant', 2));
    let started = 0;
    sim.beforeList = (call) => {
      if (call >= 2 && started < 5) {
        const id = `exec-new-${started}`;
        sim.addExecution(id, { StartDate: iso(T0 + 30_000 + started * 1000), Status: started % 2 ? 'Running' : 'Success' });
        sim.appendLogs(id, entries(id, 4));
        started += 1;
      }
    };
    const source = discoverSource();
    let checkpoint = provider.initialCheckpoint(source.params, clock);
    const archived: ProviderRecord[] = [];
    const drain = async () => {
      const pages = await readAllPages(provider, source, checkpoint, context);
      archived.push(...recordsOf(pages));
      if (pages.length > 0) checkpoint = pages.at(-1)!.checkpoint;
    };
    await drain();
    expect(started).toBeGreaterThan(0);
    await drain();
    sim.beforeList = undefined;
    const running = sim.executionIds().filter((id) => !['Success', 'Failed', 'Cancelled'].includes(sim.executionInfo(id).Status));
    for (const id of running) sim.appendLogs(id, entries(`${id} more`, 6));
    clock += 30_000;
    await drain();
    for (const id of running) {
      sim.appendLogs(id, entries(`${id} last`, 1));
      sim.setExecutionStatus(id, 'Success', clock);
    }
    clock += 30_000;
    await drain();
    clock += 30_000;
    await drain();

    const expected = sim.expectedRecords().filter((r) => r.context.executionId !== 'exec-other');
    const ids = sim.executionIds().filter((id) => id !== 'exec-other');
    for (const id of ids) expect(messages(archived, id)).toEqual(messages(expected as ProviderRecord[], id));
    expect(archived).toHaveLength(expected.length);
    expect(new Set(archived.map((r) => r.id)).size).toBe(archived.length);
    expect(started).toBeGreaterThanOrEqual(2);
    expect(checkpoint.discovered!.active).toEqual({});
    expect(checkpoint.executions).toEqual({});
  });

  it('a long-running execution outside the listing window is looked up by id and retired once final', async () => {
    sim.addExecution('exec-long', { StartDate: iso(T0) });
    sim.appendLogs('exec-long', entries('long', 2));
    const source = discoverSource();
    let checkpoint = (await readAllPages(provider, source, provider.initialCheckpoint(source.params, clock), context)).at(-1)!.checkpoint;
    for (let i = 1; i <= 3; i += 1) {
      sim.addExecution(`exec-${i}`, { StartDate: iso(T0 + i * 600_000), Status: 'Success' });
      sim.appendLogs(`exec-${i}`, entries(`e${i}`, 1));
    }
    sim.appendLogs('exec-long', entries('long more', 2));
    clock = T0 + 40 * 60_000;
    checkpoint = (await readAllPages(provider, source, checkpoint, context)).at(-1)!.checkpoint;
    expect(Object.keys(checkpoint.discovered!.active)).toEqual(['exec-long']);
    sim.setExecutionStatus('exec-long', 'Failed', clock);
    clock += 60_000;
    checkpoint = (await readAllPages(provider, source, checkpoint, context)).at(-1)!.checkpoint;
    expect(checkpoint.discovered!.active).toEqual({});
  });

  it('validates discover params by path', () => {
    const missing = provider.paramsSchema.safeParse({ regionId: 'cn-hangzhou' });
    expect(missing.success).toBe(false);
    expect(missing.error!.issues[0]!.path).toEqual(['executionIds']);
    const bad = provider.paramsSchema.safeParse({ regionId: 'cn-hangzhou', discover: { templateName: '', since: 'x', pageSize: 5 } });
    expect(bad.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['discover.pageSize', 'discover.since', 'discover.templateName']);
  });
});

describe('aliyun-oos-execution-logs: entries that change before the checkpoint', () => {
  it('an entry inserted among the last archived ones is archived once; the one it pushed down is not archived again', async () => {
    sim.addExecution('exec-a');
    sim.appendLogs('exec-a', entries('a', 12));
    const source = fixedSource(['exec-a']);
    const first = await drainGuarded(source, provider.initialCheckpoint(source.params, clock));
    sim.insertLogs('exec-a', 10, ['late entry, timestamped before the last two']);
    sim.appendLogs('exec-a', entries('b', 2));
    const second = await drainGuarded(source, first.checkpoint);
    expect(second.guards).toEqual({ 'oos-prefix-changed': 1 });
    const all = [...recordsOf(first.pages), ...recordsOf(second.pages)];
    expect([...messages(all, 'exec-a')].sort()).toEqual(
      sim
        .logsOf('exec-a')
        .map((e) => e.Message)
        .sort(),
    );
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
    expect(recordsOf(second.pages).map((r) => r.id)).toEqual(['exec-a:12', 'exec-a:13', 'exec-a:14']);
    const figure = second.pages.flatMap((p) => p.completeness ?? []).at(-1)!;
    expect(figure).toMatchObject({ stream: 'execution exec-a', stated: 15, archived: 15 });
    // From there on it is an ordinary execution again.
    sim.appendLogs('exec-a', entries('c', 1));
    const third = await drainGuarded(source, second.checkpoint);
    expect(third.guards).toEqual({});
    expect(messages(recordsOf(third.pages), 'exec-a')).toEqual(entries('c', 1));
  });

  it('an entry inserted long before the checkpoint is reported as a gap of one, not guessed at', async () => {
    sim.addExecution('exec-a');
    sim.appendLogs('exec-a', entries('a', 30));
    const source = fixedSource(['exec-a']);
    const first = await drainGuarded(source, provider.initialCheckpoint(source.params, clock));
    sim.insertLogs('exec-a', 2, ['inserted deep in history']);
    const second = await drainGuarded(source, first.checkpoint);
    expect(second.guards).toEqual({ 'oos-prefix-changed': 1 });
    expect(recordsOf(second.pages)).toEqual([]);
    const figure = second.pages.flatMap((p) => p.completeness ?? []).at(-1)!;
    expect(figure).toMatchObject({ stated: 31, archived: 30 });
    expect(figure.note).toContain('1 entries appeared before the archived tail');
    expect(warnings.some((w) => w.guard === 'oos-prefix-changed')).toBe(true);
  });

  it('entries removed before the checkpoint are reported, and new ones still archived', async () => {
    sim.addExecution('exec-a');
    sim.appendLogs('exec-a', entries('a', 20));
    const source = fixedSource(['exec-a']);
    const first = await drainGuarded(source, provider.initialCheckpoint(source.params, clock));
    sim.removeLogs('exec-a', 0, 3);
    sim.appendLogs('exec-a', entries('b', 2));
    const second = await drainGuarded(source, first.checkpoint);
    expect(second.guards).toEqual({ 'oos-prefix-changed': 1 });
    expect(messages(recordsOf(second.pages), 'exec-a')).toEqual(entries('b', 2));
    const figure = second.pages.flatMap((p) => p.completeness ?? []).at(-1)!;
    expect(figure).toMatchObject({ stated: 19, archived: 22 });
  });

  it('a checkpoint from before tails were kept resumes without a repeat and starts checking', async () => {
    sim.addExecution('exec-a');
    sim.appendLogs('exec-a', entries('a', 7));
    const source = fixedSource(['exec-a']);
    sim.appendLogs('exec-a', entries('b', 1));
    const { pages, checkpoint } = await drainGuarded(source, { executions: { 'exec-a': { archived: 7, tokenIndex: 0 } } });
    expect(recordsOf(pages).map((r) => r.id)).toEqual(['exec-a:7']);
    // The two archived entries on the re-read page (maxResults 5), then the new one.
    expect(checkpoint.executions['exec-a']!.tail).toHaveLength(3);
  });
});
