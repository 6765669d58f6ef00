import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HuaweiCredentials } from '../src/providers/huawei/index.js';
import {
  createHuaweiDwsAuditLogRecordsProvider,
  huaweiDwsAuditLogRecordsProvider,
  type DwsCheckpoint,
  type DwsParams,
} from '../src/providers/huawei-dws-audit-log-records.js';
import type { Provider, ProviderPage, ProviderRecord, SourceSpec } from '../src/providers/provider.js';
import { harnessContext, harnessSource, readAllPages, recordsOf } from './helpers/provider-harness.js';
import { HuaweiDwsSimulator } from '../simulators/index.js';

const PROJECT = '89cd04f168b84af6be287f71730fdb4b';
const CLUSTER = 'e59d6b86-9072-46eb-a996-13f8b44994c1';
const KEY = { ak: 'HPUAEXAMPLEAK7654321', sk: 'dws-secret-key-0001', securityToken: 'temporary-security-token-1' };
const TOKEN = 'MIIZmgYJKoZIhvcNAQcCoIIZizCCGYcCAQExDTALBglghkgBZQMEAgEwgDWS';
const FAULTS = ['throttle', 'server', 'reset', 'truncated', 'malformed', 'html', 'proto'] as const;

type DwsProvider = Provider<DwsParams, DwsCheckpoint, HuaweiCredentials>;

let sim: HuaweiDwsSimulator;
let context: ReturnType<typeof harnessContext>;

beforeEach(async () => {
  sim = new HuaweiDwsSimulator({ projectId: PROJECT, clusterId: CLUSTER, auth: { keys: [KEY], tokens: [TOKEN] }, order: 'shuffle' });
  await sim.start();
  context = harnessContext();
});
afterEach(async () => {
  await sim.stop();
  await context.close();
});

function sourceFor(provider: DwsProvider, credentials: HuaweiCredentials = KEY) {
  return harnessSource(provider, sim.url, credentials, { projectId: PROJECT, clusterId: CLUSTER });
}

function sortById(records: readonly ProviderRecord[]): ProviderRecord[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Resuming from any page's checkpoint yields exactly the records of the pages after it (server unchanged). */
async function expectResumeFromEveryPage(
  provider: DwsProvider,
  pages: ProviderPage<DwsCheckpoint>[],
  source: SourceSpec<DwsParams, HuaweiCredentials>,
): Promise<void> {
  for (let i = 0; i < pages.length; i += 1) {
    const rest = await readAllPages(provider, source, pages[i]!.checkpoint, context);
    expect(recordsOf(rest).map((r) => r.id)).toEqual(recordsOf(pages.slice(i + 1)).map((r) => r.id));
  }
}

/** One poll: its pages, the records they carry, and the checkpoint after it. */
async function poll(provider: DwsProvider, source: SourceSpec<DwsParams, HuaweiCredentials>, from: DwsCheckpoint) {
  const pages = await readAllPages(provider, source, from, context);
  return { pages, records: recordsOf(pages), checkpoint: pages.at(-1)?.checkpoint ?? from };
}

describe('huawei-dws-audit-log-records', () => {
  it('archives each record once in its final state; RUNNING ones wait and are reported pending', async () => {
    const provider = createHuaweiDwsAuditLogRecordsProvider({ pageSize: 2 });
    const source = sourceFor(provider);
    const [a, b, c, d, e] = sim.addRecords(5);
    sim.finish(a!, 'SUCCESS');
    sim.finish(c!, 'FAILED', 'OBS bucket not found');
    sim.finish(d!, 'SUCCESS');
    sim.faults.setRandom(0.3, FAULTS);

    const archived: ProviderRecord[] = [];
    const first = await poll(provider, source, provider.initialCheckpoint(source.params, 0));
    archived.push(...first.records);
    expect(first.records.map((r) => (r.record as { result: string }).result).sort()).toEqual(['FAILED', 'SUCCESS', 'SUCCESS']);
    expect(first.records.every((r) => JSON.stringify(r.context) === JSON.stringify({ projectId: PROJECT, clusterId: CLUSTER }))).toBe(true);
    const summary = provider.summarize!(first.checkpoint);
    expect((summary.pending as { id: string }[]).map((p) => p.id)).toEqual(sim.pendingIds());
    expect(summary.text).toMatch(/2 pending/);
    sim.faults.clear();
    await expectResumeFromEveryPage(provider, first.pages, source);

    // b finishes, e is still running, f starts: only b is new.
    sim.finish(b!, 'SUCCESS');
    const f = sim.addRecord();
    sim.faults.setRandom(0.3, FAULTS);
    const second = await poll(provider, source, first.checkpoint);
    archived.push(...second.records);
    expect(second.records.map((r) => r.id)).toEqual([sim.idOf(b!)]);
    expect(second.checkpoint.pending.map((p) => p.id).sort()).toEqual([sim.idOf(e!), sim.idOf(f)].sort());

    // Nothing finished, nothing new: no page.
    sim.faults.clear();
    expect(await readAllPages(provider, source, second.checkpoint, context)).toEqual([]);
    // A new RUNNING record only: an empty page whose checkpoint reports it.
    const g = sim.addRecord();
    const third = await poll(provider, source, second.checkpoint);
    expect(third.pages).toHaveLength(1);
    expect(third.records).toEqual([]);
    expect(provider.summarize!(third.checkpoint).pending).toHaveLength(3);

    sim.finish(e!, 'SUCCESS');
    sim.finish(f, 'FAILED', 'timeout');
    sim.finish(g, 'SUCCESS');
    const fourth = await poll(provider, source, third.checkpoint);
    archived.push(...fourth.records);
    expect(fourth.checkpoint.pending).toEqual([]);
    expect(provider.summarize!(fourth.checkpoint).text).toMatch(/0 pending/);

    expect(new Set(archived.map((r) => r.id)).size).toBe(archived.length);
    expect(sortById(archived)).toEqual(sim.expectedRecords());
    expect((archived.find((r) => r.id === sim.idOf(f))!.record as { failed_reason?: string }).failed_reason).toBe('timeout');
  });

  it('stays bounded through thousands of records while a stuck RUNNING job and late, out-of-order records are still handled', async () => {
    const provider = createHuaweiDwsAuditLogRecordsProvider({ recentIds: 64, pageSize: 50 });
    const source = sourceFor(provider, { token: TOKEN });
    const stuck = sim.addRecord(); // oldest of all, RUNNING for the whole test
    const slow = sim.addRecord(); // finishes only at the end
    const archived: ProviderRecord[] = [];
    let checkpoint = provider.initialCheckpoint(source.params, 0);
    const sizes: number[] = [];
    let previous: ReturnType<typeof sim.addRecords> = [];
    for (let round = 0; round < 12; round += 1) {
      const batch = sim.addRecords(250);
      // Most finish in the round they start, a few one round later, two share an executor_time.
      for (const [i, r] of batch.entries()) {
        if (i % 10 !== 3) sim.finish(r, i % 7 === 0 ? 'FAILED' : 'SUCCESS', i % 7 === 0 ? 'disk full' : undefined);
      }
      sim.addRecord({ executor_time: batch[100]!.executor_time, begin_time: '2000-01-01T00:00:00', result: 'SUCCESS' });
      if (round === 6) {
        // Listed only now, with an executor_time older than records archived last round (within the window).
        sim.addRecord({ executor_time: previous[240]!.executor_time.replace(/:00$/, ':01'), result: 'SUCCESS' });
      }
      const result = await poll(provider, source, checkpoint);
      archived.push(...result.records);
      for (let i = 0; i < batch.length; i += 1) if (i % 10 === 3) sim.finish(batch[i]!, 'SUCCESS');
      checkpoint = result.checkpoint;
      previous = batch;
      sizes.push(JSON.stringify(checkpoint).length);
      expect(checkpoint.recent.length).toBeLessThanOrEqual(64 + 1);
      expect(checkpoint.pending.map((p) => p.id)).toContain(sim.idOf(stuck));
    }
    sim.finish(slow, 'SUCCESS');
    const last = await poll(provider, source, checkpoint);
    archived.push(...last.records);
    expect(last.records.map((r) => r.id)).toContain(sim.idOf(slow));
    expect(last.checkpoint.pending.map((p) => p.id)).toEqual([sim.idOf(stuck)]);
    expect(Math.max(...sizes)).toBeLessThan(16_000);

    expect(archived.length).toBeGreaterThan(3000);
    expect(new Set(archived.map((r) => r.id)).size).toBe(archived.length);
    expect(sortById(archived)).toEqual(sim.expectedRecords());
  });

  it('resumes from every page while the window trims, with late records interleaved between archived ones', async () => {
    const provider = createHuaweiDwsAuditLogRecordsProvider({ recentIds: 4, pageSize: 2 });
    const source = sourceFor(provider);
    const early = sim.addRecords(8);
    for (const r of early) sim.finish(r, 'SUCCESS');
    const first = await poll(provider, source, provider.initialCheckpoint(source.params, 0));
    expect(first.checkpoint.floor).toBe(early[4]!.executor_time);
    // Late arrivals between the floor and the newest archived record, plus ties with archived times.
    for (const base of early.slice(4)) {
      sim.addRecord({ executor_time: base.executor_time.replace(/:00$/, ':30'), result: 'SUCCESS' });
      sim.addRecord({ executor_time: base.executor_time, begin_time: '1999-12-31T00:00:00', result: 'SUCCESS' });
    }
    for (const r of sim.addRecords(3)) sim.finish(r, 'SUCCESS');
    const second = await poll(provider, source, first.checkpoint);
    expect(second.pages.length).toBeGreaterThan(4);
    await expectResumeFromEveryPage(provider, second.pages, source);
    expect(sortById([...first.records, ...second.records])).toEqual(sim.expectedRecords());
    expect(huaweiDwsAuditLogRecordsProvider.summarize!(second.checkpoint).text).toMatch(/settled/);
  });
});
