import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepGrowing, WorkerProcess, World } from './harness.js';

/**
 * Problem 2 of the arbiter issue: two deployments with separate coordination state on one prefix
 * (a cron `run-once` with file checkpoints beside workers on Redis, a blue/green overlap, another
 * Redis). Undeclared, the second is refused by the prefix's owner record; declared as one
 * deployment, both write at once and storage's create-only manifests arbitrate every commit.
 */
describe.each(['rgw', 'rgw-versioned'] as const)('chaos: two deployments on one prefix (%s)', (storage) => {
  let world: World;

  beforeAll(async () => {
    world = await World.open({ storage, perGrow: 12 });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('a second deployment is refused, naming the owner and the handover; declared as one, they drain concurrently with 0 missing and 0 duplicated', async () => {
    const rounds = storage === 'rgw' ? 5 : 3;
    const workerConfig = world.config('workers', { maxRecords: 4, every: '200ms', deployment: 'prod' });
    // The classic mistake first: a cron copy with its own state directory and no declared name.
    world.grow();
    const first = await world.cli(['run-once', '-c', workerConfig]);
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    const stray = world.config('stray-cron', { maxRecords: 4, fileState: join(world.dir, 'stray-state') });
    const refused = await world.cli(['run-once', '-c', stray]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('belongs to deployment "prod"');
    expect(refused.stderr).toContain('log-archiver handover');

    // Declared as the same deployment: a worker on Redis and two cron copies with file state.
    world.fleet.setFaultRate(0.03);
    const worker = new WorkerProcess('worker', workerConfig, world.env);
    const crons = [0, 1].map((i) =>
      world.config(`cron-${i}`, { maxRecords: 4, fileState: join(world.dir, `cron-state-${i}`), deployment: 'prod' }),
    );
    const stopGrowing = keepGrowing(world, 1_500);
    const outcomes: (number | null)[] = [];
    let cronConflicts = 0;
    try {
      await Promise.all(
        crons.map(async (config) => {
          for (let round = 0; round < rounds; round += 1) {
            const run = await world.cli(['run-once', '-c', config], 180_000);
            outcomes.push(run.code);
            cronConflicts += (run.stdout + run.stderr).split('another writer committed this entry first').length - 1;
            await sleep(150);
          }
        }),
      );
    } finally {
      stopGrowing();
    }
    world.fleet.setFaultRate(0);
    world.grow();
    await world.settle();
    const catchUp = await world.cli(['run-once', '-c', crons[0]!], 180_000);
    const diff = await world.waitComplete(120_000, [worker]);
    const exit = await worker.terminate();
    const verify = await world.verify(workerConfig);
    console.log(
      `chaos two deployments (${storage}): 1 stray deployment refused; worker + 2 cron copies × ${rounds} runs, ` +
        `${worker.conflicts + cronConflicts} commits outraced and retried (${worker.conflicts} worker, ${cronConflicts} cron), ` +
        `${diff.records} records in ${diff.objects} objects, ${diff.missing} missing, ${diff.duplicated} duplicated, ${diff.unexpected} unexpected, ` +
        `verify ${verify.code === 0 ? 'ok' : `exit ${verify.code}`}`,
    );
    expect(diff.detail, worker.tail()).toEqual([]);
    expect(diff.missing).toBe(0);
    expect(diff.duplicated).toBe(0);
    expect(worker.crashes).toEqual([]);
    expect(exit).toBe(0);
    // Provider faults may fail a run; contention never does.
    expect(outcomes.filter((c) => c !== 0 && c !== 1)).toEqual([]);
    expect(catchUp.code, catchUp.stderr.slice(-2000)).toBe(0);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
