import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepGrowing, WorkerProcess, World } from './harness.js';

/**
 * `verify` run again and again beside live workers: commits in flight (objects not yet named,
 * entries and digests written while it reads) are not damage. On RGW with Object Lock, so
 * arbitration by versions and retention are in play too.
 */
describe('chaos: verify in a loop beside live workers (rgw, Object Lock)', () => {
  let world: World;

  beforeAll(async () => {
    world = await World.open({ storage: 'rgw-locked', perGrow: 15 });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('reports no damage on an intact archive while two workers commit', async () => {
    const config = world.config('live', {
      maxRecords: 10,
      every: '300ms',
      objectLock: { mode: 'GOVERNANCE', retainDays: 1 },
      manifests: { digestInterval: '4s' },
    });
    world.grow();
    const workers = [0, 1].map((i) => new WorkerProcess(`w${i}`, config, world.env));
    const stopGrowing = keepGrowing(world, 700);
    const codes: (number | null)[] = [];
    const damage: string[] = [];
    const deadline = Date.now() + 45_000;
    try {
      await workers[0]!.firstDrain();
      while (Date.now() < deadline) {
        const result = await world.verify(config);
        codes.push(result.code);
        if (result.code !== 0)
          damage.push(
            result.stdout
              .split('\n')
              .filter((l) => l.startsWith('DAMAGE'))
              .slice(0, 5)
              .join('\n'),
          );
        await sleep(500);
      }
    } finally {
      stopGrowing();
    }
    world.grow();
    await world.settle();
    const diff = await world.waitComplete(120_000, workers);
    const exits = [];
    for (const worker of workers) exits.push(await worker.terminate());
    const final = await world.verify(config);
    console.log(
      `chaos verify live: ${codes.length} verify runs beside 2 workers, ${codes.filter((c) => c === 0).length} intact, ` +
        `${diff.records} records in ${diff.objects} objects, ${diff.missing} missing, ${diff.duplicated} duplicated, final verify ${final.code === 0 ? 'ok' : `exit ${final.code}`}`,
    );
    expect(damage).toEqual([]);
    expect(codes.length).toBeGreaterThanOrEqual(3);
    expect(diff.detail).toEqual([]);
    expect(exits).toEqual([0, 0]);
    for (const worker of workers) expect(worker.crashes, worker.tail()).toEqual([]);
    expect(final.code, final.stdout + final.stderr).toBe(0);
  });
});
