import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '../src/redis/index.js';
import { WorkerProcess, World } from './chaos/harness.js';
import { runWorkers } from './helpers/worker-run.js';
import { TEST_ACL, sentinelRedisSection, startSentinelDeployment, withAdmin, type SentinelDeployment } from './helpers/redis-topologies.js';

/** Drains started and not yet finished right now, over all workers. */
function drainsInProgress(workers: WorkerProcess[]): number {
  let open = 0;
  for (const worker of workers) {
    const started = new Set<string>();
    for (const event of worker.events) {
      const id = `${event.source} ${event.token}`;
      if (event.kind === 'started') started.add(id);
      else started.delete(id);
    }
    open += started.size;
  }
  return open;
}

describe('worker on Redis Sentinel', () => {
  let world: World;
  let sentinel: SentinelDeployment;

  beforeAll(async () => {
    [world, sentinel] = await Promise.all([World.open({ storage: 'file', perGrow: 15 }), startSentinelDeployment({ replicas: 2 })]);
  });
  afterAll(async () => {
    await world?.close();
    await sentinel?.stop();
  });

  it('two workers archive every record exactly once across a failover in the middle of drains, never draining a source twice at once', async () => {
    const config = world.config('sentinel', {
      concurrency: 2,
      // Three renewals' worth longer than a failover here (about 1.2 s): a lease the new master has outlives it.
      leaseTtl: '6s',
      every: '300ms',
      redis: sentinelRedisSection(sentinel, 'sentinel-e2e'),
    });
    // Retried throttling and 503s make drains last long enough to be cut by the failover.
    world.fleet.setFaultRate(0.15, ['throttle', 'server']);
    world.grow();
    const workers = [new WorkerProcess('w0', config, {}), new WorkerProcess('w1', config, {})];
    let failover: { from: number; to: number; ms: number } | undefined;
    let cut = 0;
    let failoverAt = 0;
    const { diff, exitCodes, overlaps, drains } = await runWorkers(world, workers, async () => {
      await sleep(1_500);
      const deadline = Date.now() + 10_000;
      while (drainsInProgress(workers) === 0 && Date.now() < deadline) await sleep(10);
      cut = drainsInProgress(workers);
      failoverAt = Date.now();
      failover = await sentinel.failover();
      await sleep(3_000);
    });
    const after = workers.flatMap((w) => w.events).filter((e) => e.kind === 'started' && e.at > failoverAt + failover!.ms).length;
    console.log(
      `sentinel failover ${failover!.from} -> ${failover!.to} in ${failover!.ms} ms with ${cut} drains in progress; ${drains} drains ` +
        `(${after} after), ${overlaps.length} overlapping, ${diff.records} records in ${diff.objects} objects, ` +
        `${diff.missing} missing, ${diff.duplicated} duplicated, leases lost ${workers.map((w) => w.leasesLost).join('/')}`,
    );
    expect(cut, 'no drain was in progress when the failover started').toBeGreaterThan(0);
    expect(diff.detail).toEqual([]);
    expect(diff.missing).toBe(0);
    expect(diff.duplicated).toBe(0);
    expect(overlaps).toEqual([]);
    expect(after, 'no drain ran on the new master').toBeGreaterThan(0);
    for (const worker of workers) expect(worker.crashes, `${worker.label}:\n${worker.tail()}`).toEqual([]);
    expect(exitCodes).toEqual([0, 0]);
    // The archiver's keys live on the new master, written through it after the failover.
    const keys = new RedisKeys('sentinel-e2e');
    const fence = await withAdmin({ port: failover!.to, ...TEST_ACL }, (r) => r.get(keys.fence()));
    expect(BigInt(fence ?? '0')).toBeGreaterThan(0n);
  });
});
