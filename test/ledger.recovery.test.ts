import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hmacSigningKey, KeyRing, layout, type ManifestLedger, verifyArchive, type SpooledBatch } from '../src/archive/index.js';
import type { HeadRef, SourceState } from '../src/checkpoints/index.js';
import { ArchiveTamperedError, CommitConflictError, LeaseLostError } from '../src/errors/index.js';
import { formatToken, type Lease } from '../src/leases/index.js';
import { FileObjectStore } from '../src/storage/index.js';
import { sha, spooledBatch, testLedger } from './helpers/ledger-fixture.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

/** A lease whose loss the test decides; the real ones are covered by the lease and chaos tests. */
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

describe('manifest ledger: commit and recovery', () => {
  let dir: string;
  let store: FileObjectStore;
  let ledger: ManifestLedger;
  let tokens = 1_000;

  const lease = (): TestLease => new TestLease(SOURCE, formatToken(++tokens));
  const batch = (name: string, records = 3): SpooledBatch => spooledBatch(dir, name, records);
  const commit = async (l: Lease, head: HeadRef | null, name: string, after: number, on: ManifestLedger = ledger) =>
    on.commit({
      source: SOURCE,
      provider: 'p',
      lease: l,
      head,
      batch: batch(name),
      checkpointBefore: { at: after - 1 },
      checkpointAfter: { at: after },
      requestIds: [`req-${name}`],
    });
  const state = (head: HeadRef | null, checkpoint: unknown): SourceState => ({ head, checkpoint, updatedAt: new Date().toISOString() });
  const keys = async (): Promise<string[]> => {
    const out: string[] = [];
    for await (const item of store.list('')) out.push(item.key);
    return out;
  };
  const dataKeys = async (): Promise<string[]> => (await keys()).filter((k) => k.endsWith('.ndjson.gz'));
  const makeLedger = (ring: KeyRing = KeyRing.none): ManifestLedger => testLedger(store, { keys: ring });
  const problems = async (ring?: KeyRing): Promise<string[]> =>
    (await verifyArchive(store, ring ? { keys: ring } : {})).problems.map((p) => `${p.kind} ${p.key}`);

  beforeEach(() => {
    dir = makeTempDir('ledger');
    store = new FileObjectStore({ path: join(dir, 'archive') });
    ledger = makeLedger();
  });
  afterEach(() => removeTempDir(dir));

  it('commits a hash chain that verify accepts, and resumes from the cached checkpoint', async () => {
    const l = lease();
    const one = await commit(l, null, 'one', 1);
    const two = await commit(l, one.head, 'two', 2);
    expect(two.head.seq).toBe(2);
    expect(two.head.key).toBe(layout.manifestKey(SOURCE, 2));
    expect(two.head.totals).toEqual({ records: 6, objects: 2 });
    const report = await verifyArchive(store);
    expect(report.problems).toEqual([]);
    expect(report.sources[0]).toMatchObject({ source: SOURCE, objects: 2, records: 6, manifests: 2, head: 2 });
    const recovered = await ledger.recover(SOURCE, state(two.head, { at: 7 }), lease());
    expect(recovered.head).toEqual(two.head);
    expect(recovered.checkpoint).toEqual({ at: 7 });
  });

  it('rolls forward over an entry committed just before a crash, when the cache still names the one before', async () => {
    const l = lease();
    const one = await commit(l, null, 'one', 1);
    const two = await commit(l, one.head, 'two', 2);
    const recovered = await ledger.recover(SOURCE, state(one.head, { at: 1 }), lease());
    expect(recovered.head).toEqual(two.head);
    expect(recovered.checkpoint).toEqual({ at: 2 });
  });

  it('rebuilds the head from storage when the cache is gone (Redis flushed), reading the top only', async () => {
    const l = lease();
    let head: HeadRef | null = null;
    for (let i = 1; i <= 9; i += 1) head = (await commit(l, head, `b${i}`, i)).head;
    const recovered = await ledger.recover(SOURCE, undefined, lease());
    expect(recovered.head).toEqual(head);
    expect(recovered.checkpoint).toEqual({ at: 9 });
    expect(recovered.maxToken).toBe(l.token);
  });

  it('two writers of one number: exactly one wins, the loser discards its object and learns the head moved', async () => {
    const a = lease();
    const one = await commit(a, null, 'one', 1);
    const b = lease();
    const ours = await commit(b, one.head, 'b-two', 2);
    await expect(commit(a, one.head, 'a-two', 2)).rejects.toBeInstanceOf(CommitConflictError);
    expect(await dataKeys()).toEqual(expect.arrayContaining([ours.key]));
    expect(await dataKeys()).toHaveLength(2);
    expect(await problems()).toEqual([]);
    const recovered = await ledger.recover(SOURCE, state(one.head, { at: 1 }), a);
    expect(recovered.head).toEqual(ours.head);
  });

  it('an upload that crashed before its manifest stays while its number is open (in flight), and goes once the number is committed', async () => {
    const l = lease();
    const one = await commit(l, null, 'one', 1);
    const crashed = lease();
    const orphan = layout.dataKey(SOURCE, 2, crashed.token, new Date());
    await store.putBytes(layout.intentKey(SOURCE, 2, crashed.token), intentBody(2, crashed.token, orphan), {
      contentType: 'application/json',
    });
    await store.putBytes(orphan, Buffer.from('half a batch'), { contentType: 'application/gzip' });
    expect((await verifyArchive(store)).sources[0]!.pending).toEqual([orphan]);
    // The writer may still be alive and about to write manifest #2: nothing is removed yet.
    const next = lease();
    const recovered = await ledger.recover(SOURCE, state(one.head, { at: 1 }), next);
    expect(recovered.head).toEqual(one.head);
    expect(await keys()).toContain(orphan);
    // The next holder commits #2: the crashed upload can never be adopted now and is removed.
    await commit(next, recovered.head, 'two', 2);
    expect(await keys()).not.toContain(orphan);
    expect(await problems()).toEqual([]);
  });

  it('a zombie upload landing after the number was committed and its intent cleaned is swept from the date folder', async () => {
    const l = lease();
    const one = await commit(l, null, 'one', 1);
    const two = await commit(l, one.head, 'two', 2);
    const zombie = layout.dataKey(SOURCE, 2, formatToken(5), new Date());
    await store.putBytes(zombie, Buffer.from('records also in #2'), { contentType: 'application/gzip' });
    expect(await problems()).toEqual([`object-without-manifest ${zombie}`]);
    const recovered = await ledger.recover(SOURCE, state(two.head, { at: 2 }), lease());
    expect(recovered.removed).toEqual([zombie]);
    expect(await problems()).toEqual([]);
  });

  it('fences out a writer whose lease was lost before its manifest: its object is removed', async () => {
    const stale = lease();
    const one = await commit(stale, null, 'one', 1);
    stale.revoke();
    await expect(commit(stale, one.head, 'two', 2)).rejects.toBeInstanceOf(LeaseLostError);
    expect(await dataKeys()).toHaveLength(1);
    expect(await problems()).toEqual([]);
  });

  it('a cut tail (newest entry and object deleted) stops the source and stays recorded after the cache is lost', async () => {
    const l = lease();
    const one = await commit(l, null, 'one', 1);
    const two = await commit(l, one.head, 'two', 2);
    const three = await commit(l, two.head, 'three', 3);
    await store.delete(three.head.key);
    await store.delete(three.key);
    const error = await ledger.recover(SOURCE, state(three.head, { at: 3 }), lease()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveTamperedError);
    expect((error as ArchiveTamperedError).problems.join()).toContain('#3');
    // Nothing was archived over it; the finding is in the chain, above the cut.
    expect((await keys()).filter((k) => k.startsWith('_manifests/'))).toEqual([one.head.key, two.head.key, layout.manifestKey(SOURCE, 4)]);
    // The cache is lost (Redis flushed): recovery still refuses, and verify names the loss.
    await expect(ledger.recover(SOURCE, undefined, lease())).rejects.toBeInstanceOf(ArchiveTamperedError);
    const found = await problems();
    expect(found).toContain(`manifest-missing ${layout.manifestKey(SOURCE, 3)}`);
    expect(found).toContain(`finding ${layout.manifestKey(SOURCE, 4)}`);
  });

  it('the newest object deleted (its manifest intact) stops the source; the manifest, the evidence, stays', async () => {
    const l = lease();
    const one = await commit(l, null, 'one', 1);
    const two = await commit(l, one.head, 'two', 2);
    await store.delete(two.key);
    await expect(ledger.recover(SOURCE, state(two.head, { at: 2 }), lease())).rejects.toBeInstanceOf(ArchiveTamperedError);
    await expect(ledger.recover(SOURCE, undefined, lease())).rejects.toBeInstanceOf(ArchiveTamperedError);
    expect(await keys()).toContain(two.head.key);
    expect(await problems()).toEqual([`object-missing ${two.key}`]);
  });

  it('a hole below the head stops the source even without a cache', async () => {
    const l = lease();
    let head: HeadRef | null = null;
    for (let i = 1; i <= 5; i += 1) head = (await commit(l, head, `b${i}`, i)).head;
    await store.delete(layout.manifestKey(SOURCE, 3));
    await expect(ledger.recover(SOURCE, undefined, lease())).rejects.toBeInstanceOf(ArchiveTamperedError);
    await expect(ledger.recover(SOURCE, state(head, { at: 5 }), lease())).rejects.toBeInstanceOf(ArchiveTamperedError);
  });

  it('an acknowledgement lets the source go on from the last intact entry, and verify reports the loss as acknowledged', async () => {
    const l = lease();
    const one = await commit(l, null, 'one', 1);
    const two = await commit(l, one.head, 'two', 2);
    const three = await commit(l, two.head, 'three', 3);
    await store.delete(three.head.key);
    await store.delete(three.key);
    await expect(ledger.recover(SOURCE, state(three.head, { at: 3 }), lease())).rejects.toBeInstanceOf(ArchiveTamperedError);
    const acked = await ledger.acknowledge(SOURCE, three.head, { reason: 'restored from backup, #3 lost', by: 'test', extra: [] });
    expect(acked.head.seq).toBe(5);
    expect(acked.entry).toMatchObject({ kind: 'acknowledgement', anchor: { seq: 2 }, covers: { seqs: [3, 4] } });
    const recovered = await ledger.recover(SOURCE, state(acked.head, undefined), lease());
    expect(recovered.head).toEqual(acked.head);
    expect(recovered.checkpoint).toEqual({ at: 2 });
    // Without the cache too.
    expect((await ledger.recover(SOURCE, undefined, lease())).checkpoint).toEqual({ at: 2 });
    const next = await commit(l, recovered.head, 'three-again', 3);
    expect(next.head.seq).toBe(6);
    const report = await verifyArchive(store);
    expect(report.problems).toEqual([]);
    expect(report.acknowledged.map((p) => p.kind).sort()).toEqual(['finding', 'manifest-missing']);
  });

  it('never treats an entry signed by a key it does not know as absent (rotation, then the cache lost)', async () => {
    const old = makeLedger(new KeyRing(hmacSigningKey('2026-06', Buffer.from('old secret'))));
    const l = lease();
    const one = await commit(l, null, 'one', 1, old);
    const two = await commit(l, one.head, 'two', 2, old);
    const rotated = makeLedger(new KeyRing(hmacSigningKey('2026-12', Buffer.from('new secret'))));
    const recovered = await rotated.recover(SOURCE, undefined, lease());
    expect(recovered.head).toEqual(two.head);
    expect(recovered.checkpoint).toEqual({ at: 2 });
    await commit(l, recovered.head, 'three', 3, rotated);
    const both = new KeyRing(
      hmacSigningKey('2026-12', Buffer.from('new secret')),
      new Map([['2026-06', hmacSigningKey('2026-06', Buffer.from('old secret'))]]),
    );
    expect(await problems(both)).toEqual([]);
  });

  it('a forged entry (a valid key id, a wrong signature) above the head stops the source', async () => {
    const ring = new KeyRing(hmacSigningKey('k1', Buffer.from('secret')));
    const signed = makeLedger(ring);
    const l = lease();
    const one = await commit(l, null, 'one', 1, signed);
    const forger = makeLedger(new KeyRing(hmacSigningKey('k1', Buffer.from('guessed'))));
    await commit(l, one.head, 'forged', 2, forger);
    await expect(signed.recover(SOURCE, state(one.head, { at: 1 }), lease())).rejects.toBeInstanceOf(ArchiveTamperedError);
    expect(await problems(ring)).toEqual([`manifest-altered ${layout.manifestKey(SOURCE, 2)}`]);
  });
});

function intentBody(seq: number, token: string, key: string): Buffer {
  return Buffer.from(
    JSON.stringify({ version: 2, source: SOURCE, seq, token, key, sha256: '0'.repeat(64), bytes: 1, at: new Date().toISOString() }),
  );
}

describe('digests: the tail witnessed without any cache', () => {
  let dir: string;
  let store: FileObjectStore;
  const lease: Lease = {
    source: 'dg',
    token: formatToken(77),
    signal: new AbortController().signal,
    check: async () => undefined,
    release: async () => undefined,
  };

  beforeEach(() => {
    dir = makeTempDir('digests');
    store = new FileObjectStore({ path: join(dir, 'archive') });
  });
  afterEach(() => removeTempDir(dir));

  const ledgerWith = (intervalMs: number): ManifestLedger => testLedger(store, { digestIntervalMs: intervalMs });
  const commitOn = async (ledger: ManifestLedger, head: HeadRef | null, name: string) => {
    const path = join(dir, name);
    writeFileSync(path, name);
    return await ledger.commit({
      source: 'dg',
      provider: 'p',
      lease,
      head,
      batch: { path, sha256: sha(name), bytes: name.length, records: 1, firstId: name, lastId: name },
      checkpointBefore: null,
      checkpointAfter: { at: name },
      requestIds: [],
    });
  };

  it('writes a digest when due (also with nothing new), chains them, and one witnesses a cut tail after the cache is lost', async () => {
    const ledger = ledgerWith(60_000);
    const one = await commitOn(ledger, null, 'one');
    expect(await ledger.digestIfDue('dg', one.head)).toBe(true);
    // Not due again within half the interval.
    expect(await ledger.digestIfDue('dg', one.head)).toBe(false);
    const two = await commitOn(ledger, one.head, 'two');
    const fast = ledgerWith(2);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await fast.digestIfDue('dg', two.head)).toBe(true);
    expect((await verifyArchive(store)).sources[0]).toMatchObject({ digests: 2, head: 2 });
    expect((await verifyArchive(store)).problems).toEqual([]);
    // Tail cut, and no cache anywhere (an auditor's machine, a flushed Redis).
    await store.delete(two.head.key);
    await store.delete(two.key);
    const found = (await verifyArchive(store)).problems.map((p) => `${p.kind} ${p.key}`);
    expect(found).toContain(`manifest-missing ${layout.manifestKey('dg', 2)}`);
    await expect(ledgerWith(60_000).recover('dg', undefined, lease)).rejects.toBeInstanceOf(ArchiveTamperedError);
    // The finding is in the chain now; acknowledged, the source goes on.
    const acked = await ledger.acknowledge('dg', null, { reason: 'test', by: 'test', extra: [] });
    expect(acked.entry).toMatchObject({ kind: 'acknowledgement', anchor: { seq: 1 } });
    expect((await ledgerWith(60_000).recover('dg', undefined, lease)).head?.seq).toBe(acked.head.seq);
  });
});
