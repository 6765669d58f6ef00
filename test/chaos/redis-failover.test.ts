import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sentinelRedisSection, startSentinelDeployment, type SentinelDeployment } from '../helpers/redis-topologies.js';
import { runWorkers } from '../helpers/worker-run.js';
import { WorkerProcess, World } from './harness.js';

describe('chaos: Redis Sentinel failovers under three workers', () => {
  let world: World;
  let sentinel: SentinelDeployment;

  beforeAll(async () => {
    [world, sentinel] = await Promise.all([World.open({ storage: 's3', perGrow: 20 }), startSentinelDeployment({ replicas: 2 })]);
  });
  afterAll(async () => {
    await world?.close();
    await sentinel?.stop();
  });

  it('a manual failover and then the master killed (kill -9) mid-drains: 0 missing, 0 duplicated, no drain of a source twice at once, verify intact', async () => {
    const config = world.config('failovers', {
      concurrency: 3,
      leaseTtl: '6s',
      every: '300ms',
      redis: sentinelRedisSection(sentinel, 'chaos-sentinel'),
    });
    world.fleet.setFaultRate(0.1, ['throttle', 'server', 'reset']);
    world.grow();
    const workers = [0, 1, 2].map((i) => new WorkerProcess(`w${i}`, config, {}));
    const events: string[] = [];
    const { diff, exitCodes, overlaps, drains } = await runWorkers(
      world,
      workers,
      async () => {
        await sleep(5_000);
        const manual = await sentinel.failover();
        events.push(`failover ${manual.from}->${manual.to} ${manual.ms} ms`);
        await sleep(12_000);
        const killed = await sentinel.killMaster();
        events.push(`kill -9 ${killed.from}, promoted ${killed.to} after ${killed.ms} ms`);
        await sleep(15_000);
      },
      1_000,
    );
    const verify = await world.verify(config);
    console.log(
      `chaos sentinel: ${events.join('; ')}; ${drains} drains, ${overlaps.length} overlapping, leases lost ${workers.map((w) => w.leasesLost).join('/')}, ` +
        `${diff.records} records in ${diff.objects} objects, ${diff.missing} missing, ${diff.duplicated} duplicated, verify ${verify.code === 0 ? 'ok' : `exit ${verify.code}`}`,
    );
    expect(diff.detail).toEqual([]);
    expect(diff.missing).toBe(0);
    expect(diff.duplicated).toBe(0);
    expect(overlaps).toEqual([]);
    for (const worker of workers) expect(worker.crashes, `${worker.label}:\n${worker.tail()}`).toEqual([]);
    expect(exitCodes).toEqual([0, 0, 0]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
