import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAILPOINTS, type FailpointName } from '../../src/failpoints.js';
import { keepGrowing, randomBetween, WorkerProcess, World } from './harness.js';

const MIN_KILLS = 32;
/** Longer than the lease TTL (3 s): a worker frozen this long comes back as a stale writer. */
const STALL_MS = 4_500;
const STALL_POINTS: readonly FailpointName[] = ['after-upload', 'before-manifest', 'after-manifest'];

/** One point likely (the one this worker is meant to die at), the others now and then. */
function killSpec(focus: FailpointName): string {
  return FAILPOINTS.map((p) => `${p}:${p === focus ? 0.35 : 0.03}`).join(',');
}

/** Freezes inside the commit, where a writer that lost its lease meanwhile can do harm. */
function stallSpec(): string {
  return STALL_POINTS.map((p) => `${p}:0.3:stall=${STALL_MS}`).join(',');
}

type Mode = 'failpoint' | 'external' | 'failpoint-stall' | 'sigstop';
const MODES: readonly Mode[] = ['failpoint', 'external', 'failpoint', 'failpoint-stall', 'external', 'sigstop'];

describe('chaos: kill -9', () => {
  let world: World;

  beforeAll(async () => {
    world = await World.open({ storage: 'rgw', perGrow: 20 });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('SIGKILLed and frozen workers (at failpoints and at random moments) leave every record archived exactly once and a verifiable archive', async () => {
    const config = world.config('kills');
    world.fleet.setFaultRate(0.05);
    world.grow();
    const stopGrowing = keepGrowing(world, 1_500);
    const workers: WorkerProcess[] = [];
    const hits = new Map<string, number>(FAILPOINTS.map((p) => [p, 0]));
    let external = 0;
    let stalls = 0;
    let focus = 0;
    const kills = (): number => external + [...hits.values()].reduce((a, b) => a + b, 0);
    const deadline = Date.now() + 4 * 60_000;
    const done = (): boolean => Date.now() > deadline || (kills() >= MIN_KILLS && ![...hits.values()].includes(0) && stalls >= 4);

    // Two slots, each running one worker at a time and killing it: while one worker is dead,
    // frozen or stalled, the other takes its sources over (once their 3 s leases expire).
    const slot = async (id: number): Promise<void> => {
      for (let round = 0; !done(); round += 1) {
        const mode = MODES[(round * 2 + id) % MODES.length]!;
        const env: Record<string, string> = {};
        if (mode === 'failpoint') env.LOG_ARCHIVER_FAILPOINTS = killSpec(FAILPOINTS[focus++ % FAILPOINTS.length]!);
        if (mode === 'failpoint-stall') env.LOG_ARCHIVER_FAILPOINTS = stallSpec();
        const worker = new WorkerProcess(`s${id}r${round}-${mode}`, config, { ...world.env, ...env });
        workers.push(worker);
        switch (mode) {
          case 'failpoint':
            await worker.waitExit(10_000);
            break;
          case 'external':
            // A random moment of a running worker: in its first drains (uploads, commits,
            // recoveries of what the dead left), not during Node's start-up.
            await worker.firstDrain();
            await sleep(randomBetween(0, 2_500));
            break;
          case 'failpoint-stall': {
            const until = Date.now() + 10_000;
            while (worker.alive && worker.stalls.length === 0 && Date.now() < until) await sleep(50);
            if (worker.stalls.length > 0) {
              stalls += 1;
              // Let it wake up, find its lease gone and carry on as a stale writer for a while.
              await sleep(STALL_MS + randomBetween(500, 2_500));
            }
            break;
          }
          case 'sigstop':
            await worker.firstDrain();
            await sleep(randomBetween(0, 2_000));
            await worker.freeze(STALL_MS);
            stalls += 1;
            await sleep(randomBetween(500, 2_500));
            break;
        }
        if (worker.alive) {
          await worker.kill();
          external += 1;
        } else if (worker.failpoints.length > 0) {
          const point = worker.failpoints[worker.failpoints.length - 1]!;
          hits.set(point, (hits.get(point) ?? 0) + 1);
        } else {
          throw new Error(
            `worker ${worker.label} died on its own (exit ${worker.child.exitCode}, ${worker.child.signalCode}):\n${worker.tail()}`,
          );
        }
      }
    };
    try {
      await Promise.all([slot(0), slot(1)]);
    } finally {
      stopGrowing();
    }
    for (const worker of workers) expect(worker.crashes, `${worker.label}:\n${worker.tail()}`).toEqual([]);

    // The last worker: no provider faults, no failpoints, nobody kills it. It must pick up every
    // source (leases of the dead expire), clean their debris and catch up.
    world.fleet.setFaultRate(0);
    world.grow();
    await world.settle();
    const final = new WorkerProcess('final', config, world.env);
    const diff = await world.waitComplete(150_000, [final]);
    const exitCode = await final.terminate();
    const verify = await world.verify(config);
    const all = [...workers, final];
    const pointCounts = FAILPOINTS.map((p) => `${p} ${hits.get(p)}`).join(', ');
    const fpKills = kills() - external;
    const debris = all.reduce((n, w) => n + w.debris, 0);
    const leasesLost = all.reduce((n, w) => n + w.leasesLost, 0);
    const fenced = all.reduce((n, w) => n + w.fenced, 0);
    console.log(
      `chaos kills: ${kills()} kills (${fpKills} at failpoints: ${pointCounts}; ${external} external), ${stalls} freezes > lease TTL, ` +
        `${leasesLost} leases lost, ${fenced} stale drains fenced, ${debris} debris keys removed, ${diff.records} records in ${diff.objects} objects, ` +
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
