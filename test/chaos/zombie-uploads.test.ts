import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layout } from '../../src/archive/index.js';
import { HoldProxy } from '../helpers/hold-proxy.js';
import { keepGrowing, WorkerProcess, World } from './harness.js';

/**
 * Problem 3 of the arbiter issue: a data upload still in flight when its writer dies lands after
 * the next holder committed that number and cleaned up. Such a zombie is found in the date
 * folder near the head and removed: in the end no orphan is left and no record is visible twice
 * to someone reading `*.ndjson.gz` directly.
 */
describe('chaos: zombie uploads (rgw)', () => {
  let world: World;
  let proxy: HoldProxy;

  beforeAll(async () => {
    world = await World.open({ storage: 'rgw', perGrow: 10 });
    proxy = new HoldProxy({ host: '127.0.0.1', port: world.rgw!.port });
    await proxy.start();
  });

  afterAll(async () => {
    await proxy?.close();
    await world?.close();
  });

  it('uploads landing after their writer died and the next holder cleaned up leave no orphan and no record twice', async () => {
    const config = world.config('zombies', { maxRecords: 6, every: '300ms', concurrency: 1 });
    // The doomed writers reach storage through the proxy; the survivor goes direct.
    const viaProxy = join(world.dir, 'via-proxy.yaml');
    const { readFileSync } = await import('node:fs');
    writeFileSync(viaProxy, readFileSync(config, 'utf8').replace(world.rgw!.endpoint, proxy.url));
    world.grow();
    const survivor = new WorkerProcess('survivor', config, world.env);
    const stopGrowing = keepGrowing(world, 800);
    let landed = 0;
    const zombieKeys: string[] = [];
    try {
      for (let round = 0; round < 4; round += 1) {
        proxy.holdNext(1, (req) => req.method === 'PUT' && (req.url ?? '').split('?')[0]!.endsWith('.ndjson.gz'));
        const doomed = new WorkerProcess(`doomed-${round}`, viaProxy, world.env);
        const until = Date.now() + 20_000;
        while (proxy.holding === 0 && Date.now() < until) await sleep(50);
        expect(proxy.holding, doomed.tail()).toBe(1);
        await doomed.kill();
        // Its lease runs out (3 s); the survivor commits that number and cleans up; then the PUT lands.
        await sleep(6_000);
        await proxy.release();
        const last = proxy.delivered.at(-1)!;
        expect(last.status).toBe(200);
        landed += 1;
        zombieKeys.push(decodeURIComponent(last.path.split('?')[0]!.replace(`/${World.BUCKET}/`, '')));
        await sleep(2_000);
      }
    } finally {
      stopGrowing();
    }
    world.grow();
    await world.settle();
    const diff = await world.waitComplete(120_000, [survivor]);
    await sleep(2_000);
    const exit = await survivor.terminate();
    const remaining = [];
    for (const key of zombieKeys) if (await world.store.head(key)) remaining.push(key);
    const verify = await world.verify(config);
    const orphans = verify.stdout.split('\n').filter((l) => l.includes('object-without-manifest')).length;
    console.log(
      `chaos zombies: ${landed} uploads landed after their writer died (${zombieKeys.map((k) => layout.parseDataKey(k)?.source).join(', ')}), ` +
        `${survivor.debris} debris keys removed by the survivor, ${remaining.length} left, ${orphans} orphans named by verify, ` +
        `${diff.records} records, ${diff.missing} missing, ${diff.duplicated} duplicated, verify ${verify.code === 0 ? 'ok' : `exit ${verify.code}`}`,
    );
    expect(landed).toBe(4);
    expect(remaining).toEqual([]);
    expect(diff.detail).toEqual([]);
    expect(diff.duplicated).toBe(0);
    expect(diff.missing).toBe(0);
    expect(exit).toBe(0);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
