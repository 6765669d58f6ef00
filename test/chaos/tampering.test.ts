import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layout } from '../../src/archive/index.js';
import { runCli } from '../helpers/cli.js';
import { World } from './harness.js';

interface Archived {
  source: string;
  seq: number;
  manifest: string;
  object: string;
}

/**
 * Damage done to the archive after the fact (a careless `aws s3 rm`, bit rot, an edit) must make
 * `verify` exit 1 and name every damaged key; the intact archive verifies with exit 0.
 */
describe('chaos: tampering', () => {
  let world: World;
  let config: string;
  let archive: string;
  let snapshot: string;
  let objects: Archived[];
  const results: string[] = [];

  beforeAll(async () => {
    world = await World.open({ storage: 'file', perGrow: 30 });
    config = world.config('tamper', { maxRecords: 20 });
    archive = join(world.dir, 'archive');
    snapshot = join(world.dir, 'snapshot');
    // A few drains with growth in between: several objects per source, chained manifests.
    for (let round = 0; round < 3; round += 1) {
      world.grow();
      const run = await runCli(['run-once', '-c', config], {}, 120_000);
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
    }
    objects = [];
    for await (const item of world.store.list('_manifests/')) {
      const manifest = JSON.parse((await world.store.get(item.key))!.toString('utf8')) as { source: string; seq: number; key: string };
      objects.push({ source: manifest.source, seq: manifest.seq, manifest: item.key, object: manifest.key });
    }
    cpSync(archive, snapshot, { recursive: true });
  });

  afterAll(async () => {
    if (results.length > 0) console.log(`chaos tampering: ${results.join('; ')}`);
    await world?.close();
  });

  /** Puts the archive back as it was before any tampering. */
  function restore(): void {
    rmSync(archive, { recursive: true, force: true });
    cpSync(snapshot, archive, { recursive: true });
  }

  /** The object `seq` of a source with at least `min` objects (so a middle one has neighbours). */
  function pick(min: number, seq: number, skip?: string): Archived {
    const bySource = new Map<string, Archived[]>();
    for (const o of objects) bySource.set(o.source, [...(bySource.get(o.source) ?? []), o]);
    const source = [...bySource.keys()].sort().find((s) => s !== skip && (bySource.get(s)?.length ?? 0) >= min);
    if (!source) throw new Error(`no source with ${min} objects: ${objects.length} objects in all`);
    return bySource.get(source)!.find((o) => o.seq === seq)!;
  }

  function newest(source: string): Archived {
    return objects.filter((o) => o.source === source).sort((a, b) => b.seq - a.seq)[0]!;
  }

  async function flipByte(key: string): Promise<void> {
    const bytes = (await world.store.get(key))!;
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x01;
    await world.store.delete(key);
    await world.store.putBytes(key, bytes, { contentType: 'application/octet-stream' });
  }

  async function verify(name: string, expectedKeys: string[]): Promise<void> {
    const result = await world.verify(config);
    const named = expectedKeys.filter((k) => result.stdout.includes(k));
    results.push(`${name}: exit ${result.code}, ${named.length}/${expectedKeys.length} damaged keys named`);
    expect(result.code, result.stdout + result.stderr).toBe(expectedKeys.length === 0 ? 0 : 1);
    expect(named, result.stdout).toEqual(expectedKeys);
  }

  it('the intact archive verifies', async () => {
    expect(objects.length).toBeGreaterThanOrEqual(10);
    await verify('intact', []);
  });

  it('a deleted data object and a flipped byte in another are both named', async () => {
    restore();
    const gone = pick(3, 2);
    const flipped = pick(3, 1, gone.source);
    await world.store.delete(gone.object);
    await flipByte(flipped.object);
    await verify('object deleted + byte flipped', [gone.object, flipped.object]);
  });

  it('a deleted manifest is named (its number), and so is the object it described', async () => {
    restore();
    const victim = pick(3, 2);
    await world.store.delete(victim.manifest);
    await verify('manifest deleted', [layout.manifestKey(victim.source, victim.seq), victim.object]);
  });

  it('an altered manifest in the middle of the chain is named', async () => {
    restore();
    const victim = pick(3, 2);
    const manifest = JSON.parse((await world.store.get(victim.manifest))!.toString('utf8')) as { records: number };
    manifest.records -= 1;
    await world.store.delete(victim.manifest);
    await world.store.putBytes(victim.manifest, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), { contentType: 'application/json' });
    await verify('manifest altered', [victim.manifest]);
  });

  it('deleting the newest manifest and its object is detected and named', async () => {
    restore();
    const victim = newest(pick(3, 1).source);
    await world.store.delete(victim.manifest);
    await world.store.delete(victim.object);
    // Storage alone cannot know a cut tail: the checkpoint store's head says how long the chain was.
    // It names the first missing number (the exact key and the object's key are not known to verify).
    await verify('newest manifest + object deleted', [layout.manifestKey(victim.source, victim.seq)]);
  });

  it('the restored archive verifies again', async () => {
    restore();
    await verify('restored', []);
  });
});
