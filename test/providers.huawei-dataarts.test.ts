import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderAuthError } from '../src/errors/index.js';
import type { HuaweiCredentials } from '../src/providers/huawei/index.js';
import {
  createHuaweiDataArtsAccessLogProvider,
  huaweiDataArtsAccessLogProvider,
  type DataArtsCheckpoint,
  type DataArtsParams,
} from '../src/providers/huawei-dataarts-accesslog.js';
import type { Provider, ProviderPage, ProviderRecord, SourceSpec } from '../src/providers/provider.js';
import { harnessContext, harnessSource, readAllPages, recordsOf } from '../src/simulators/aliyun-harness.js';
import { HuaweiDataArtsSimulator } from '../src/simulators/huawei-dataarts.js';

const PROJECT = '0833a5737480d53b2f250010d01a7b88';
const INSTANCE = '4f9366ce3e87860934c36d0ac027ad6a';
const WORKSPACE = 'ws-0001';
const KEY = { ak: 'HPUAEXAMPLEAK1234567', sk: 'dataarts-secret-key-0001' };
const TOKEN = 'MIIZmgYJKoZIhvcNAQcCoIIZizCCGYcCAQExDTALBglghkgBZQMEAgEwgXXXX';
const FAULTS = ['throttle', 'server', 'reset', 'truncated', 'malformed', 'html', 'proto'] as const;
const T0 = 1_720_440_166_661;

type DataArtsProvider = Provider<DataArtsParams, DataArtsCheckpoint, HuaweiCredentials>;

let sim: HuaweiDataArtsSimulator;
let context: ReturnType<typeof harnessContext>;

function start(options: { order?: 'asc' | 'desc' | 'shuffle'; retain?: number } = {}): Promise<string> {
  sim = new HuaweiDataArtsSimulator({
    projectId: PROJECT,
    instanceId: INSTANCE,
    workspace: WORKSPACE,
    auth: { keys: [KEY], tokens: [TOKEN] },
    order: options.order ?? 'shuffle',
    retain: options.retain,
  });
  return sim.start();
}

beforeEach(() => {
  context = harnessContext();
});
afterEach(async () => {
  await sim.stop();
  await context.close();
});

function sourceFor(provider: DataArtsProvider, params: Partial<DataArtsParams> = {}, credentials: HuaweiCredentials = KEY) {
  return harnessSource(provider, sim.url, credentials, { projectId: PROJECT, instanceId: INSTANCE, workspace: WORKSPACE, ...params });
}

/** Resuming from any page's checkpoint yields exactly the records of the pages after it (server unchanged). */
async function expectResumeFromEveryPage(
  provider: DataArtsProvider,
  pages: ProviderPage<DataArtsCheckpoint>[],
  source: SourceSpec<DataArtsParams, HuaweiCredentials>,
): Promise<void> {
  for (let i = 0; i < pages.length; i += 1) {
    const rest = await readAllPages(provider, source, pages[i]!.checkpoint, context);
    expect(recordsOf(rest).map((r) => r.id)).toEqual(recordsOf(pages.slice(i + 1)).map((r) => r.id));
  }
}

function sortById(records: readonly ProviderRecord[]): ProviderRecord[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

describe('huawei-dataarts-accesslog', () => {
  it('polls, grows with ties on access_time across polls and pages, resumes from every checkpoint: every log exactly once', async () => {
    await start();
    const provider = createHuaweiDataArtsAccessLogProvider({ pageSize: 4 });
    const source = sourceFor(provider);
    // Ten logs in the same millisecond, a few around it.
    sim.generateAccessLogs(10, { accessTime: T0 });
    sim.generateAccessLogs(3, { accessTime: (i) => T0 - 10 + i });
    sim.generateAccessLogs(2, { accessTime: T0 + 5 });
    sim.faults.setRandom(0.3, FAULTS);

    const archived: ProviderRecord[] = [];
    const first = await readAllPages(provider, source, provider.initialCheckpoint(source.params, Date.now()), context);
    expect(first.length).toBe(4); // 15 records in pages of 4
    archived.push(...recordsOf(first));
    // Pages are in (access_time, id) order and a page never exceeds the page size.
    const times = archived.map((r) => (r.record as { access_time: number }).access_time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(first.every((p) => p.records.length <= 4 && p.requestIds.length === 1)).toBe(true);
    sim.faults.clear();
    await expectResumeFromEveryPage(provider, first, source);

    // More logs in the watermark's millisecond (T0 + 5), plus later ones with ties of their own.
    sim.generateAccessLogs(3, { accessTime: T0 + 5 });
    sim.generateAccessLogs(6, { accessTime: (i) => T0 + 6 + Math.floor(i / 3) });
    sim.faults.setRandom(0.3, FAULTS);
    const second = await readAllPages(provider, source, first.at(-1)!.checkpoint, context);
    archived.push(...recordsOf(second));
    sim.faults.clear();
    await expectResumeFromEveryPage(provider, second, source);

    // Nothing new: no page at all, the checkpoint stays where it is.
    expect(await readAllPages(provider, source, second.at(-1)!.checkpoint, context)).toEqual([]);

    expect(new Set(archived.map((r) => r.id)).size).toBe(archived.length);
    expect(sortById(archived)).toEqual(sortById(sim.expectedRecords()));
    expect(archived).toHaveLength(24);
    const last = second.at(-1)!.checkpoint;
    expect(last.watermark).toBe(T0 + 7);
    expect(last.idsAtWatermark).toHaveLength(3);
    expect(huaweiDataArtsAccessLogProvider.summarize!(last).text).toContain(new Date(T0 + 7).toISOString());
  });

  it('a poll that lands inside a millisecond neither loses nor repeats the logs sharing it', async () => {
    await start({ order: 'desc' });
    const provider = huaweiDataArtsAccessLogProvider;
    const source = sourceFor(provider, {}, { token: TOKEN });
    const archived: ProviderRecord[] = [];
    let checkpoint = provider.initialCheckpoint(source.params, 0);
    for (let round = 0; round < 6; round += 1) {
      sim.generateAccessLogs(2 + round, { accessTime: T0 + Math.floor(round / 2) }); // pairs of rounds share a ms
      const pages = await readAllPages(provider, source, checkpoint, context);
      archived.push(...recordsOf(pages));
      checkpoint = pages.at(-1)?.checkpoint ?? checkpoint;
      expect(checkpoint.watermark).toBe(T0 + Math.floor(round / 2));
    }
    expect(sortById(archived)).toEqual(sortById(sim.expectedRecords()));
    expect(archived.every((r) => JSON.stringify(r.context) === JSON.stringify({ projectId: PROJECT, instanceId: INSTANCE, isApi: true }))).toBe(true);
  });

  it('API and app access logs are separate sources (is_api)', async () => {
    await start();
    sim.generateAccessLogs(4, { isApi: true });
    sim.generateAccessLogs(3, { isApi: false });
    const provider = huaweiDataArtsAccessLogProvider;
    const apps = sourceFor(provider, { isApi: false });
    const pages = await readAllPages(provider, apps, provider.initialCheckpoint(apps.params, 0), context);
    expect(sortById(recordsOf(pages))).toEqual(sortById(sim.expectedRecords({ isApi: false })));
    expect(recordsOf(pages)[0]!.context).toEqual({ projectId: PROJECT, instanceId: INSTANCE, isApi: false });
  });

  it('keeps a small checkpoint through thousands of logs from a server that only retains recent ones', async () => {
    await start({ retain: 500 });
    const provider = huaweiDataArtsAccessLogProvider;
    const source = sourceFor(provider);
    const archived: ProviderRecord[] = [];
    let checkpoint = provider.initialCheckpoint(source.params, 0);
    for (let round = 0; round < 10; round += 1) {
      // 400 per round (< retain, so nothing ages out unseen), 8 logs per millisecond.
      sim.generateAccessLogs(400, { accessTime: (i) => T0 + round * 1000 + Math.floor(i / 8) });
      const pages = await readAllPages(provider, source, checkpoint, context);
      archived.push(...recordsOf(pages));
      checkpoint = pages.at(-1)!.checkpoint;
      expect(checkpoint.idsAtWatermark.length).toBe(8);
      expect(JSON.stringify(checkpoint).length).toBeLessThan(1000);
    }
    expect(archived).toHaveLength(4000);
    expect(new Set(archived.map((r) => r.id)).size).toBe(4000);
    expect(sortById(archived)).toEqual(sortById(sim.expectedRecords()));
  });

  it('refuses a wrong secret key without retrying', async () => {
    await start();
    sim.generateAccessLogs(1);
    const provider = huaweiDataArtsAccessLogProvider;
    const source = sourceFor(provider, {}, { ak: KEY.ak, sk: 'wrong-secret-key' });
    const error = await readAllPages(provider, source, provider.initialCheckpoint(source.params, 0), context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderAuthError);
    expect((error as Error).message).toContain('test-source');
    expect((error as Error).message).not.toContain('wrong-secret-key');
    expect(sim.calls).toBe(1);
  });
});
