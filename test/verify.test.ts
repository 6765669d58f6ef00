import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeEach, afterEach, describe, expect, it } from 'vitest';
import { hmacSigningKey, KeyRing, layout, ManifestLedger, verifyArchive, type SpooledBatch } from '../src/archive/index.js';
import type { HeadRef } from '../src/checkpoints/index.js';
import { formatToken, type Lease } from '../src/leases/index.js';
import { silentLogger } from '../src/observability/index.js';
import { FileObjectStore } from '../src/storage/index.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const lease: Lease = {
  source: 's',
  token: formatToken(42),
  signal: new AbortController().signal,
  check: async () => undefined,
  release: async () => undefined,
};

describe('verify', () => {
  let dir: string;
  let store: FileObjectStore;
  let heads: HeadRef[];
  let dataKeys: string[];
  const ring = new KeyRing(hmacSigningKey('k1', Buffer.from('manifest signing key')));

  /** Four entries; with `digests`, a digest after each (digest #n names entry #n), a few ms apart. */
  async function build(keys: KeyRing = KeyRing.none, digests = false): Promise<void> {
    const ledger = new ManifestLedger(store, {
      keys,
      logger: silentLogger(),
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 10 },
      writer: 'test',
      ...(digests ? { digestIntervalMs: 1 } : {}),
    });
    let head: HeadRef | null = null;
    for (let i = 1; i <= 4; i += 1) {
      const path = join(dir, `b${i}`);
      const text = `batch number ${i} `.repeat(20);
      writeFileSync(path, text);
      const batch: SpooledBatch = {
        path,
        sha256: createHash('sha256').update(text).digest('hex'),
        bytes: text.length,
        records: 5,
        firstId: `${i}:0`,
        lastId: `${i}:4`,
      };
      const committed = await ledger.commit({
        source: 's',
        provider: 'p',
        lease,
        head,
        batch,
        checkpointBefore: i - 1,
        checkpointAfter: i,
        requestIds: [],
      });
      head = committed.head;
      heads.push(head);
      dataKeys.push(committed.key);
      if (digests) {
        await sleep(5);
        expect(await ledger.digestIfDue('s', head)).toBe(true);
        await sleep(5);
      }
    }
  }

  async function problems(options: Parameters<typeof verifyArchive>[1] = {}): Promise<string[]> {
    const report = await verifyArchive(store, options);
    expect(report.ok).toBe(report.problems.length === 0);
    return report.problems.map((p) => `${p.kind} ${p.key}`);
  }

  beforeEach(() => {
    dir = makeTempDir('verify');
    store = new FileObjectStore({ path: join(dir, 'archive') });
    heads = [];
    dataKeys = [];
  });
  afterEach(() => removeTempDir(dir));

  it('passes an intact archive and counts its records', async () => {
    await build();
    const report = await verifyArchive(store, { expectedHeads: new Map([['s', heads[3]!]]) });
    expect(report.problems).toEqual([]);
    expect(report.sources).toEqual([
      {
        source: 's',
        manifests: 4,
        objects: 4,
        records: 20,
        bytes: expect.any(Number),
        head: 4,
        pending: [],
        unsigned: 0,
        acknowledgements: 0,
        digests: 0,
        newestDigestAt: null,
        newestEntry: { seq: 4, sha256: heads[3]!.sha256 },
      },
    ]);
  });

  it('names a deleted object and an altered byte', async () => {
    await build();
    await store.delete(dataKeys[1]!);
    const bytes = (await store.get(dataKeys[2]!))!;
    bytes[7] = bytes[7]! ^ 0x01;
    await store.putBytes(dataKeys[2]!, bytes, { contentType: 'application/gzip' });
    expect(await problems()).toEqual([`object-missing ${dataKeys[1]}`, `object-altered ${dataKeys[2]}`]);
  });

  it('names a deleted manifest, an altered manifest and the broken chain after it', async () => {
    await build();
    await store.delete(heads[1]!.key);
    const altered = JSON.parse((await store.get(heads[2]!.key))!.toString('utf8')) as { records: number };
    altered.records = 4;
    await store.putBytes(heads[2]!.key, Buffer.from(JSON.stringify(altered)), { contentType: 'application/json' });
    const found = await problems();
    expect(found).toContain(`object-without-manifest ${dataKeys[1]}`);
    expect(found).toContain(`manifest-missing ${layout.manifestKey('s', 2)}`);
    // The altered manifest still parses, but the next one's hash of it no longer matches.
    expect(found).toContain(`chain-broken ${heads[3]!.key}`);
  });

  it('names a cut tail (newest object and manifest deleted) when the checkpoint store knows better', async () => {
    await build();
    await store.delete(heads[3]!.key);
    await store.delete(dataKeys[3]!);
    expect(await problems()).toEqual([]);
    expect(await problems({ expectedHeads: new Map([['s', heads[3]!]]) })).toEqual([`manifest-missing ${layout.manifestKey('s', 4)}`]);
  });

  it('names an altered newest manifest, which no successor vouches for, by the hash the checkpoint store kept', async () => {
    await build();
    const newest = JSON.parse((await store.get(heads[3]!.key))!.toString('utf8')) as { records: number };
    newest.records = 1;
    await store.putBytes(heads[3]!.key, Buffer.from(JSON.stringify(newest)), { contentType: 'application/json' });
    expect(await problems()).toEqual([]);
    expect(await problems({ expectedHeads: new Map([['s', heads[3]!]]) })).toEqual([`manifest-altered ${heads[3]!.key}`]);
  });

  it('names objects without a manifest', async () => {
    await build();
    // Numbered within the chain but not the object its entry names: an orphan.
    await store.putBytes('s/2026/01/01/s-0000000002-0000000000000001.ndjson.gz', Buffer.from('x'), { contentType: 'application/gzip' });
    expect(await problems()).toEqual(['object-without-manifest s/2026/01/01/s-0000000002-0000000000000001.ndjson.gz']);
    // Numbered above the head: a commit in flight, not damage.
    await store.putBytes('s/2026/01/01/s-0000000005-0000000000000001.ndjson.gz', Buffer.from('x'), { contentType: 'application/gzip' });
    const report = await verifyArchive(store);
    expect(report.sources[0]!.pending).toEqual(['s/2026/01/01/s-0000000005-0000000000000001.ndjson.gz']);
  });

  it('with HMAC: accepts signed manifests, names a re-signed forgery and an unsigned one', async () => {
    await build(ring);
    expect(await problems({ keys: ring })).toEqual([]);
    // A forger rewrites a manifest consistently (new hash for an edited object) but has no key.
    const forged = JSON.parse((await store.get(heads[0]!.key))!.toString('utf8')) as { sha256: string };
    forged.sha256 = 'f'.repeat(64);
    await store.putBytes(heads[0]!.key, Buffer.from(JSON.stringify(forged)), { contentType: 'application/json' });
    const unsigned = JSON.parse((await store.get(heads[1]!.key))!.toString('utf8')) as { signature?: unknown };
    delete unsigned.signature;
    await store.putBytes(heads[1]!.key, Buffer.from(JSON.stringify(unsigned)), { contentType: 'application/json' });
    const found = await problems({ keys: ring });
    expect(found).toContain(`manifest-altered ${heads[0]!.key}`);
    expect(found).toContain(`manifest-unsigned ${heads[1]!.key}`);
  });

  it('incremental: checks only what came after an intact run, and names the point it started from if that is gone', async () => {
    await build();
    const first = await verifyArchive(store);
    const point = first.sources[0]!;
    expect(point.newestEntry).toEqual({ seq: 4, sha256: heads[3]!.sha256 });
    const from = new Map([['s', { entry: point.newestEntry!, digest: null, verifiedAt: new Date().toISOString() }]]);
    const again = await verifyArchive(store, { from });
    expect(again.problems).toEqual([]);
    expect(again.sources[0]).toMatchObject({ manifests: 0, objects: 0, head: 4 });
    await store.delete(heads[3]!.key);
    expect((await verifyArchive(store, { from })).problems.map((p) => `${p.kind} ${p.key}`)).toContain(`manifest-missing ${heads[3]!.key}`);
  });

  it('since: checks from an entry number or a time on, with the link into it and the digests naming its entries', async () => {
    await build(KeyRing.none, true);
    const since = { seq: 3 };
    const summary = async (options: Parameters<typeof verifyArchive>[1]) => (await verifyArchive(store, options)).sources[0];
    expect(await problems({ since })).toEqual([]);
    expect(await summary({ since })).toMatchObject({ from: 3, manifests: 2, objects: 2, records: 10, head: 4, digests: 2 });
    const third = JSON.parse((await store.get(heads[2]!.key))!.toString('utf8')) as { writtenAt: string };
    expect(await summary({ since: { time: new Date(third.writtenAt) } })).toMatchObject({ from: 3, manifests: 2 });
    expect(await summary({ since: { time: new Date(Date.now() + 60_000) } })).toMatchObject({ from: 5, manifests: 0, objects: 0 });

    // Damage before the point is not this verify's; the full one still names it.
    await store.delete(dataKeys[0]!);
    await store.delete(layout.digestKey('s', 1));
    expect(await problems({ since })).toEqual([]);
    expect(await problems()).toEqual([`object-missing ${dataKeys[0]}`, `digest-missing ${layout.digestKey('s', 1)}`]);

    // The link into the first checked entry: #2 altered (its hash no longer what #3 names), then gone.
    const second = (await store.get(heads[1]!.key))!;
    const altered = JSON.parse(second.toString('utf8')) as { records: number };
    altered.records = 4;
    await store.putBytes(heads[1]!.key, Buffer.from(JSON.stringify(altered)), { contentType: 'application/json' });
    expect(await problems({ since })).toEqual([`chain-broken ${heads[2]!.key}`]);
    await store.delete(heads[1]!.key);
    expect(await problems({ since })).toEqual([`manifest-missing ${heads[1]!.key}`]);
    await store.putBytes(heads[1]!.key, second, { contentType: 'application/json' });

    // Digests naming its entries: one deleted, and the newest entry cut (the newest digest names it).
    await store.delete(layout.digestKey('s', 3));
    expect(await problems({ since })).toEqual([`digest-missing ${layout.digestKey('s', 3)}`]);
    await store.delete(heads[3]!.key);
    await store.delete(dataKeys[3]!);
    expect(await problems({ since })).toContain(`manifest-missing ${heads[3]!.key}`);
  });
});
