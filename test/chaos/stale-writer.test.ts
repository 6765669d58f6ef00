import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManifestLedger, verifyArchive, type SpooledBatch } from '../../src/archive/index.js';
import type { HeadRef, SourceState } from '../../src/checkpoints/index.js';
import { formatToken, type Lease } from '../../src/leases/index.js';
import { silentLogger } from '../../src/observability/index.js';
import { FileObjectStore } from '../../src/storage/index.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';

/**
 * The one window fencing cannot close: a writer passes its lease check, then freezes (GC pause,
 * VM freeze) past its TTL and writes its manifest after the next holder has recovered. These
 * interleavings are driven step by step, because a random freeze rarely lands in them.
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
  const batch = (name: string): SpooledBatch => {
    const path = join(dir, `${name}.spool`);
    writeFileSync(path, `bytes of ${name}`);
    return {
      path,
      sha256: sha(`bytes of ${name}`),
      bytes: Buffer.byteLength(`bytes of ${name}`),
      records: 3,
      firstId: `${name}:0`,
      lastId: `${name}:2`,
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
      requestIds: [],
    });
  const state = (head: HeadRef | null): SourceState => ({ head, position: undefined, updatedAt: new Date().toISOString() });
  const outcomes: string[] = [];
  const problems = async (): Promise<string[]> => {
    const found = (await verifyArchive(store)).problems.map((p) => `${p.kind} ${p.key}`);
    outcomes.push(`${found.length} problems`);
    return found;
  };

  beforeEach(() => {
    dir = makeTempDir('stale-writer');
    store = new FileObjectStore({ path: join(dir, 'archive') });
    ledger = new ManifestLedger(store, {
      hmacKey: undefined,
      logger: silentLogger(),
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 1000 },
      writer: 'test',
    });
  });
  afterEach(() => removeTempDir(dir));
  afterAll(() =>
    console.log(
      `chaos stale writer: ${outcomes.length} interleavings (late manifest before/after the new holder's #n, adopted), verify after each: ${outcomes.join(', ')}`,
    ),
  );

  it('its late manifest does not outlive the next holder committing past it (withdraw found no sibling yet)', async () => {
    const l1 = lease();
    const one = await commit(l1, null, 'one', 1);

    // The old holder starts #2, passes its check and freezes.
    const stale = lease(true);
    const frozen = commit(stale, one.head, 'stale-two', 2);
    await stale.checked;

    // Its lease expires; the next holder recovers from the cache (head #1): the frozen writer's
    // intent is uncommitted, so its object goes.
    const next = lease();
    const recovered = await ledger.recover(SOURCE, state(one.head), next);
    expect(recovered.head?.seq).toBe(1);

    // The frozen writer wakes up and writes its manifest #2; its checkpoint save is refused
    // (fenced) and it withdraws — but the new holder has not written #2 yet: no sibling, it stays.
    stale.thaw();
    const late = await frozen;
    await ledger.withdraw(SOURCE, late.head, late.key);

    // The new holder commits #2 and #3 in the same drain; the cache says #3.
    const two = await commit(next, recovered.head, 'two', 2);
    const three = await commit(next, two.head, 'three', 3);

    // Every later recovery starts from the cached head (#3)...
    const after = lease();
    const again = await ledger.recover(SOURCE, state(three.head), after);
    expect(again.head?.key).toBe(three.head.key);
    // ...and the archive verifies: the stale manifest is gone, not left to be reported forever.
    expect(await problems()).toEqual([]);
  });

  it('its late manifest is removed when the new holder had already written the same number (withdraw finds the sibling)', async () => {
    const one = await commit(lease(), null, 'one', 1);
    const stale = lease(true);
    const frozen = commit(stale, one.head, 'stale-two', 2);
    await stale.checked;
    const next = lease();
    const recovered = await ledger.recover(SOURCE, state(one.head), next);
    const two = await commit(next, recovered.head, 'two', 2);
    stale.thaw();
    const late = await frozen;
    await ledger.withdraw(SOURCE, late.head, late.key);
    await commit(next, two.head, 'three', 3);
    expect(await problems()).toEqual([]);
  });

  it('a stale manifest the new holder adopted (it landed before the recovery looked) stays and is chained to', async () => {
    const one = await commit(lease(), null, 'one', 1);
    const stale = lease(true);
    const frozen = commit(stale, one.head, 'stale-two', 2);
    await stale.checked;
    stale.thaw();
    const late = await frozen;
    const next = lease();
    const recovered = await ledger.recover(SOURCE, state(one.head), next);
    expect(recovered.head?.key).toBe(late.head.key);
    // The stale writer's fenced save fails; withdraw keeps it (the new holder chains to it).
    await ledger.withdraw(SOURCE, late.head, late.key);
    await commit(next, recovered.head, 'three', 3);
    expect(await problems()).toEqual([]);
    const report = await verifyArchive(store);
    expect(report.sources[0]?.records).toBe(9);
  });
});

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
