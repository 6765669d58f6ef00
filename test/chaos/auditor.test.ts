import { generateKeyPairSync, sign } from 'node:crypto';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layout } from '../../src/archive/index.js';
import { World } from './harness.js';

const canonicalize = createRequire(import.meta.url)('canonicalize') as (input: unknown) => string;

interface Entry {
  source: string;
  seq: number;
  manifest: string;
  object: string;
}

/**
 * Evidence an auditor checks alone: archived with Ed25519 signatures and digests, then checked
 * from a config that holds only `storage` and the public key, on a "machine" that never ran the
 * archiver (no checkpoint cache). Every kind of damage the chaos suite applies is named, an intact
 * archive exits 0; a key rotation followed by the loss of the cache archives nothing twice.
 */
describe('chaos: an auditor with storage and a public key only', () => {
  let world: World;
  let archive: string;
  let snapshot: string;
  let auditor: string;
  let entries: Entry[];
  /** The archive is not written to after the setup: digest gaps after this are not findings. */
  let until: string;
  const results: string[] = [];
  const keyA = generateKeyPairSync('ed25519');
  const keyB = generateKeyPairSync('ed25519');
  const pem = (dir: string, name: string, key: { export(o: object): string | Buffer }, type: 'pkcs8' | 'spki'): string => {
    const path = join(dir, name);
    writeFileSync(path, key.export({ type, format: 'pem' }));
    return path;
  };

  beforeAll(async () => {
    world = await World.open({ storage: 'file', perGrow: 25 });
    archive = join(world.dir, 'archive');
    snapshot = join(world.dir, 'snapshot');
    const privA = pem(world.dir, 'a.pem', keyA.privateKey, 'pkcs8');
    const pubA = pem(world.dir, 'a.pub.pem', keyA.publicKey, 'spki');
    const privB = pem(world.dir, 'b.pem', keyB.privateKey, 'pkcs8');
    const pubB = pem(world.dir, 'b.pub.pem', keyB.publicKey, 'spki');
    const signedWith = (keyId: string, file: string, extra: Record<string, unknown> = {}) => ({
      digestInterval: '2s',
      signing: { algorithm: 'ed25519', keyId, privateKeyFile: file },
      ...extra,
    });
    const configA = world.config('writer-a', { maxRecords: 15, manifests: signedWith('2026-06', privA) });
    const configB = world.config('writer-b', {
      maxRecords: 15,
      manifests: signedWith('2026-12', privB, { verifyKeys: { '2026-06': { publicKeyFile: pubA } } }),
    });
    for (let round = 0; round < 3; round += 1) {
      world.grow();
      const run = await world.cli(['run-once', '-c', configA]);
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
      await sleep(1_100);
    }
    // Key rotation, then the checkpoint cache is lost: nothing may be archived twice.
    await world.redis.flushAll();
    for (let round = 0; round < 2; round += 1) {
      world.grow();
      const run = await world.cli(['run-once', '-c', configB]);
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
      await sleep(1_100);
    }
    await world.settle();
    const rotated = await world.cli(['run-once', '-c', configB]);
    expect(rotated.code, rotated.stderr.slice(-2000)).toBe(0);
    const diff = await world.diff();
    results.push(`rotation + cache loss: ${diff.records} records, ${diff.missing} missing, ${diff.duplicated} duplicated`);
    expect(diff.detail).toEqual([]);

    auditor = join(world.dir, 'auditor.yaml');
    writeFileSync(
      auditor,
      `storage: { kind: file, path: ${archive} }\nmanifests:\n  verifyKeys:\n    "2026-06": { publicKeyFile: ${pubA} }\n    "2026-12": { publicKeyFile: ${pubB} }\n`,
    );
    entries = [];
    for await (const item of world.store.list('_manifests/')) {
      const body = JSON.parse((await world.store.get(item.key))!.toString('utf8')) as {
        kind: string;
        source: string;
        seq: number;
        key: string;
      };
      if (body.kind === 'data') entries.push({ source: body.source, seq: body.seq, manifest: item.key, object: body.key });
    }
    until = new Date(Date.now() + 5_000).toISOString();
    cpSync(archive, snapshot, { recursive: true });
  }, 600_000);

  afterAll(async () => {
    if (results.length > 0) console.log(`chaos auditor: ${results.join('; ')}`);
    await world?.close();
  });

  function restore(): void {
    rmSync(archive, { recursive: true, force: true });
    cpSync(snapshot, archive, { recursive: true });
  }

  function pick(min: number, skip: string[] = []): Entry[] {
    const bySource = new Map<string, Entry[]>();
    for (const e of entries)
      bySource.set(
        e.source,
        [...(bySource.get(e.source) ?? []), e].sort((a, b) => a.seq - b.seq),
      );
    const source = [...bySource.keys()].sort().find((s) => !skip.includes(s) && (bySource.get(s)?.length ?? 0) >= min);
    if (!source) throw new Error(`no source with ${min} entries`);
    return bySource.get(source)!;
  }

  async function audit(name: string, expectedKeys: string[]): Promise<void> {
    const result = await world.cli(['verify', '-c', auditor, '--until', until]);
    const named = expectedKeys.filter((k) => result.stdout.split('\n').some((l) => l.startsWith('DAMAGE') && l.includes(k)));
    results.push(`${name}: exit ${result.code}, ${named.length}/${expectedKeys.length} named`);
    expect(result.code, result.stdout + result.stderr).toBe(expectedKeys.length === 0 ? 0 : 1);
    expect(named, result.stdout).toEqual(expectedKeys);
  }

  const rewrite = async (key: string, edit: (body: Record<string, unknown>) => void): Promise<void> => {
    const body = JSON.parse((await world.store.get(key))!.toString('utf8')) as Record<string, unknown>;
    edit(body);
    await world.store.delete(key);
    await world.store.putBytes(key, Buffer.from(`${JSON.stringify(body, null, 2)}\n`), { contentType: 'application/json' });
  };

  it('passes the intact archive (signed by two keys across a rotation)', async () => {
    await audit('intact', []);
  });

  it('names a deleted object and an altered object', async () => {
    restore();
    const a = pick(3);
    const b = pick(3, [a[0]!.source]);
    await world.store.delete(a[1]!.object);
    const bytes = (await world.store.get(b[0]!.object))!;
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 1;
    await world.store.delete(b[0]!.object);
    await world.store.putBytes(b[0]!.object, bytes, { contentType: 'application/gzip' });
    await audit('object deleted + object altered', [a[1]!.object, b[0]!.object]);
  });

  it('names a deleted manifest and an altered one (its signature no longer verifies)', async () => {
    restore();
    const a = pick(3);
    const b = pick(3, [a[0]!.source]);
    await world.store.delete(a[1]!.manifest);
    await rewrite(b[1]!.manifest, (body) => {
      body.records = Number(body.records) + 1;
    });
    await audit('manifest deleted + manifest altered', [a[1]!.manifest, b[1]!.manifest]);
  });

  it('names a deleted digest and an altered digest', async () => {
    restore();
    const source = pick(3)[0]!.source;
    await world.store.delete(layout.digestKey(source, 2));
    const other = pick(3, [source])[0]!.source;
    await rewrite(layout.digestKey(other, 1), (body) => {
      (body.totals as { records: number }).records += 5;
    });
    await audit('digest deleted + digest altered', [layout.digestKey(source, 2), layout.digestKey(other, 1)]);
  });

  it('names a cut tail (newest manifest and object deleted) with no cache anywhere: the digests witness it', async () => {
    restore();
    const list = pick(3);
    const newest = list[list.length - 1]!;
    await world.store.delete(newest.manifest);
    await world.store.delete(newest.object);
    await audit('cut tail', [layout.manifestKey(newest.source, newest.seq)]);
  });

  it('names a forged signature: a manifest re-signed with another key under a trusted key id', async () => {
    restore();
    const list = pick(3);
    const forger = generateKeyPairSync('ed25519');
    const victim = list[0]!.manifest;
    await rewrite(victim, (body) => {
      body.records = Number(body.records) + 1;
      const { signature, ...rest } = body as { signature: { keyId: string } } & Record<string, unknown>;
      body.signature = {
        algorithm: 'ed25519',
        keyId: signature.keyId,
        value: sign(null, Buffer.from(canonicalize(rest)), forger.privateKey).toString('base64'),
      };
    });
    await audit('forged signature', [victim]);
  });

  it('the restored archive passes again', async () => {
    restore();
    await audit('restored', []);
    expect(readFileSync(auditor, 'utf8')).not.toContain('privateKeyFile');
  });
});
