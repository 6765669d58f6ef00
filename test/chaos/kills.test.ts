import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailpointName } from '../../src/failpoints.js';
import { keepGrowing, randomBetween, WorkerProcess, World } from './harness.js';

const POINTS: readonly FailpointName[] = ['after-intent', 'mid-upload', 'after-upload', 'after-manifest', 'after-checkpoint'];
const MIN_KILLS = 32;

/** One point likely (it is the one this worker is meant to die at), the others now and then. */
function failpointSpec(focus: FailpointName): string {
  return POINTS.map((p) => `${p}:${p === focus ? 0.35 : 0.03}`).join(',');
}

describe('chaos: kill -9', () => {
  let world: World;

  beforeAll(async () => {
    world = await World.open({ storage: 's3', perGrow: 20 });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('SIGKILLed workers (at failpoints and at random moments) leave every record archived exactly once and a verifiable archive', async () => {
    const config = world.config('kills');
    world.fleet.setFaultRate(0.05);
    world.grow();
    const stopGrowing = keepGrowing(world, 1_500);
    const workers: WorkerProcess[] = [];
    const hits = new Map<string, number>(POINTS.map((p) => [p, 0]));
    let external = 0;
    const kills = (): number => external + [...hits.values()].reduce((a, b) => a + b, 0);
    const deadline = Date.now() + 5 * 60_000;
    try {
      for (let round = 0; (kills() < MIN_KILLS || [...hits.values()].includes(0)) && Date.now() < deadline; round += 1) {
        const withFailpoints = round % 2 === 0;
        const focus = POINTS[(round / 2) % POINTS.length]!;
        const worker = new WorkerProcess(`w${round}`, config, withFailpoints ? { LOG_ARCHIVER_FAILPOINTS: failpointSpec(focus) } : {});
        workers.push(worker);
        if (withFailpoints) {
          await worker.waitExit(10_000);
        } else {
          // A random moment of a running worker: somewhere in its first drains (uploads, commits,
          // recoveries of what the previous one left), not during Node's start-up.
          const firstDrain = Date.now() + 10_000;
          while (worker.alive && worker.events.length === 0 && Date.now() < firstDrain) await sleep(20);
          await sleep(randomBetween(0, 2_500));
        }
        if (worker.alive) {
          await worker.kill();
          external += 1;
        } else if (worker.failpoints.length > 0) {
          const point = worker.failpoints[worker.failpoints.length - 1]!;
          hits.set(point, (hits.get(point) ?? 0) + 1);
        } else {
          expect.fail(`worker ${worker.label} died on its own (exit ${worker.child.exitCode}, ${worker.child.signalCode}):\n${worker.tail()}`);
        }
      }
    } finally {
      stopGrowing();
    }
    for (const worker of workers) expect(worker.crashes, `${worker.label}:\n${worker.tail()}`).toEqual([]);

    // The last worker: no provider faults, no failpoints, nobody kills it. It must pick up every
    // source (leases of the dead expire), clean their debris and catch up.
    world.fleet.setFaultRate(0);
    world.grow();
    await world.settle();
    const final = new WorkerProcess('final', config, {});
    const diff = await world.waitComplete(150_000, [final]);
    const exitCode = await final.terminate();
    const verify = await world.verify(config);
    const pointCounts = POINTS.map((p) => `${p} ${hits.get(p)}`).join(', ');
    const fpKills = kills() - external;
    const debris = [...workers, final].reduce((n, w) => n + w.debris, 0);
    console.log(
      `chaos kills: ${kills()} kills (${fpKills} at failpoints: ${pointCounts}; ${external} external), ${debris} debris keys removed, ` +
        `${diff.records} records in ${diff.objects} objects, ` +
        `${diff.missing} missing, ${diff.duplicated} duplicated, ${diff.unexpected} unexpected, verify ${verify.code === 0 ? 'ok' : `exit ${verify.code}`}`,
    );
    expect(diff.detail, final.tail()).toEqual([]);
    expect(diff.missing).toBe(0);
    expect(diff.duplicated).toBe(0);
    expect(kills()).toBeGreaterThanOrEqual(30);
    expect(fpKills).toBeGreaterThan(0);
    expect(external).toBeGreaterThan(0);
    expect(exitCode, final.tail()).toBe(0);
    expect(final.crashes).toEqual([]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
