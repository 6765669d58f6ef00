import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderAuthError } from '../src/errors/index.js';
import type { HuaweiCredentials } from '../src/providers/huawei/index.js';
import {
  createHuaweiDataArtsAccessLogProvider,
  dataArtsCheckpointSchema,
  dataArtsRecordId,
  huaweiDataArtsAccessLogProvider,
  type DataArtsCheckpoint,
  type DataArtsCheckpointV1,
  type DataArtsParams,
} from '../src/providers/huawei-dataarts-accesslog.js';
import type { Provider, ProviderPage, ProviderRecord, SourceSpec } from '../src/providers/provider.js';
import { harnessContext, harnessSource, readAllPages, recordsOf } from './helpers/provider-harness.js';
import { HuaweiDataArtsSimulator } from '../simulators/index.js';

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
let logLines: Record<string, unknown>[];

function start(
  options: { order?: 'asc' | 'desc' | 'shuffle'; retain?: number; listAfterCompletion?: boolean; now?: () => number } = {},
): Promise<string> {
  sim = new HuaweiDataArtsSimulator({
    projectId: PROJECT,
    instanceId: INSTANCE,
    workspace: WORKSPACE,
    auth: { keys: [KEY], tokens: [TOKEN] },
    order: options.order ?? 'shuffle',
    retain: options.retain,
    ...(options.listAfterCompletion === undefined ? {} : { listAfterCompletion: options.listAfterCompletion }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  return sim.start();
}

beforeEach(() => {
  logLines = [];
  context = harnessContext({
    logger: pino({ level: 'warn' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) }),
  });
});

/** Warnings the provider logged that carry `field`. */
function warningsWith(field: string): Record<string, unknown>[] {
  return logLines.filter((l) => l.level === 40 && field in l);
}
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

function keptCount(checkpoint: DataArtsCheckpoint): number {
  return checkpoint.kept.reduce((n, [, keys]) => n + keys.length, 0);
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
    // The watermark trails the newest access_time by the default allowance; all 24 are within it.
    expect(last.watermark).toBe(T0 + 7 - 600_000);
    expect(keptCount(last)).toBe(24);
    expect(last.kept.at(-1)![0]).toBe(T0 + 7);
    expect(last.kept.at(-1)![1]).toHaveLength(3);
    const summary = huaweiDataArtsAccessLogProvider.summarize!(last).text;
    expect(summary).toContain(new Date(T0 + 7).toISOString());
    expect(summary).toContain('24 archived ids');
  });

  it.each([0, 600])(
    'a poll that lands inside a millisecond neither loses nor repeats the logs sharing it (latenessSeconds %i)',
    async (latenessSeconds) => {
      await start({ order: 'desc' });
      const provider = huaweiDataArtsAccessLogProvider;
      const source = sourceFor(provider, { latenessSeconds }, { token: TOKEN });
      const archived: ProviderRecord[] = [];
      let checkpoint = provider.initialCheckpoint(source.params, 0);
      for (let round = 0; round < 6; round += 1) {
        sim.generateAccessLogs(2 + round, { accessTime: T0 + Math.floor(round / 2) }); // pairs of rounds share a ms
        const pages = await readAllPages(provider, source, checkpoint, context);
        archived.push(...recordsOf(pages));
        checkpoint = pages.at(-1)?.checkpoint ?? checkpoint;
        expect(checkpoint.watermark).toBe(T0 + Math.floor(round / 2) - latenessSeconds * 1000);
      }
      expect(sortById(archived)).toEqual(sortById(sim.expectedRecords()));
      expect(
        archived.every((r) => JSON.stringify(r.context) === JSON.stringify({ projectId: PROJECT, instanceId: INSTANCE, isApi: true })),
      ).toBe(true);
    },
  );

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

  it('keeps a small checkpoint through thousands of logs from a server that only retains recent ones (no allowance)', async () => {
    await start({ retain: 500 });
    const provider = huaweiDataArtsAccessLogProvider;
    const source = sourceFor(provider, { latenessSeconds: 0 });
    const archived: ProviderRecord[] = [];
    let checkpoint = provider.initialCheckpoint(source.params, 0);
    for (let round = 0; round < 10; round += 1) {
      // 400 per round (< retain, so nothing ages out unseen), 8 logs per millisecond.
      sim.generateAccessLogs(400, { accessTime: (i) => T0 + round * 1000 + Math.floor(i / 8) });
      const pages = await readAllPages(provider, source, checkpoint, context);
      archived.push(...recordsOf(pages));
      checkpoint = pages.at(-1)!.checkpoint;
      expect(keptCount(checkpoint)).toBe(8); // the last millisecond only
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

/** A small deterministic PRNG, so a failing traffic pattern replays. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('huawei-dataarts-accesslog: logs listed once their request finishes (lateness allowance)', () => {
  type Source = SourceSpec<DataArtsParams, HuaweiCredentials>;

  /** One poll until caught up; optionally proves that resuming from each of its pages repeats and loses nothing. */
  async function poll(
    provider: DataArtsProvider,
    source: Source,
    from: DataArtsCheckpoint,
    archived: ProviderRecord[],
    checkResume = true,
  ) {
    const pages = await readAllPages(provider, source, from, context);
    archived.push(...recordsOf(pages));
    if (checkResume) await expectResumeFromEveryPage(provider, pages, source);
    return pages.at(-1)?.checkpoint ?? from;
  }

  it('long and short requests interleaved across polls, with ties: every log exactly once, none reported late', async () => {
    let now = T0;
    await start({ listAfterCompletion: true, now: () => now });
    const provider = createHuaweiDataArtsAccessLogProvider({ pageSize: 3 });
    const source = sourceFor(provider, { latenessSeconds: 600 });
    const random = prng(7);
    const archived: ProviderRecord[] = [];
    let checkpoint = provider.initialCheckpoint(source.params, now);
    let longOnes = 0;
    for (let step = 0; step < 150; step += 1) {
      let startedAt = now - Math.floor(random() * 5000);
      const logs = Array.from({ length: 1 + Math.floor(random() * 4) }, () => {
        if (random() > 0.3) startedAt = now - Math.floor(random() * 5000); // else: a tie with the previous log
        const long = random() < 0.15;
        if (long) longOnes += 1;
        // Long requests run up to 9 minutes: listed long after quicker ones that started later, within the allowance.
        return { access_time: startedAt, duration: long ? 60_000 + Math.floor(random() * 480_000) : 1 + Math.floor(random() * 300) };
      });
      sim.addAccessLogs(logs);
      now += 5000;
      if (step % 3 === 0) sim.faults.setRandom(0.2, FAULTS);
      checkpoint = await poll(provider, source, checkpoint, archived, false);
      sim.faults.clear();
      if (step % 5 === 0) {
        // Resume from every page checkpoint of a poll (no fault, server unchanged meanwhile).
        sim.addAccessLogs([
          { access_time: now - 100, duration: 10 },
          { access_time: now - 100, duration: 20 },
        ]);
        checkpoint = await poll(provider, source, checkpoint, archived);
      }
    }
    // Every request finishes; the last poll picks up the stragglers.
    now += 600_000;
    checkpoint = await poll(provider, source, checkpoint, archived);
    expect(await readAllPages(provider, source, checkpoint, context)).toEqual([]);

    expect(longOnes).toBeGreaterThan(20);
    expect(new Set(archived.map((r) => r.id)).size).toBe(archived.length);
    expect(sortById(archived)).toEqual(sortById(sim.expectedRecords()));
    expect(warningsWith('late')).toEqual([]);
  });

  it('with a short allowance, logs later than it are not archived and are warned about once, with their count', async () => {
    let now = T0;
    await start({ listAfterCompletion: true, now: () => now });
    const provider = createHuaweiDataArtsAccessLogProvider({ pageSize: 4 });
    const source = sourceFor(provider, { latenessSeconds: 60 });
    const archived: ProviderRecord[] = [];
    let checkpoint = provider.initialCheckpoint(source.params, now);
    const late: string[] = [];
    for (let step = 0; step < 60; step += 1) {
      sim.addAccessLogs([
        { access_time: now - 1000, duration: 200 },
        { access_time: now - 1000, duration: 300 },
      ]);
      // Every tenth step one request runs 90 s: listed 30 s beyond a 60 s allowance.
      if (step % 10 === 0)
        late.push(...sim.addAccessLogs([{ access_time: now - 500, duration: 90_000 }]).map((r) => dataArtsRecordId(r, r)));
      now += 5000;
      checkpoint = await poll(provider, source, checkpoint, archived, step % 7 === 0);
    }
    now += 200_000;
    checkpoint = await poll(provider, source, checkpoint, archived);
    expect(await readAllPages(provider, source, checkpoint, context)).toEqual([]);

    // The last one finishes after traffic stopped, so it is within the allowance and archived.
    const lost = late.slice(0, -1);
    const expected = sim.expectedRecords().filter((r) => !lost.includes(r.id));
    expect(sortById(archived)).toEqual(sortById(expected));
    const warnings = warningsWith('late');
    expect(warnings.reduce((n, w) => n + (w.late as number), 0)).toBe(lost.length);
    expect(warnings[0]).toMatchObject({ source: 'test-source', provider: 'huawei-dataarts-accesslog', latenessSeconds: 60 });
    expect(String(warnings[0]!.msg)).toMatch(/NOT archived.*latenessSeconds/);
  });

  it('a log exactly at the watermark is archived; one a millisecond older is reported late, not archived', async () => {
    let now = T0;
    await start({ listAfterCompletion: true, now: () => now });
    const provider = huaweiDataArtsAccessLogProvider;
    const source = sourceFor(provider, { latenessSeconds: 10 });
    const archived: ProviderRecord[] = [];
    let checkpoint = provider.initialCheckpoint(source.params, now);
    sim.addAccessLogs([
      { access_time: T0, duration: 1 },
      { access_time: T0, duration: 1 },
    ]);
    now = T0 + 30_000;
    checkpoint = await poll(provider, source, checkpoint, archived);
    sim.addAccessLogs([{ access_time: T0 + 20_000, duration: 1 }]);
    checkpoint = await poll(provider, source, checkpoint, archived);
    expect(checkpoint.watermark).toBe(T0 + 10_000);
    const [atWatermark] = sim.addAccessLogs([{ access_time: T0 + 10_000, duration: 5000 }]);
    const [older] = sim.addAccessLogs([{ access_time: T0 + 9_999, duration: 5000 }]);
    // A tie with the log at the watermark that finished later.
    const [tie] = sim.addAccessLogs([{ access_time: T0 + 10_000, duration: 15_500 }]);
    now = T0 + 25_000;
    const firstTie = await readAllPages(provider, source, checkpoint, context);
    expect(recordsOf(firstTie).map((r) => r.id)).toEqual([dataArtsRecordId(atWatermark!)]);
    expect(warningsWith('late')).toMatchObject([{ late: 1 }]);
    archived.push(...recordsOf(firstTie));
    checkpoint = firstTie.at(-1)!.checkpoint;
    now = T0 + 26_000;
    checkpoint = await poll(provider, source, checkpoint, archived);
    expect(archived.at(-1)!.id).toBe(dataArtsRecordId(tie!));
    expect(await readAllPages(provider, source, checkpoint, context)).toEqual([]);
    expect(warningsWith('late')).toHaveLength(1); // remembered: not reported again
    expect(archived.map((r) => r.id)).not.toContain(dataArtsRecordId(older!));
    expect(sortById(archived)).toEqual(sortById(sim.expectedRecords().filter((r) => r.id !== dataArtsRecordId(older!))));
  });

  it('keeps the checkpoint bounded by the allowance through thousands of logs', async () => {
    let now = T0;
    await start({ listAfterCompletion: true, now: () => now, retain: 400 });
    const provider = createHuaweiDataArtsAccessLogProvider({ pageSize: 50 });
    const source = sourceFor(provider, { latenessSeconds: 60 });
    const random = prng(11);
    const archived: ProviderRecord[] = [];
    let checkpoint = provider.initialCheckpoint(source.params, now);
    let largest = 0;
    for (let step = 0; step < 350; step += 1) {
      // 15 requests per 10 s, up to 20 s long.
      sim.generateAccessLogs(15, { accessTime: () => now - Math.floor(random() * 10_000), duration: () => Math.floor(random() * 20_000) });
      now += 10_000;
      checkpoint = await poll(provider, source, checkpoint, archived, false);
      const newest = checkpoint.kept.at(-1)![0];
      expect(checkpoint.watermark).toBe(newest - 60_000);
      // Only logs within the allowance keep a key: at most the 60 s (+ one step of jitter) of traffic.
      expect(keptCount(checkpoint)).toBeLessThanOrEqual(15 * 8);
      expect(checkpoint.kept[0]![0]).toBeGreaterThanOrEqual(checkpoint.watermark!);
      // At most one counter per second of one more allowance below the watermark.
      expect(checkpoint.below.perSecond.length).toBeLessThanOrEqual(61);
      largest = Math.max(largest, JSON.stringify(checkpoint).length);
    }
    now += 60_000;
    checkpoint = await poll(provider, source, checkpoint, archived);
    expect(archived).toHaveLength(350 * 15);
    expect(sortById(archived)).toEqual(sortById(sim.expectedRecords()));
    expect(largest).toBeLessThan(6000);
    expect(warningsWith('late')).toEqual([]);
  });

  it('resumes from a checkpoint of the previous release (v1) without repeating or losing a log', async () => {
    await start();
    const provider = createHuaweiDataArtsAccessLogProvider({ pageSize: 2 });
    const source = sourceFor(provider);
    sim.generateAccessLogs(5, { accessTime: T0 });
    sim.generateAccessLogs(5, { accessTime: T0 + 1 });
    sim.generateAccessLogs(5, { accessTime: T0 + 2 });
    const expected = sim.expectedRecords();
    // The old release archived everything at T0 and two of the five logs at T0 + 1.
    const v1: DataArtsCheckpointV1 = {
      v: 1,
      watermark: T0 + 1,
      idsAtWatermark: expected
        .slice(5, 7)
        .map((r) => r.id)
        .sort(),
    };
    const from = dataArtsCheckpointSchema.parse(JSON.parse(JSON.stringify(v1)));
    expect(from).toMatchObject({ v: 2, watermark: T0 + 1 });
    expect(provider.checkpointSchema.safeParse(v1).success).toBe(true);
    expect(provider.summarize!(from).text).toContain('2 archived ids');

    // A log older than the old watermark that shows up now was equally lost to v1: not archived.
    sim.addAccessLogs([{ access_time: T0 - 1 }]);
    const pages = await readAllPages(provider, source, from, context);
    expect(recordsOf(pages).map((r) => r.id)).toEqual(expected.slice(7).map((r) => r.id));
    await expectResumeFromEveryPage(provider, pages, source);
    const after = pages.at(-1)!.checkpoint;
    expect(after.v).toBe(2);
    expect(after.watermark).toBe(T0 + 1); // newest − allowance is lower: the watermark never moves back
    expect(keptCount(after)).toBe(10);
    expect(await readAllPages(provider, source, after, context)).toEqual([]);
    // Nothing was counted below the old watermark, so the unseen older log cannot be told apart.
    expect(warningsWith('late')).toEqual([]);

    expect(dataArtsCheckpointSchema.parse({ v: 1, watermark: null, idsAtWatermark: [] })).toEqual(
      provider.initialCheckpoint(source.params, 0),
    );
    expect(dataArtsCheckpointSchema.safeParse({ v: 1, watermark: T0 }).success).toBe(false);
  });

  it('warns, naming the source and both counts, when `number` says more logs than were listed', async () => {
    await start({ order: 'desc' });
    const provider = huaweiDataArtsAccessLogProvider;
    const source = sourceFor(provider);
    sim.generateAccessLogs(5, { accessTime: (i) => T0 + i });
    sim.truncateListTo(2);
    const first = await readAllPages(provider, source, provider.initialCheckpoint(source.params, 0), context);
    expect(recordsOf(first)).toHaveLength(2);
    const warnings = warningsWith('number');
    expect(warnings).toMatchObject([{ source: 'test-source', number: 5, listed: 2 }]);
    expect(String(warnings[0]!.msg)).toMatch(/test-source.*5.*2/);

    sim.truncateListTo(undefined);
    const rest = await readAllPages(provider, source, first.at(-1)!.checkpoint, context);
    expect(sortById([...recordsOf(first), ...recordsOf(rest)])).toEqual(sortById(sim.expectedRecords()));
    expect(warningsWith('number')).toHaveLength(1);
  });
});
