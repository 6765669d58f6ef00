import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepGrowing, WorkerProcess, World } from './harness.js';

describe('chaos: S3 down for 30 s', () => {
  let world: World;

  beforeAll(async () => {
    world = await World.open({ storage: 's3', perGrow: 20 });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('workers ride out a 30 s storage outage alive, then archive every record exactly once', async () => {
    const config = world.config('s3-outage', { concurrency: 2 });
    world.fleet.setFaultRate(0.05);
    world.grow();
    const workers = [0, 1].map((i) => new WorkerProcess(`w${i}`, config, world.env));
    const stopGrowing = keepGrowing(world, 1_000);
    let outageMs = 0;
    try {
      await sleep(10_000);
      const down = Date.now();
      await world.s3!.stop();
      await sleep(30_000);
      for (const worker of workers) expect(worker.alive, `${worker.label} died during the outage:\n${worker.tail()}`).toBe(true);
      await world.s3!.start();
      outageMs = Date.now() - down;
      await sleep(10_000);
    } finally {
      stopGrowing();
    }
    world.fleet.setFaultRate(0);
    world.grow();
    await world.settle();
    const diff = await world.waitComplete(150_000, workers);
    for (const worker of workers) expect(worker.alive, `${worker.label}:\n${worker.tail()}`).toBe(true);
    const exitCodes = [];
    for (const worker of workers) exitCodes.push(await worker.terminate());
    const verify = await world.verify(config);
    console.log(
      `chaos s3 outage: S3 down ${(outageMs / 1000).toFixed(1)} s under 2 workers, both alive, ${diff.records} records in ${diff.objects} objects, ` +
        `${diff.missing} missing, ${diff.duplicated} duplicated, ${diff.unexpected} unexpected, verify ${verify.code === 0 ? 'ok' : `exit ${verify.code}`}`,
    );
    expect(diff.detail, workers.map((w) => `${w.label}:\n${w.tail(20)}`).join('\n')).toEqual([]);
    expect(diff.missing).toBe(0);
    expect(diff.duplicated).toBe(0);
    for (const worker of workers) expect(worker.crashes, `${worker.label}:\n${worker.tail()}`).toEqual([]);
    expect(exitCodes).toEqual([0, 0]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
