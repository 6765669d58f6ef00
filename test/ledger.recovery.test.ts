import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManifestLedger, verifyArchive, intentKey, type SpooledBatch } from '../src/archive/index.js';
import type { HeadRef, SourceState } from '../src/checkpoints/index.js';
import { LeaseLostError } from '../src/errors/index.js';
import { formatToken, type Lease } from '../src/leases/index.js';
import { silentLogger } from '../src/observability/index.js';
import { FileObjectStore } from '../src/storage/index.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

/** A lease whose loss the test decides; the real ones are covered by the Redis and chaos tests. */
class TestLease implements Lease {
  readonly #controller = new AbortController();
  constructor(
    readonly source: string,
    readonly token: string,
  ) {}
  get signal(): AbortSignal {
    return this.#controller.signal;
  }
  revoke(): void {
    this.#controller.abort(new LeaseLostError(this.source, this.token));
  }
  async check(): Promise<void> {
    if (this.#controller.signal.aborted) throw this.#controller.signal.reason;
  }
  async release(): Promise<void> {}
}

const SOURCE = 'src-a';

describe('manifest ledger recovery', () => {
  let dir: string;
  let store: FileObjectStore;
  let ledger: ManifestLedger;
  let tokens = 1_000;

  const lease = (): TestLease => new TestLease(SOURCE, formatToken(++tokens));
  const batch = (name: string, records = 3): SpooledBatch => {
    const path = join(dir, `${name}.spool`);
    writeFileSync(path, `bytes of ${name}`);
    return {
      path,
      sha256: sha(`bytes of ${name}`),
      bytes: Buffer.byteLength(`bytes of ${name}`),
      records,
      firstId: `${name}:0`,
      lastId: `${name}:${records - 1}`,
    };
  };
  const commit = async (l: Lease, head: HeadRef | null, name: string, after: number) =>
    ledger.commit({
      source: SOURCE,
      provider: 'p',
      lease: l,
      head,
      batch: batch(name),
      checkpointBefore: { at: after - 1 },
      checkpointAfter: { at: after },
      requestIds: [`req-${name}`],
    });
  const state = (head: HeadRef | null, position: unknown): SourceState => ({ head, position, updatedAt: new Date().toISOString() });
  const keys = async (): Promise<string[]> => {
    const out: string[] = [];
    for await (const item of store.list('')) out.push(item.key);
    return out;
  };

  beforeEach(() => {
    dir = makeTempDir('ledger');
    store = new FileObjectStore({ path: join(dir, 'archive') });
    ledger = new ManifestLedger(store, {
      hmacKey: undefined,
      logger: silentLogger(),
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 1000 },
      writer: 'test',
    });
  });
  afterEach(() => removeTempDir(dir));

  it('commits a hash chain that verify accepts, and resumes from the cached position', async () => {
    const l = lease();
    const one = await commit(l, null, 'one', 1);
    const two = await commit(l, one.head, 'two', 2);
    expect(two.head.seq).toBe(2);
    expect(two.head.totals).toEqual({ records: 6, objects: 2 });
    const report = await verifyArchive(store);
    expect(report.problems).toEqual([]);
    expect(report.sources[0]).toMatchObject({ source: SOURCE, objects: 2, records: 6, manifests: 2 });
    const recovered = await ledger.recover(SOURCE, state(two.head, { at: 7 }), lease());
    expect(recovered.head).toEqual(two.head);
    expect(recovered.position).toEqual({ at: 7 });
  });

  it('rolls forward over a manifest committed just before a crash, when the cache still names the one before', async () => {
    const l = lease();
    const one = await commit(l, null, 'one', 1);
    const two = await commit(l, one.head, 'two', 2);
    const recovered = await ledger.recover(SOURCE, state(one.head, { at: 1 }), lease());
    expect(recovered.head).toEqual(two.head);
    expect(recovered.position).toEqual({ at: 2 });
  });

  it('rebuilds the head from the manifests when the cache is gone (Redis flushed)', async () => {
    const l = lease();
    let head: HeadRef | null = null;
    for (let i = 1; i <= 5; i += 1) head = (await commit(l, head, `b${i}`, i)).head;
    const recovered = await ledger.recover(SOURCE, undefined, lease());
    expect(recovered.head).toEqual(head);
    expect(recovered.position).toEqual({ at: 5 });
  });

  it('removes the object of an upload that crashed before its manifest', async () => {
    const l = lease();
    const one = await commit(l, null, 'one', 1);
    // Simulate a crash after intent + upload of object #2: both exist, no manifest.
    const orphan = `${SOURCE}/2026/01/01/${SOURCE}-0000000002-${l.token}.ndjson.gz`;
    await store.putBytes(intentKey(SOURCE, 2, l.token), Buffer.from(JSON.stringify({ key: orphan })), { contentType: 'application/json' });
    await store.putBytes(orphan, Buffer.from('half a batch'), { contentType: 'application/gzip' });
    expect((await verifyArchive(store)).sources[0]!.pending).toEqual([orphan]);
    const recovered = await ledger.recover(SOURCE, state(one.head, { at: 1 }), lease());
    expect(recovered.head).toEqual(one.head);
    expect(recovered.removed).toContain(orphan);
    expect(await keys()).not.toContain(orphan);
    expect((await verifyArchive(store)).problems).toEqual([]);
  });

  it('fences out a writer whose lease was lost before its manifest: its object is removed', async () => {
    const stale = lease();
    const one = await commit(stale, null, 'one', 1);
    stale.revoke();
    await expect(commit(stale, one.head, 'two', 2)).rejects.toBeInstanceOf(LeaseLostError);
    expect((await keys()).filter((k) => k.endsWith('.ndjson.gz'))).toHaveLength(1);
    expect((await verifyArchive(store)).problems).toEqual([]);
  });

  it('keeps one manifest per number when a stale writer and the new holder both commit it', async () => {
    const stale = lease();
    const one = await commit(stale, null, 'one', 1);
    const fresh = lease();
    // Both start from head #1; the stale one passed its lease check just before losing the lease.
    const theirs = await commit(stale, one.head, 'stale-two', 2);
    const ours = await commit(fresh, one.head, 'fresh-two', 2);
    expect((await verifyArchive(store)).problems.map((p) => p.kind)).toContain('manifest-duplicate');
    // The new holder's checkpoint names its own manifest; recovery removes the other claimant.
    const recovered = await ledger.recover(SOURCE, state(ours.head, { at: 2 }), lease());
    expect(recovered.head).toEqual(ours.head);
    expect(recovered.removed).toEqual(expect.arrayContaining([theirs.key, theirs.head.key]));
    const report = await verifyArchive(store);
    expect(report.problems).toEqual([]);
    expect(report.sources[0]!.records).toBe(6);
  });

  it('prefers the claimant the chain continues through, then the newest token, when the cache is gone', async () => {
    const a = lease();
    const one = await commit(a, null, 'one', 1);
    const b = lease();
    const older = await commit(a, one.head, 'older', 2);
    const newer = await commit(b, one.head, 'newer', 2);
    const three = await commit(a, older.head, 'three', 3); // the chain continues through the older one
    const recovered = await ledger.recover(SOURCE, undefined, lease());
    expect(recovered.head).toEqual(three.head);
    const left = await keys();
    expect(left).not.toContain(newer.key);
    expect(left).toContain(older.key);
    expect((await verifyArchive(store)).problems).toEqual([]);
  });

  it("a stale holder's recovery deletes nothing of a newer holder: it stops with LeaseLostError", async () => {
    const stale = lease();
    const one = await commit(stale, null, 'one', 1);
    const fresh = lease();
    // The newer holder is mid-commit: intent and object written, manifest not yet.
    const upload = `${SOURCE}/2026/01/01/${SOURCE}-0000000002-${fresh.token}.ndjson.gz`;
    await store.putBytes(intentKey(SOURCE, 2, fresh.token), Buffer.from(JSON.stringify({ key: upload })), {
      contentType: 'application/json',
    });
    await store.putBytes(upload, Buffer.from("the newer holder's batch"), { contentType: 'application/gzip' });
    // The stale holder wakes from a pause longer than its lease and recovers.
    await expect(ledger.recover(SOURCE, state(one.head, { at: 1 }), stale)).rejects.toBeInstanceOf(LeaseLostError);
    expect(await keys()).toEqual(expect.arrayContaining([upload, intentKey(SOURCE, 2, fresh.token)]));
  });

  it('a fenced-out writer withdraws a manifest whose object the new holder already removed', async () => {
    const stale = lease();
    const one = await commit(stale, null, 'one', 1);
    const two = await commit(stale, one.head, 'two', 2);
    await store.delete(two.key); // the new holder's recovery removed the upload
    await ledger.withdraw(SOURCE, two.head, two.key);
    expect(await keys()).not.toContain(two.head.key);
    expect((await verifyArchive(store)).problems).toEqual([]);
  });

  it("removes a fenced-out writer's late manifest that landed below the head after the holder moved on", async () => {
    const stale = lease();
    const one = await commit(stale, null, 'one', 1);
    const fresh = lease();
    // The stale writer's #2 lands after the new holder committed #2 and #3, and its object is
    // gone (the new holder's recovery removed it with its intent); the stale writer then died.
    const two = await commit(fresh, one.head, 'two', 2);
    const three = await commit(fresh, two.head, 'three', 3);
    const late = await commit(stale, one.head, 'late-two', 2);
    await store.delete(late.key);
    expect((await verifyArchive(store)).problems.map((p) => p.kind)).toContain('manifest-duplicate');
    const recovered = await ledger.recover(SOURCE, state(three.head, { at: 3 }), lease());
    expect(recovered.head).toEqual(three.head);
    expect(recovered.removed).toContain(late.head.key);
    expect((await verifyArchive(store)).problems).toEqual([]);
  });

  it('rebuilds from storage when the cache names a manifest storage does not have', async () => {
    const l = lease();
    const one = await commit(l, null, 'one', 1);
    const bogus: HeadRef = { ...one.head, seq: 9, key: `_manifests/${SOURCE}/0000000009-${l.token}.json` };
    const recovered = await ledger.recover(SOURCE, state(bogus, { at: 99 }), lease());
    expect(recovered.head).toEqual(one.head);
    expect(recovered.position).toEqual({ at: 1 });
  });
});

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
