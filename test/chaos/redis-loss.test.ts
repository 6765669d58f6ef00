import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepGrowing, WorkerProcess, World, type ArchiveDiff } from './harness.js';

/**
 * Redis is a cache (checkpoints), a coordinator (leases) and BullMQ's home (schedulers, jobs).
 * Losing all of it under running workers must cost time, never records: heads are rebuilt from
 * the manifests, fencing tokens keep growing (seeded from the clock), schedulers are re-synced.
 */
describe('chaos: Redis emptied mid-run', () => {
  let world: World;

  beforeAll(async () => {
    world = await World.open({ storage: 'file', perGrow: 20 });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('FLUSHALL, then kill -9 and restart of redis-server (no persistence), under two running workers: nothing lost, nothing twice', async () => {
    const config = world.config('redis-loss', { concurrency: 2 });
    world.fleet.setFaultRate(0.05);
    world.grow();
    const workers = [0, 1].map((i) => new WorkerProcess(`w${i}`, config, world.env));
    const lines: string[] = [];

    /** Growth with faults for `ms`, `disaster` in the middle of it, then a catch-up without faults. */
    const phase = async (name: string, disaster: () => Promise<void>): Promise<ArchiveDiff> => {
      world.fleet.setFaultRate(0.05);
      const stopGrowing = keepGrowing(world, 1_000);
      try {
        await sleep(8_000);
        await disaster();
        await sleep(8_000);
      } finally {
        stopGrowing();
      }
      world.fleet.setFaultRate(0);
      world.grow();
      await world.settle();
      // Schedulers lost with the data come back at the workers' next re-sync (every 30 s).
      const diff = await world.waitComplete(120_000, workers);
      lines.push(`${name}: ${diff.records} records, ${diff.missing} missing, ${diff.duplicated} duplicated`);
      expect(diff.detail, workers.map((w) => `${w.label}:\n${w.tail(15)}`).join('\n')).toEqual([]);
      for (const worker of workers) expect(worker.alive, `${worker.label}:\n${worker.tail()}`).toBe(true);
      return diff;
    };

    const flushed = await phase('after FLUSHALL', () => world.redis.flushAll());
    const restarted = await phase('after redis-server kill -9 + restart', async () => {
      await world.redis.kill();
      await sleep(2_000);
      await world.redis.restart();
    });

    const exitCodes = [];
    for (const worker of workers) exitCodes.push(await worker.terminate());
    const verify = await world.verify(config);
    console.log(`chaos redis: ${lines.join('; ')}; verify ${verify.code === 0 ? 'ok' : `exit ${verify.code}`}`);
    expect(flushed.missing + flushed.duplicated).toBe(0);
    expect(restarted.missing + restarted.duplicated).toBe(0);
    for (const worker of workers) expect(worker.crashes, `${worker.label}:\n${worker.tail()}`).toEqual([]);
    expect(exitCodes).toEqual([0, 0]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
