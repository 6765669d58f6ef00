import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layout } from '../../src/archive/index.js';
import { WorkerProcess, World } from './harness.js';

interface Entry {
  source: string;
  seq: number;
  manifest: string;
  object: string;
}

/**
 * Problem 1 of the arbiter issue: deleting the tail of a chain (or only its newest object, or an
 * entry in the middle) must stay reported by verify through any number of later drains,
 * restarts and the loss of Redis, and the damaged sources archive nothing over it, until an
 * operator acknowledges it; then verify reports the loss as acknowledged.
 */
describe('chaos: damage stays visible (rgw)', () => {
  let world: World;
  let config: string;

  beforeAll(async () => {
    world = await World.open({ storage: 'rgw', perGrow: 20 });
    config = world.config('damage', { maxRecords: 8 });
  });

  afterAll(async () => {
    await world?.close();
  });

  async function entries(): Promise<Entry[]> {
    const out: Entry[] = [];
    for await (const item of world.store.list('_manifests/')) {
      const body = JSON.parse((await world.store.get(item.key))!.toString('utf8')) as {
        source: string;
        seq: number;
        key?: string;
        kind: string;
      };
      if (body.kind === 'data') out.push({ source: body.source, seq: body.seq, manifest: item.key, object: body.key! });
    }
    return out;
  }

  it('tail cut, newest object deleted and a mid-chain entry deleted: reported after every later drain, restart and Redis loss; acknowledged, they are archived again', async () => {
    for (let round = 0; round < 3; round += 1) {
      world.grow();
      const run = await world.cli(['run-once', '-c', config]);
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
    }
    const all = await entries();
    const bySource = new Map<string, Entry[]>();
    for (const e of all)
      bySource.set(
        e.source,
        [...(bySource.get(e.source) ?? []), e].sort((a, b) => a.seq - b.seq),
      );
    const candidates = [...bySource.entries()]
      .filter(([, list]) => list.length >= 3)
      .map(([source]) => source)
      .sort();
    expect(candidates.length, JSON.stringify([...bySource.entries()].map(([s, l]) => [s, l.length]))).toBeGreaterThanOrEqual(3);
    const [tailSource, objectSource, middleSource] = candidates as [string, string, string];
    const tail = bySource.get(tailSource)!.at(-1)!;
    const newestObject = bySource.get(objectSource)!.at(-1)!;
    const middle = bySource.get(middleSource)![1]!;
    await world.store.delete(tail.manifest);
    await world.store.delete(tail.object);
    await world.store.delete(newestObject.object);
    await world.store.delete(middle.manifest);
    const expected = [layout.manifestKey(tailSource, tail.seq), newestObject.object, layout.manifestKey(middleSource, middle.seq)];

    const checks: string[] = [];
    const check = async (when: string): Promise<void> => {
      const result = await world.verify(config);
      const named = expected.filter((k) => result.stdout.includes(`DAMAGE`) && result.stdout.includes(k));
      checks.push(`${when}: exit ${result.code}, ${named.length}/${expected.length} named`);
      expect(result.code, result.stdout + result.stderr).toBe(1);
      expect(named, result.stdout).toEqual(expected);
    };
    await check('right after');
    for (let round = 0; round < 3; round += 1) {
      world.grow();
      const run = await world.cli(['run-once', '-c', config]);
      // The damaged sources stop (exit 1) with the typed error; the others go on.
      expect(run.code).toBe(1);
      for (const source of [tailSource, objectSource, middleSource])
        expect(run.stdout).toMatch(new RegExp(`FAILED  ${source}: .*archive damaged`));
      await check(`after drain ${round + 1}`);
    }
    await world.redis.flushAll();
    world.grow();
    const afterFlush = await world.cli(['run-once', '-c', config]);
    expect(afterFlush.code).toBe(1);
    await check('after FLUSHALL and a drain');
    await world.redis.kill();
    await world.redis.restart();
    const worker = new WorkerProcess('restarted', config, world.env);
    await worker.firstDrain();
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(await worker.terminate()).toBe(0);
    await check('after a Redis restart and a worker run');
    const status = await world.cli(['status', '-c', config, '--json']);
    const rows = (JSON.parse(status.stdout) as { sources: { source: string; damage: string[] }[] }).sources;
    for (const source of [tailSource, objectSource, middleSource])
      expect(rows.find((r) => r.source === source)?.damage.length).toBeGreaterThan(0);

    // The operator investigates and acknowledges; the chain records it, the sources go on.
    for (const source of [tailSource, objectSource, middleSource]) {
      const ack = await world.cli(['acknowledge', '-c', config, '--source', source, '--reason', 'chaos test: deleted on purpose']);
      expect(ack.code, ack.stdout + ack.stderr).toBe(0);
    }
    world.grow();
    await world.settle();
    const resumed = await world.cli(['run-once', '-c', config]);
    expect(resumed.code, resumed.stdout + resumed.stderr.slice(-2000)).toBe(0);
    const verify = await world.verify(config);
    const acknowledged = verify.stdout.split('\n').filter((l) => l.startsWith('ACKNOWLEDGED')).length;
    const diff = await world.diff();
    console.log(
      `chaos damage stays visible: tail cut (${tailSource} #${tail.seq}), newest object (${objectSource} #${newestObject.seq}), mid-chain entry (${middleSource} #${middle.seq}); ` +
        `${checks.join('; ')}; acknowledged: verify exit ${verify.code} with ${acknowledged} acknowledged findings; ` +
        `${diff.records} records, ${diff.missing} missing, ${diff.duplicated} duplicated`,
    );
    expect(verify.code, verify.stdout).toBe(0);
    expect(acknowledged).toBeGreaterThanOrEqual(3);
    // Lost objects were archived again from the providers (they still serve the records).
    expect(diff.detail).toEqual([]);
  });
});
