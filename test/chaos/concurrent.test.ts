import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepGrowing, overlappingDrains, WorkerProcess, World } from './harness.js';

describe('chaos: three workers at once', () => {
  let world: World;

  beforeAll(async () => {
    world = await World.open({ storage: 'rgw', perGrow: 20 });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('three workers over the same sources never drain one source at once, and archive every record exactly once', async () => {
    const config = world.config('three', { concurrency: 3, every: '300ms' });
    world.fleet.setFaultRate(0.05);
    world.grow();
    const workers = [0, 1, 2].map((i) => new WorkerProcess(`w${i}`, config, world.env));
    const stopGrowing = keepGrowing(world, 1_000);
    try {
      await sleep(45_000);
    } finally {
      stopGrowing();
    }
    for (const worker of workers) expect(worker.alive, `${worker.label}:\n${worker.tail()}`).toBe(true);

    world.fleet.setFaultRate(0);
    world.grow();
    await world.settle();
    const diff = await world.waitComplete(120_000, workers);
    const exitCodes = [];
    for (const worker of workers) exitCodes.push(await worker.terminate());
    const verify = await world.verify(config);
    const { overlaps, drains } = overlappingDrains(workers);
    const perWorker = workers.map((w) => w.events.filter((e) => e.kind === 'started').length).join('/');
    console.log(
      `chaos three workers: 3 workers × concurrency 3, ${drains} drains (${perWorker}), ${overlaps.length} overlapping, ` +
        `${diff.records} records in ${diff.objects} objects, ${diff.missing} missing, ${diff.duplicated} duplicated, ${diff.unexpected} unexpected, ` +
        `verify ${verify.code === 0 ? 'ok' : `exit ${verify.code}`}`,
    );
    expect(overlaps).toEqual([]);
    // Each drain names its fencing token (not redacted: it ties the drain to the keys it wrote).
    const tokens = workers.flatMap((w) => w.events.map((e) => e.token));
    expect(tokens.filter((t) => !/^\d{16}$/.test(t))).toEqual([]);
    expect(new Set(workers.flatMap((w) => w.events.filter((e) => e.kind === 'started').map((e) => `${e.source} ${e.token}`))).size).toBe(
      drains,
    );
    expect(diff.detail).toEqual([]);
    expect(diff.missing).toBe(0);
    expect(diff.duplicated).toBe(0);
    // Every worker took part: the sources really were contended.
    for (const worker of workers) expect(worker.events.length, worker.tail()).toBeGreaterThan(0);
    for (const worker of workers) expect(worker.crashes, `${worker.label}:\n${worker.tail()}`).toEqual([]);
    expect(exitCodes).toEqual([0, 0, 0]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
