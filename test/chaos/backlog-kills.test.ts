import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '../../src/redis/index.js';
import { PREFIX, randomBetween, WorkerProcess, World } from './harness.js';

const SOURCE = 'dq-scan-log';
const RUN_ID = 10001;
/** Lines of the backlog: far more than one worker life drains at 2 KiB (about 25 lines) per call. */
const BACKLOG_LINES = Number(process.env.CHAOS_BACKLOG_LINES ?? 30_000);
/** Each DataWorks answer takes this long: the drain's pace is the provider's, not the machine's load. */
const LATENCY_MS = 10;
const MAX_SECONDS = 1;
const MIN_KILLS_DURING_BACKLOG = 4;

describe('chaos: a worker SIGKILLed every few seconds during a long backlog', () => {
  let world: World;

  beforeAll(async () => {
    world = await World.open({ storage: 'file' });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('commits what each life read after batch.maxSeconds, so the backlog completes with every record exactly once', async () => {
    // The product's batch size: no batch fills within a life, only maxSeconds commits.
    const config = world.config('backlog', { maxRecords: 100_000, maxSeconds: MAX_SECONDS, every: '300ms' });
    let text = '';
    for (let i = 1; i <= BACKLOG_LINES; i += 1) text += `2026-12-01T00:00:00.000Z run ${RUN_ID} check rule ${i}: 行数校验通过 ✓ backlog\n`;
    world.fleet.dataworks.appendLog(RUN_ID, text);
    world.fleet.dataworks.rpc.http.setLatency(LATENCY_MS);
    const total = world.fleet.dataworks.expectedRecords().length;

    const redis = world.redis.client();
    const stateKey = new RedisKeys(PREFIX).state(SOURCE);
    /** Records the source's committed head holds (what survives a kill; uploads not yet committed do not count). */
    const committed = async (): Promise<number> => {
      const raw = await redis.get(stateKey);
      return raw === null ? 0 : ((JSON.parse(raw) as { head: { totals: { records: number } } | null }).head?.totals.records ?? 0);
    };
    const workers: WorkerProcess[] = [];
    /** Committed records at each kill that found the backlog unfinished. */
    const committedAtKills: number[] = [];
    const deadline = Date.now() + 3 * 60_000;
    for (let life = 0; Date.now() < deadline; life += 1) {
      const worker = new WorkerProcess(`life${life}`, config, world.env);
      workers.push(worker);
      // Kill it a random moment after it started on the backlog (the dead one's lease expires first).
      const until = Date.now() + 20_000;
      while (worker.alive && !worker.events.some((e) => e.source === SOURCE && e.kind === 'started') && Date.now() < until) await sleep(50);
      await sleep(randomBetween(2_000, 4_000));
      if (!worker.alive) throw new Error(`worker ${worker.label} died on its own:\n${worker.tail()}`);
      await worker.kill();
      const done = await committed();
      if (done >= total) break;
      committedAtKills.push(done);
    }
    for (const worker of workers) expect(worker.crashes, `${worker.label}:\n${worker.tail()}`).toEqual([]);

    // Whatever is left (normally nothing), one worker nobody kills finishes.
    const final = new WorkerProcess('final', config, world.env);
    // Running (signal handlers in place) before it can be asked to stop, even when nothing is left.
    await final.firstDrain(20_000);
    const diff = await world.waitComplete(60_000, [final]);
    const exitCode = await final.terminate();
    const verify = await world.verify(config);
    console.log(
      `chaos backlog: ${total} records; ${workers.length} lives SIGKILLed after 2–4 s of draining ` +
        `(committed at each kill: ${[...committedAtKills, await committed()].join(' → ')}); ${diff.records} records in ${diff.objects} objects, ` +
        `${diff.missing} missing, ${diff.duplicated} duplicated, ${diff.unexpected} unexpected, verify ${verify.code === 0 ? 'ok' : `exit ${verify.code}`}`,
    );
    expect(diff.detail, final.tail()).toEqual([]);
    expect(diff.missing).toBe(0);
    expect(diff.duplicated).toBe(0);
    expect(exitCode, final.tail()).toBe(0);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    // The backlog outlived several workers; what each life committed stayed, and most lives added to it.
    expect(committedAtKills.length).toBeGreaterThanOrEqual(MIN_KILLS_DURING_BACKLOG);
    let progressed = committedAtKills[0]! > 0 ? 1 : 0;
    for (let i = 1; i < committedAtKills.length; i += 1) {
      expect(committedAtKills[i]!).toBeGreaterThanOrEqual(committedAtKills[i - 1]!);
      if (committedAtKills[i]! > committedAtKills[i - 1]!) progressed += 1;
    }
    expect(progressed).toBeGreaterThanOrEqual(committedAtKills.length / 2);
  });
});
