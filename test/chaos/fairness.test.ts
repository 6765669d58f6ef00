import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FileObjectStore } from '../../src/storage/index.js';
import { DataWorksSimulator, OosSimulator, SIMULATOR_ACCESS_KEY } from '../../simulators/index.js';
import { compareIds, readArchive } from '../helpers/read-archive.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { startRedis, type RedisHandle } from '../helpers/with-redis.js';
import { overlappingDrains, WorkerProcess } from './harness.js';

// Several times maxDrainTime's worth of work on this machine: 1M records took about 4 s once the
// hot path got faster, too few yields to tell a yielding drain from a lucky one.
const BIG_RECORDS = 2_000_000;
const SMALL_SOURCES = 50;
const PERIOD_MS = 5_000;
const RUN_ID = 10001;

describe('chaos: fairness at scale', () => {
  const dataworks = new DataWorksSimulator();
  const oos = new OosSimulator();
  let redis: RedisHandle;
  let dir: string;

  beforeAll(async () => {
    await Promise.all([dataworks.start(), oos.start()]);
    redis = await startRedis();
    dir = makeTempDir('fairness');
    // About 60 MB of log lines behind one run: a source with a huge backlog.
    const lines: string[] = [];
    for (let i = 0; i < BIG_RECORDS; i += 1) lines.push(`2026-12-01 08:00:00,000 INFO scan rule ${i} ok`);
    dataworks.addRun(RUN_ID, `${lines.join('\n')}\n`);
    for (let i = 0; i < SMALL_SOURCES; i += 1) {
      oos.addExecution(`exec-small-${i}`);
      oos.appendLogs(`exec-small-${i}`, ['started', 'step 1 done', 'step 2 done', 'finished']);
    }
  });
  afterAll(async () => {
    await Promise.all([dataworks.stop(), oos.stop()]);
    await redis?.stop();
    removeTempDir(dir);
  });

  it('one 2M-record source does not starve 50 small ones: each is archived within two schedule periods, the big one resumes until done', async () => {
    const credentials = { ...SIMULATOR_ACCESS_KEY };
    const schedule = { every: `${PERIOD_MS}ms` };
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      stringify({
        redis: { url: redis.url, prefix: 'fairness' },
        storage: { kind: 'file', path: join(dir, 'archive') },
        checkpoints: { kind: 'redis' },
        // One drain at a time: the worst case, where a long drain would hold the only slot.
        worker: { concurrency: 1, maxDrainTime: '1s', leaseTtl: '10s', shutdownTimeout: '10s' },
        sources: [
          {
            id: 'big-backlog',
            provider: 'aliyun-dataworks-dq-scan-log',
            schedule,
            endpoint: dataworks.url,
            credentials,
            params: { runIds: [RUN_ID] },
          },
          ...Array.from({ length: SMALL_SOURCES }, (_, i) => ({
            id: `small-${i}`,
            provider: 'aliyun-oos-execution-logs',
            schedule,
            endpoint: oos.url,
            credentials,
            params: { regionId: 'cn-hangzhou', executionIds: [`exec-small-${i}`] },
          })),
        ],
      }),
    );
    const worker = new WorkerProcess('w0', config, {});
    const started = Date.now();
    const smallDone = new Map<string, number>();
    let bigCaughtUp = false;
    try {
      const deadline = started + 120_000;
      while (Date.now() < deadline && worker.alive) {
        // From the worker's first drain: what is measured is scheduling, not the process starting.
        const first = worker.events[0]?.at ?? Date.now();
        for (const e of worker.events) {
          if (e.kind === 'finished' && e.source.startsWith('small-') && !smallDone.has(e.source)) smallDone.set(e.source, e.at - first);
        }
        bigCaughtUp = worker.events.some((e) => e.source === 'big-backlog' && e.kind === 'finished' && e.caughtUp === true);
        if (smallDone.size === SMALL_SOURCES && bigCaughtUp) break;
        await sleep(200);
      }
    } finally {
      await worker.terminate();
    }
    const { drains, overlaps } = overlappingDrains([worker]);
    const slowest = Math.max(...smallDone.values());
    console.log(
      `fairness: ${smallDone.size} small sources archived, the slowest ${slowest} ms after the first drain (bound ${2 * PERIOD_MS} ms); big source caught up: ${bigCaughtUp}; ${drains} drains, ${overlaps.length} overlapping`,
    );
    expect(smallDone.size).toBe(SMALL_SOURCES);
    expect(slowest).toBeLessThanOrEqual(2 * PERIOD_MS);
    expect(bigCaughtUp).toBe(true);
    expect(overlaps).toEqual([]);
    // The big source yielded: many drains of it, each about maxDrainTime long.
    expect(worker.events.filter((e) => e.source === 'big-backlog' && e.kind === 'finished' && e.caughtUp === false).length).toBeGreaterThan(
      3,
    );
    const { envelopes } = await readArchive(new FileObjectStore({ path: join(dir, 'archive') }));
    const big = compareIds(
      envelopes.filter((e) => e.source === 'big-backlog'),
      dataworks.expectedRecords().map((r) => r.id),
    );
    expect([big.missing.length, big.duplicated.length]).toEqual([0, 0]);
  });
});
