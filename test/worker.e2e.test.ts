import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileObjectStore } from '../src/storage/index.js';
import { RedisKeys } from '../src/redis/index.js';
import { SimulatorFleet } from '../simulators/index.js';
import { exited } from './helpers/children.js';
import { freePort } from './helpers/free-port.js';
import { startCli } from './helpers/cli.js';
import { compareIds, readArchive } from './helpers/read-archive.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';

/** Polls until `check` passes or `timeoutMs` elapses; returns the last failure message. */
async function eventually(check: () => Promise<string | undefined>, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined = 'never checked';
  while (Date.now() < deadline) {
    last = await check();
    if (last === undefined) return undefined;
    await sleep(250);
  }
  return last;
}

describe('worker', () => {
  let redis: RedisHandle;
  let fleet: SimulatorFleet;
  let dir: string;

  beforeAll(async () => {
    redis = await startRedis();
    fleet = new SimulatorFleet({ perGrow: 30, sddpWindowSeconds: 1 });
    await fleet.start();
    dir = makeTempDir('worker');
  });

  async function schedulerIds(): Promise<string[]> {
    // skipVersionCheck: BullMQ would print its eviction notice into the test's stderr once the test sets allkeys-lru.
    const queue = new Queue('drain', { connection: redis.client(), prefix: new RedisKeys('la-test').bullmqPrefix, skipVersionCheck: true });
    try {
      return (await queue.getJobSchedulers(0, -1)).map((s) => s.key);
    } finally {
      await queue.close();
    }
  }

  afterAll(async () => {
    await fleet.stop();
    await redis.stop();
    removeTempDir(dir);
  });

  it('schedules every source, archives all five providers exactly once with growth, and stops cleanly on SIGTERM', async () => {
    const configPath = join(dir, 'config.yaml');
    const sections = {
      redis: { url: redis.url, prefix: 'la-test' },
      storage: { kind: 'file', path: join(dir, 'archive') },
      checkpoints: { kind: 'redis' },
      batch: { maxRecords: 50 },
      worker: { concurrency: 3, shutdownTimeout: '10s', metricsPort: await freePort() },
    };
    writeFileSync(configPath, fleet.configYaml(sections, { every: '500ms' }));
    fleet.grow();
    const worker = startCli(['worker', '-c', configPath], { LOG_LEVEL: 'info' });
    const store = new FileObjectStore({ path: join(dir, 'archive') });
    const complete = async (): Promise<string | undefined> => {
      const { envelopes } = await readArchive(store);
      for (const [source, ids] of fleet.expectedIds()) {
        const diff = compareIds(
          envelopes.filter((e) => e.source === source),
          ids,
        );
        if (diff.duplicated.length > 0) return `DUPLICATES in ${source}: ${diff.duplicated.slice(0, 3).join(', ')}`;
        if (diff.missing.length > 0 || diff.unexpected.length > 0)
          return `${source}: ${diff.missing.length} missing, ${diff.unexpected.length} unexpected`;
      }
      return undefined;
    };
    try {
      for (let round = 0; round < 3; round += 1) {
        fleet.grow();
        await sleep(Math.max(0, fleet.sddpSettledAt() - Date.now()));
        fleet.settle();
        const problem = await eventually(complete, 20_000);
        expect(problem, worker.output().slice(-3000)).toBeUndefined();
      }
      expect((await schedulerIds()).sort()).toEqual(
        fleet
          .sources()
          .map((s) => `source:${s.id}`)
          .sort(),
      );
      const metrics = await (await fetch(`http://127.0.0.1:${sections.worker.metricsPort}/metrics`)).text();
      const archived = /log_archiver_records_archived_total\{source="dq-scan-log"\} (\d+)/.exec(metrics);
      expect(Number(archived?.[1])).toBe(fleet.expectedIds().get('dq-scan-log')!.length);
      expect(metrics).toMatch(/log_archiver_last_success_timestamp_seconds\{source="dws-audit"\} \d/);
      expect((await fetch(`http://127.0.0.1:${sections.worker.metricsPort}/healthz`)).status).toBe(200);
    } finally {
      worker.child.kill('SIGTERM');
      await exited(worker.child);
    }
    expect(worker.child.exitCode, worker.output().slice(-2000)).toBe(0);
    expect(worker.output()).toContain('worker stopped');
    // Nothing in the logs leaks a credential.
    for (const secret of ['simulator-secret-do-not-use', 'huawei-simulator-sk-do-not-use', 'MIIsimulator-iam-token-do-not-use']) {
      expect(worker.output()).not.toContain(secret);
    }

    // A source removed from the config loses its scheduler at the next start.
    const fewer = fleet
      .sources()
      .slice(0, 2)
      .map((s) => ({ ...s, schedule: { every: '1s' } }));
    writeFileSync(configPath, JSON.stringify({ ...sections, sources: fewer }));
    // A Redis that may evict keys could drop leases and queue state: the worker says so at start.
    await redis.client().config('SET', 'maxmemory-policy', 'allkeys-lru');
    const again = startCli(['worker', '-c', configPath]);
    try {
      const gone = await eventually(async () => {
        const ids = await schedulerIds();
        return ids.length === 2 ? undefined : `${ids.length} schedulers`;
      }, 15_000);
      expect(gone).toBeUndefined();
    } finally {
      again.child.kill('SIGTERM');
      await exited(again.child);
    }
    expect(again.child.exitCode).toBe(0);
    expect(again.output()).toMatch(/"policy":"allkeys-lru".*maxmemory-policy is not noeviction/);
    // Said once, as a JSON log line: BullMQ's own notice (one per connection) does not reach stderr.
    expect(again.output()).not.toContain('IMPORTANT!');
    for (const line of again.output().split('\n').filter(Boolean)) expect(() => JSON.parse(line), line).not.toThrow();
    await redis.client().config('SET', 'maxmemory-policy', 'noeviction');
  });
});
