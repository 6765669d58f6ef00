import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ManifestLedger, verifyArchive, type SpooledBatch } from '../../src/archive/index.js';
import { CommitConflictError } from '../../src/errors/index.js';
import type { HeadRef, SourceState } from '../../src/checkpoints/index.js';
import { formatToken, type Lease } from '../../src/leases/index.js';
import { FileObjectStore } from '../../src/storage/index.js';
import { spooledBatch, testLedger } from '../helpers/ledger-fixture.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/**
 * The one window fencing cannot close: a writer passes its lease check, then freezes (GC pause,
 * VM freeze) past its TTL and writes its manifest after the next holder has recovered. Storage
 * decides (one manifest per number, created create-only): whichever lands first wins, the other
 * is told so. These interleavings are driven step by step, because a random freeze rarely lands in them.
 */

/** A lease whose check passes, then holds the caller until `thaw()`: the freeze after the check. */
class FreezingLease implements Lease {
  readonly #controller = new AbortController();
  #thaw: (() => void) | undefined;
  readonly checked: Promise<void>;
  #checked!: () => void;
  constructor(
    readonly source: string,
    readonly token: string,
    private readonly freeze: boolean,
  ) {
    this.checked = new Promise((resolve) => (this.#checked = resolve));
  }
  get signal(): AbortSignal {
    return this.#controller.signal;
  }
  thaw(): void {
    this.#thaw?.();
  }
  async check(): Promise<void> {
    if (this.#controller.signal.aborted) throw this.#controller.signal.reason;
    this.#checked();
    if (this.freeze) await new Promise<void>((resolve) => (this.#thaw = resolve));
  }
  async release(): Promise<void> {}
}

const SOURCE = 'stale-src';

describe('chaos: a stale writer frozen between its lease check and its manifest', () => {
  let dir: string;
  let store: FileObjectStore;
  let ledger: ManifestLedger;
  let tokens = 5_000;

  const lease = (freeze = false): FreezingLease => new FreezingLease(SOURCE, formatToken(++tokens), freeze);
  const batch = (name: string): SpooledBatch => spooledBatch(dir, name);
  const commit = async (l: Lease, head: HeadRef | null, name: string, after: number) =>
    ledger.commit({
      source: SOURCE,
      provider: 'p',
      lease: l,
      head,
      batch: batch(name),
      checkpointBefore: { at: after - 1 },
      checkpointAfter: { at: after },
      requestIds: [],
    });
  const state = (head: HeadRef | null): SourceState => ({ head, checkpoint: undefined, updatedAt: new Date().toISOString() });
  const outcomes: string[] = [];
  const problems = async (): Promise<string[]> => {
    const report = await verifyArchive(store);
    const found = report.problems.map((p) => `${p.kind} ${p.key}`);
    outcomes.push(`${found.length} problems, ${report.sources[0]?.records ?? 0} records`);
    return found;
  };
  const dataObjects = async (): Promise<number> => {
    let n = 0;
    for await (const item of store.list('')) if (item.key.endsWith('.ndjson.gz')) n += 1;
    return n;
  };

  beforeEach(() => {
    dir = makeTempDir('stale-writer');
    store = new FileObjectStore({ path: join(dir, 'archive') });
    ledger = testLedger(store);
  });
  afterEach(() => removeTempDir(dir));
  afterAll(() =>
    console.log(
      `chaos stale writer: ${outcomes.length} interleavings (late manifest after / before the new holder's #n, adopted), verify after each: ${outcomes.join(', ')}`,
    ),
  );

  it('its late manifest loses to the new holder’s #n (create-only): it learns so, and its object goes', async () => {
    const one = await commit(lease(), null, 'one', 1);
    const stale = lease(true);
    const frozen = commit(stale, one.head, 'stale-two', 2);
    await stale.checked;
    // Its lease expires; the next holder recovers from the cache (head #1). The frozen writer's
    // upload is left alone: nobody knows yet whether its manifest will land.
    const next = lease();
    const recovered = await ledger.recover(SOURCE, state(one.head), next);
    expect(recovered.head?.seq).toBe(1);
    const two = await commit(next, recovered.head, 'two', 2);
    await commit(next, two.head, 'three', 3);
    stale.thaw();
    await expect(frozen).rejects.toBeInstanceOf(CommitConflictError);
    expect(await problems()).toEqual([]);
    expect(await dataObjects()).toBe(3);
  });

  it('its late manifest wins #n when it lands first: the new holder’s commit of #n is refused and it goes on from the stale one', async () => {
    const one = await commit(lease(), null, 'one', 1);
    const stale = lease(true);
    const frozen = commit(stale, one.head, 'stale-two', 2);
    await stale.checked;
    const next = lease();
    const recovered = await ledger.recover(SOURCE, state(one.head), next);
    stale.thaw();
    const late = await frozen;
    await expect(commit(next, recovered.head, 'two', 2)).rejects.toBeInstanceOf(CommitConflictError);
    const again = await ledger.recover(SOURCE, state(recovered.head), next);
    expect(again.head).toEqual(late.head);
    await commit(next, again.head, 'three', 3);
    expect(await problems()).toEqual([]);
    expect((await verifyArchive(store)).sources[0]?.records).toBe(9);
    expect(await dataObjects()).toBe(3);
  });

  it('a stale manifest that landed before the recovery looked is adopted and chained to', async () => {
    const one = await commit(lease(), null, 'one', 1);
    const stale = lease(true);
    const frozen = commit(stale, one.head, 'stale-two', 2);
    await stale.checked;
    stale.thaw();
    const late = await frozen;
    const next = lease();
    const recovered = await ledger.recover(SOURCE, state(one.head), next);
    expect(recovered.head?.key).toBe(late.head.key);
    await commit(next, recovered.head, 'three', 3);
    expect(await problems()).toEqual([]);
    expect((await verifyArchive(store)).sources[0]?.records).toBe(9);
  });
});
