import type { CompletenessFigure } from '../completeness/index.js';
import {
  ArchiverError,
  ArchiveFormatError,
  ArchiveTamperedError,
  CommitConflictError,
  ObjectExistsError,
  StorageError,
} from '../errors/index.js';
import { failpoint, failpointDuring } from '../failpoints.js';
import { withRetry, type RetryPolicy } from '../http/index.js';
import type { HeadRef, SourceState } from '../checkpoints/index.js';
import type { Lease } from '../leases/index.js';
import type { Logger } from '../observability/index.js';
import type { ObjectStore } from '../storage/index.js';
import { newestDigest, writeDigest, type ReadDigest } from './digest.js';
import { probeHighest } from './probe.js';
import { parseIntent, encodeIntent } from './intent.js';
import {
  dataFolder,
  digestKey as digestKeyOf,
  dataKey,
  dataListStart,
  intentKey,
  intentPrefix,
  intentSeqPrefix,
  manifestKey,
  manifestListStart,
  manifestPrefix,
  parseDataKey,
  parseIntentKey,
  parseManifestKey,
} from './layout.js';
import { decodeEntry, encodeEntry, type ChainEntry, type DataManifest, type UnsignedEntry } from './manifest.js';
import type { OwnerGuard } from './owner.js';
import type { KeyRing } from './signing.js';

/** A finished, spooled batch ready to be uploaded. */
export interface SpooledBatch {
  path: string;
  sha256: string;
  bytes: number;
  records: number;
  firstId: string;
  lastId: string;
}

export interface CommitRequest {
  source: string;
  provider: string;
  lease: Lease;
  head: HeadRef | null;
  batch: SpooledBatch;
  checkpointBefore: unknown;
  checkpointAfter: unknown;
  requestIds: string[];
  /** Provider-stated totals of the object's streams, recorded in the manifest when given. */
  completeness?: CompletenessFigure[] | undefined;
}

/** Where recovery found a source: the committed head and the checkpoint to resume from. */
export interface Recovered {
  head: HeadRef | null;
  /** Provider checkpoint to resume from; undefined means the provider's initial checkpoint. */
  checkpoint: unknown;
  /** Keys removed as debris of crashed or outraced writers. */
  removed: string[];
  /** The largest fencing token storage shows for the source (data keys, intents): a new token must exceed it. */
  maxToken: string;
}

export interface LedgerOptions {
  keys: KeyRing;
  /** Checked before every recovery: a deployment that does not own the prefix archives nothing. */
  owner?: OwnerGuard;
  /** A signed digest of each source's head at least this often (written by drains when due). @defaultValue 1 h */
  digestIntervalMs?: number;
  logger: Logger;
  /** Backoff for storage writes; an S3 outage of minutes is waited out. */
  retry: RetryPolicy;
  writer: string;
}

/** How far below the head recovery checks the chain for holes (verify checks all of it). */
const HOLE_WINDOW = 64;
/** How far below the head the date folders are swept for orphaned data objects. */
const SWEEP_WINDOW = 32;

/** A listed chain entry, loaded on demand. */
interface Slot {
  seq: number;
  key: string;
  loaded?: { entry: ChainEntry; sha256: string } | { problem: string };
}

/** What recovery (or acknowledge) learnt about a source's chain near its head. */
export interface Assessment {
  /** Highest entry number storage has (0: none). */
  top: number;
  slots: Map<number, Slot>;
  problems: { seq: number; text: string; key?: string }[];
  /** Entry numbers that acknowledgements near the head cover. */
  covered: Set<number>;
  /** Keys (objects, digests) that acknowledgements near the head cover. */
  coveredKeys: Set<string>;
  known: HeadRef | null;
  /** True when a witness (the cache, the newest digest) knew a head that storage lacks or holds altered. */
  witnessContradicted: boolean;
  /** The head the contradicted witness recorded, for the finding. */
  expected?: { seq: number; sha256: string; witness: string; totals: { records: number; objects: number } };
}

/**
 * The system of record for a source's progress: data objects and the hash chain of entries that
 * describe them, in storage. The checkpoint store only caches what this finds, and is checked
 * against it on every recovery.
 *
 * Commit protocol for entry n (holding a lease with token T; see docs/guarantees.md):
 *   intent(n,T) → data object (key carries n and T, create-only) → lease check → manifest n (create-only)
 * Whoever creates manifest n first wins the number, whatever coordinator it uses; a loser
 * discards its object and re-reads the head. A data object is removed only when the manifest of
 * its number names another object, so nothing a late manifest could still adopt is ever removed,
 * and no committed entry or object is ever removed at all.
 */
export class ManifestLedger {
  /** The newest digest seen per source, so that each drain lists only digests after it. */
  readonly #digests = new Map<string, ReadDigest>();

  constructor(
    private readonly store: ObjectStore,
    private readonly options: LedgerOptions,
  ) {}

  /**
   * Writes a signed digest of `head` when the newest digest is older than half the interval
   * (so that, with drains at least that often, no gap exceeds the interval). Called after every
   * drain, also one that found nothing new. Best effort: a digest not written shows as a gap.
   */
  async digestIfDue(source: string, head: HeadRef | null, signal?: AbortSignal): Promise<boolean> {
    const intervalMs = this.options.digestIntervalMs ?? 3_600_000;
    try {
      const newest = await this.#newestDigest(source, signal);
      if (newest && 'problem' in newest) return false; // recovery stops such a source
      if (newest && Date.now() - Date.parse(newest.digest.writtenAt) < intervalMs / 2) return false;
      const n = (newest?.digest.n ?? 0) + 1;
      const digest = {
        version: 1 as const,
        kind: 'digest' as const,
        source,
        n,
        prev: newest?.sha256 ?? null,
        head: head ? { seq: head.seq, sha256: head.sha256, key: head.key } : null,
        totals: head?.totals ?? { records: 0, objects: 0 },
        writtenAt: new Date().toISOString(),
        intervalMs,
        writer: this.options.writer,
      };
      const { written, sha256 } = await this.#retry(() => writeDigest(this.store, this.options.keys, digest), signal);
      this.#digests.delete(source);
      if (written) this.#digests.set(source, { digest, sha256, signature: 'valid', key: '' });
      return written;
    } catch (error) {
      this.options.logger.warn({ source, err: errorSummary(error) }, 'could not write the digest; the next drain tries again');
      return false;
    }
  }

  async #newestDigest(source: string, signal: AbortSignal | undefined): Promise<ReadDigest | { problem: string; key: string } | undefined> {
    const known = this.#digests.get(source);
    const found = await this.#retry(() => newestDigest(this.store, this.options.keys, source, known?.digest.n ?? 0), signal);
    if (found && 'digest' in found) this.#digests.set(source, found);
    return found ?? known;
  }

  /**
   * Finds the committed head of `source`, checks it against the cached one, and sweeps debris of
   * crashed and outraced writers near it. Throws ArchiveTamperedError, archiving and removing
   * nothing, when storage lacks or contradicts what was committed.
   */
  async recover(source: string, cached: SourceState | undefined, lease: Lease, signal?: AbortSignal): Promise<Recovered> {
    await this.#retry(async () => await this.options.owner?.assert(), signal);
    const assessment = await this.assess(source, cached?.head ?? null, signal);
    if (assessment.problems.length > 0) {
      if (assessment.witnessContradicted) await this.#recordFinding(source, assessment, signal);
      throw new ArchiveTamperedError(
        source,
        assessment.problems.map((p) => p.text),
      );
    }
    const top = assessment.top > 0 ? assessment.slots.get(assessment.top) : undefined;
    const topEntry = top ? this.#entryOf(top) : undefined;
    const head = top && topEntry ? toRef(top, topEntry) : null;
    // The cached checkpoint may be ahead of the head's (pages without records): it counts only
    // while the cache and storage agree on the head.
    const known = cached?.head ?? null;
    const agree = known === null ? head === null : head !== null && known.key === head.key && known.sha256 === head.sha256;
    let checkpoint: unknown;
    if (agree && cached?.checkpoint !== undefined) checkpoint = cached.checkpoint;
    else if (topEntry) checkpoint = topEntry.entry.checkpointAfter ?? undefined;
    const removed: string[] = [];
    let maxToken = topEntry?.entry.kind === 'data' ? topEntry.entry.token : '';
    maxToken = await this.#sweepIntents(source, assessment, lease.token, removed, maxToken, signal);
    await this.#sweepFolders(source, assessment, cached, removed, signal);
    if (removed.length > 0) this.options.logger.warn({ source, removed }, 'removed debris of interrupted writers');
    return { head, checkpoint, removed, maxToken };
  }

  /**
   * Reads the chain near its head (near the cached head `known`, when given) and lists what is
   * wrong with it: a cached head storage lacks or holds altered, a hole, a broken link, an entry
   * that does not parse or whose signature fails, a head whose object is gone, an unacknowledged
   * finding. Acknowledged damage is not listed.
   */
  async assess(source: string, known: HeadRef | null, signal?: AbortSignal): Promise<Assessment> {
    // The newest digest witnesses the head without any cache (an auditor's machine, a flushed Redis).
    const digest = await this.#newestDigest(source, signal);
    const witnessed = digest && 'digest' in digest ? digest.digest.head : null;
    const floor = Math.max(known?.seq ?? 0, witnessed?.seq ?? 0);
    const from = floor > 0 ? Math.max(0, floor - HOLE_WINDOW) : Math.max(0, (await this.#probeTop(source, signal)) - HOLE_WINDOW);
    const { slots, top, holes } = await this.#scan(source, from, signal);
    const assessment: Assessment = {
      top,
      slots,
      problems: [],
      covered: new Set(),
      coveredKeys: new Set(),
      known,
      witnessContradicted: false,
    };
    const problem = (seq: number, text: string, key?: string): void => {
      assessment.problems.push({ seq, text, ...(key !== undefined ? { key } : {}) });
    };
    // Load what matters: the cached head and everything above it, or (without one) the top; and
    // everything above the lowest hole, where an acknowledgement covering it would be.
    let lowest = top;
    if (known) lowest = Math.min(lowest, known.seq);
    if (holes.length > 0) lowest = Math.min(lowest, holes[0]!);
    for (let seq = Math.max(1, lowest); seq <= top; seq += 1) {
      const slot = slots.get(seq);
      if (slot) await this.#load(slot, signal);
    }
    for (const slot of slots.values()) {
      const loaded = slot.loaded;
      if (loaded && 'entry' in loaded && loaded.entry.kind === 'acknowledgement') {
        for (const seq of loaded.entry.covers.seqs) assessment.covered.add(seq);
        for (const key of loaded.entry.covers.objects) assessment.coveredKeys.add(key);
      }
    }
    const covered = assessment.covered;
    if (known && known.seq <= top && !slots.has(known.seq) && !holes.includes(known.seq)) {
      // Far below the top (another writer went on a long way): read it directly.
      const direct = await this.#slotOf(source, known.seq, signal);
      if (direct) {
        await this.#load(direct, signal);
        slots.set(known.seq, direct);
      }
    }
    if (known) {
      const slot = slots.get(known.seq);
      const entry = slot ? this.#entryOf(slot) : undefined;
      if (known.seq > top) {
        assessment.witnessContradicted = true;
        problem(
          known.seq,
          `the checkpoint cache records entry #${known.seq} as committed but storage ends at #${top}: the newest entries were deleted`,
        );
      } else if (!slot && !covered.has(known.seq)) {
        assessment.witnessContradicted = true;
        problem(known.seq, `the checkpoint cache records entry #${known.seq} (${known.key}) as committed but storage lacks it`);
      } else if (slot && entry && entry.sha256 !== known.sha256 && !covered.has(known.seq)) {
        assessment.witnessContradicted = true;
        problem(
          known.seq,
          `entry #${known.seq} differs from the one committed (SHA-256 ${known.sha256.slice(0, 16)}… in the checkpoint cache)`,
        );
      }
    }
    if (known && assessment.witnessContradicted) {
      assessment.expected = { seq: known.seq, sha256: known.sha256, witness: 'checkpoint cache', totals: known.totals };
    }
    if (digest && 'problem' in digest) {
      if (!assessment.coveredKeys.has(digest.key)) problem(0, `digest ${digest.key} ${digest.problem}`, digest.key);
    } else if (digest && digest.signature === 'invalid') {
      if (!assessment.coveredKeys.has(digest.key))
        problem(0, `digest ${digest.key} has a signature that does not verify: altered`, digest.key);
    } else if (digest && witnessed && !covered.has(witnessed.seq)) {
      const label = `digest #${digest.digest.n} (${digest.digest.writtenAt})`;
      let text: string | undefined;
      if (witnessed.seq > top) text = `${label} names entry #${witnessed.seq} but storage ends at #${top}: the newest entries were deleted`;
      else {
        const named = slots.get(witnessed.seq) ?? (await this.#slotOf(source, witnessed.seq, signal));
        if (named) await this.#load(named, signal);
        const namedEntry = named ? this.#entryOf(named) : undefined;
        if (!named) text = `${label} names entry #${witnessed.seq}, which storage lacks`;
        else if (namedEntry && namedEntry.sha256 !== witnessed.sha256) text = `entry #${witnessed.seq} differs from the one ${label} names`;
      }
      if (text) {
        problem(witnessed.seq, text);
        assessment.witnessContradicted = true;
        assessment.expected ??= {
          seq: witnessed.seq,
          sha256: witnessed.sha256,
          witness: digestKeyOf(source, digest.digest.n),
          totals: digest.digest.totals,
        };
      }
    }
    for (const seq of holes) {
      if (!covered.has(seq)) problem(seq, `entry #${seq} is missing: a hole in the chain below the head #${top}`);
    }
    for (let seq = Math.max(1, lowest); seq <= top; seq += 1) {
      const slot = slots.get(seq);
      if (!slot?.loaded) continue;
      if ('problem' in slot.loaded) {
        if (!covered.has(seq)) problem(seq, `entry #${seq} (${slot.key}) ${slot.loaded.problem}`);
        continue;
      }
      const { entry } = slot.loaded;
      const below = slots.get(seq - 1);
      const belowEntry = below ? this.#entryOf(below) : undefined;
      if (entry.kind === 'data' && seq > 1 && belowEntry && !covered.has(seq - 1) && entry.prev !== belowEntry.sha256) {
        problem(seq, `entry #${seq} does not chain to #${seq - 1}: one of the two was altered or replaced`);
      }
      if (entry.kind === 'data' && seq === 1 && entry.prev !== null) problem(seq, 'entry #1 names a predecessor');
    }
    const head = top > 0 ? slots.get(top) : undefined;
    const headEntry = head ? this.#entryOf(head) : undefined;
    if (headEntry?.entry.kind === 'finding' && !covered.has(top)) {
      problem(top, `entry #${top} records damage found ${headEntry.entry.writtenAt}: ${headEntry.entry.problems.join('; ')}`);
    } else if (headEntry?.entry.kind === 'data') {
      const object = await this.#retry(() => this.store.head(headEntry.entry.kind === 'data' ? headEntry.entry.key : ''), signal);
      if (!object) problem(top, `the data object of the head #${top} (${headEntry.entry.key}) is missing`);
      else if (object.size !== headEntry.entry.bytes) {
        problem(
          top,
          `the data object of the head #${top} (${headEntry.entry.key}) has ${object.size} bytes, its manifest says ${headEntry.entry.bytes}`,
        );
      }
    }
    return assessment;
  }

  /** Uploads a spooled batch and its manifest; returns the new head. Throws CommitConflictError when another writer took the number. */
  async commit(request: CommitRequest, signal?: AbortSignal): Promise<{ head: HeadRef; key: string }> {
    const { source, lease, head, batch } = request;
    const seq = (head?.seq ?? 0) + 1;
    const key = dataKey(source, seq, lease.token, new Date());
    const intent = intentKey(source, seq, lease.token);
    const intentBody = encodeIntent({ source, seq, token: lease.token, key, sha256: batch.sha256, bytes: batch.bytes });
    await this.#retry(() => this.store.putBytes(intent, intentBody, { contentType: 'application/json' }), signal);
    failpoint('after-intent');
    await failpointDuring('mid-upload', () =>
      this.#retry(
        () => this.store.putFile(key, batch.path, { contentType: 'application/gzip', sha256: batch.sha256, ifNoneMatch: true }),
        signal,
      ),
    );
    failpoint('after-upload');
    try {
      await lease.check();
    } catch (error) {
      // Fenced out before the manifest: this writer never creates manifest n, so its object is
      // referenced by nothing (nobody else adopts another writer's object).
      await this.#bestEffortDelete([key, intent]);
      throw error;
    }
    failpoint('before-manifest');
    const entry: UnsignedEntry = {
      kind: 'data',
      version: 2,
      source,
      seq,
      prev: head?.sha256 ?? null,
      writer: this.options.writer,
      writtenAt: new Date().toISOString(),
      totals: { records: (head?.totals.records ?? 0) + batch.records, objects: (head?.totals.objects ?? 0) + 1 },
      checkpointAfter: request.checkpointAfter,
      provider: request.provider,
      token: lease.token,
      key,
      sha256: batch.sha256,
      bytes: batch.bytes,
      records: batch.records,
      firstId: batch.firstId,
      lastId: batch.lastId,
      checkpointBefore: request.checkpointBefore,
      requestIds: request.requestIds,
      ...(request.completeness?.length ? { completeness: request.completeness } : {}),
    };
    const encoded = encodeEntry(entry, this.options.keys);
    const mkey = manifestKey(source, seq);
    try {
      // A retry after a lost response finds its own bytes there: the store counts that as success.
      await this.#retry(() => this.store.putBytes(mkey, encoded.bytes, { contentType: 'application/json', ifNoneMatch: true }), signal);
    } catch (error) {
      if (!(error instanceof ObjectExistsError)) throw error;
      // Another writer (a stale holder, another deployment) committed #seq first: ours lost.
      await this.#bestEffortDelete([key, intent]);
      throw new CommitConflictError(source, seq);
    }
    failpoint('after-manifest');
    await this.#removeOutraced(source, seq, lease.token, signal);
    return {
      head: { seq, key: mkey, sha256: encoded.sha256, token: lease.token, totals: entry.totals, dataKey: key },
      key,
    };
  }

  /** Removes an intent once its manifest is durable (best effort: recovery does it otherwise). */
  async forgetIntent(source: string, head: HeadRef): Promise<void> {
    await this.#bestEffortDelete([intentKey(source, head.seq, head.token)]);
  }

  /**
   * Records an operator's acknowledgement of the damage `assess` (and `extra`, e.g. verify's
   * findings further down the chain) describe: a new chain entry that goes on from the last intact
   * entry. Returns the new head; the drain resumes from the anchor's checkpoint.
   */
  async acknowledge(
    source: string,
    known: HeadRef | null,
    ack: { reason: string; by: string; extra: { seq?: number; key?: string; text: string }[] },
    signal?: AbortSignal,
  ): Promise<{ head: HeadRef; entry: ChainEntry }> {
    const assessment = await this.assess(source, known, signal);
    const damaged = new Set<number>(assessment.problems.flatMap((p) => (p.seq >= 1 ? [p.seq] : [])));
    for (const e of ack.extra) if (e.seq !== undefined && e.seq >= 1) damaged.add(e.seq);
    const top = Math.max(assessment.top, known?.seq ?? 0);
    // The anchor: the highest intact data entry or acknowledgement, below every damaged number at the top.
    let anchor: { slot: Slot; entry: ChainEntry; sha256: string } | undefined;
    for (let seq = assessment.top; seq >= 1; seq -= 1) {
      const slot = assessment.slots.get(seq) ?? (await this.#slotOf(source, seq, signal));
      if (!slot) continue;
      await this.#load(slot, signal);
      const loaded = this.#entryOf(slot);
      if (!loaded || damaged.has(seq) || loaded.entry.kind === 'finding') continue;
      anchor = { slot, ...loaded };
      break;
    }
    const seq = top + 1;
    const voided: number[] = [];
    for (let s = (anchor?.entry.seq ?? 0) + 1; s < seq; s += 1) voided.push(s);
    for (const s of damaged) if (!voided.includes(s)) voided.push(s);
    const anchorEntry = anchor?.entry;
    const entry: UnsignedEntry = {
      kind: 'acknowledgement',
      version: 2,
      source,
      seq,
      prev: anchor?.sha256 ?? null,
      writer: this.options.writer,
      writtenAt: new Date().toISOString(),
      totals: anchorEntry?.totals ?? { records: 0, objects: 0 },
      checkpointAfter: anchorEntry?.checkpointAfter ?? null,
      anchor: anchor ? { seq: anchor.entry.seq, sha256: anchor.sha256 } : null,
      covers: {
        seqs: voided.sort((a, b) => a - b),
        objects: [
          ...new Set([
            ...ack.extra.flatMap((e) =>
              e.key !== undefined && (e.key.endsWith('.ndjson.gz') || e.key.startsWith('_digests/')) ? [e.key] : [],
            ),
            ...assessment.problems.flatMap((p) => (p.key !== undefined ? [p.key] : [])),
          ]),
        ],
        problems: [...assessment.problems.map((p) => p.text), ...ack.extra.map((e) => e.text)],
      },
      reason: ack.reason,
      by: ack.by,
    };
    const encoded = encodeEntry(entry, this.options.keys);
    const key = manifestKey(source, seq);
    await this.#retry(() => this.store.putBytes(key, encoded.bytes, { contentType: 'application/json', ifNoneMatch: true }), signal);
    return {
      head: { seq, key, sha256: encoded.sha256, token: '', totals: entry.totals },
      entry: { ...entry } as ChainEntry,
    };
  }

  /** Reads and decodes chain entry `seq` (undefined when absent). */
  async readEntry(source: string, seq: number, signal?: AbortSignal): Promise<{ entry: ChainEntry; sha256: string } | undefined> {
    const slot: Slot = { seq, key: manifestKey(source, seq) };
    await this.#load(slot, signal);
    return this.#entryOf(slot);
  }

  /** Where the chain ends, roughly, without listing it (see probeHighest). */
  async #probeTop(source: string, signal: AbortSignal | undefined): Promise<number> {
    return await probeHighest(async (seq) => (await this.#retry(() => this.store.head(manifestKey(source, seq)), signal)) !== undefined);
  }

  /**
   * Lists entry keys numbered above `from`, streaming: keeps the last entries (enough to check the
   * window below the top) and every hole seen; refuses keys of a layout it does not know.
   */
  async #scan(
    source: string,
    from: number,
    signal: AbortSignal | undefined,
  ): Promise<{ slots: Map<number, Slot>; top: number; holes: number[] }> {
    signal?.throwIfAborted();
    const slots = new Map<number, Slot>();
    const holes: number[] = [];
    let expected = from + 1;
    const listing = this.store.listCreated(manifestPrefix(source), from > 0 ? { startAfter: manifestListStart(source, from) } : {});
    for await (const item of listing) {
      const seq = parseManifestKey(item.key);
      if (seq === undefined) {
        throw new ArchiveFormatError(
          `${this.store.describe()} holds ${item.key}, which is not a chain entry of this archive format`,
          'the prefix holds an archive of an older log-archiver (manifest keys with tokens) or foreign files: archive to a new prefix, or remove the foreign keys',
        );
      }
      for (; expected < seq; expected += 1) if (holes.length < 1000) holes.push(expected);
      expected = seq + 1;
      slots.set(seq, { seq, key: item.key });
      // Keep what the hole window needs; older slots are not looked at again.
      if (slots.size > HOLE_WINDOW * 2) slots.delete(slots.keys().next().value!);
    }
    const top = Math.max(expected - 1, 0);
    // Holes further down are verify's to report: acknowledgements covering them are not kept here.
    return { slots, top, holes: holes.filter((h) => h >= top - HOLE_WINDOW) };
  }

  async #slotOf(source: string, seq: number, signal: AbortSignal | undefined): Promise<Slot | undefined> {
    const key = manifestKey(source, seq);
    const head = await this.#retry(() => this.store.head(key), signal);
    return head ? { seq, key } : undefined;
  }

  async #load(slot: Slot, signal: AbortSignal | undefined): Promise<void> {
    if (slot.loaded) return;
    const bytes = await this.#retry(() => this.store.getCreated(slot.key), signal);
    if (!bytes) {
      slot.loaded = { problem: 'vanished while being read' };
      return;
    }
    const decoded = decodeEntry(bytes, this.options.keys);
    if ('problem' in decoded) {
      slot.loaded = { problem: 'is not a valid chain entry (altered or foreign)' };
      return;
    }
    const entry = decoded.value;
    const source = slot.key.split('/')[1];
    if (entry.seq !== slot.seq || entry.source !== source) {
      slot.loaded = { problem: `names #${entry.seq} of ${entry.source}: altered or moved` };
      return;
    }
    if (decoded.signature === 'invalid') {
      slot.loaded = { problem: 'has a signature that does not verify: altered' };
      return;
    }
    if (decoded.signature === 'unknown-key') {
      // Never treated as absent (rotation without the old key must not re-archive anything);
      // verify with the key reports whether it holds.
      this.options.logger.warn(
        { key: slot.key, keyId: entry.signature?.keyId },
        'entry signed with a key id this config does not know; not checked',
      );
    }
    slot.loaded = { entry, sha256: decoded.sha256 };
  }

  #entryOf(slot: Slot): { entry: ChainEntry; sha256: string } | undefined {
    return slot.loaded && 'entry' in slot.loaded ? slot.loaded : undefined;
  }

  /** Writes a finding entry above the top, once, so the cut stays recorded after the cache is gone. */
  async #recordFinding(source: string, assessment: Assessment, signal: AbortSignal | undefined): Promise<void> {
    const known = assessment.expected;
    if (!known) return;
    const top = assessment.top > 0 ? assessment.slots.get(assessment.top) : undefined;
    const topEntry = top ? this.#entryOf(top) : undefined;
    if (topEntry?.entry.kind === 'finding') return;
    const seq = Math.max(assessment.top, known.seq) + 1;
    const entry: UnsignedEntry = {
      kind: 'finding',
      version: 2,
      source,
      seq,
      prev: known.sha256,
      writer: this.options.writer,
      writtenAt: new Date().toISOString(),
      totals: known.totals,
      checkpointAfter: null,
      expected: { seq: known.seq, sha256: known.sha256, witness: known.witness },
      found: { seq: assessment.top, sha256: topEntry?.sha256 ?? null },
      problems: assessment.problems.map((p) => p.text),
    };
    try {
      const encoded = encodeEntry(entry, this.options.keys);
      await this.#retry(
        () => this.store.putBytes(manifestKey(source, seq), encoded.bytes, { contentType: 'application/json', ifNoneMatch: true }),
        signal,
      );
      this.options.logger.error({ source, seq, problems: entry.problems }, 'archive damaged: recorded a finding in the chain');
    } catch (error) {
      this.options.logger.warn({ source, err: errorSummary(error) }, 'could not record the finding in the chain');
    }
  }

  /**
   * Intents of other writers: an intent whose number is committed naming its object is spent; one
   * whose number names another object marks a dead upload (the loser of a race, a fenced-out or
   * crashed writer), removed with its object. Intents above the head may be uploads in flight.
   */
  async #sweepIntents(
    source: string,
    assessment: Assessment,
    ownToken: string,
    removed: string[],
    maxToken: string,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    let max = maxToken;
    const intents: { key: string; seq: number; token: string }[] = [];
    for await (const item of this.store.list(intentPrefix(source))) {
      const parsed = parseIntentKey(item.key);
      if (!parsed) continue;
      if (parsed.token > max) max = parsed.token;
      if (parsed.token !== ownToken && parsed.seq <= assessment.top) intents.push({ key: item.key, ...parsed });
    }
    for (const intent of intents) {
      const body = await this.#retry(() => this.store.get(intent.key), signal);
      const target = body ? parseIntent(body) : undefined;
      const slot = assessment.slots.get(intent.seq) ?? (await this.#slotOf(source, intent.seq, signal));
      if (!slot) continue; // a hole (acknowledged): leave whatever is there as evidence
      await this.#load(slot, signal);
      const committed = this.#entryOf(slot)?.entry;
      if (!committed) continue;
      const doomed = [intent.key];
      const objectKey = target?.key;
      if (
        objectKey &&
        committed.kind === 'data' &&
        committed.key !== objectKey &&
        isDataKeyOf(objectKey, source, intent.seq, intent.token)
      ) {
        doomed.unshift(objectKey);
      }
      if (committed.kind !== 'data' && objectKey) continue; // numbered over by an acknowledgement: evidence
      await this.#retry(async () => {
        for (const key of doomed) await this.store.delete(key);
      }, signal);
      if (doomed.length > 1) removed.push(...doomed);
    }
    return max;
  }

  /**
   * Data objects in the date folders of recent commits whose number is committed naming another
   * object: uploads that landed after their writer lost (a zombie PUT completing after the
   * writer died and the next holder cleaned up). Removed; the committed ones are never touched.
   */
  async #sweepFolders(
    source: string,
    assessment: Assessment,
    cached: SourceState | undefined,
    removed: string[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (assessment.top === 0) return;
    const low = Math.max(1, assessment.top - SWEEP_WINDOW);
    const known = new Map<number, string>();
    for (const r of cached?.recent ?? []) known.set(r.seq, r.key);
    const folders = new Set<string>();
    const now = Date.now();
    for (const at of [now, now - 86_400_000]) folders.add(dataFolder(source, new Date(at)));
    const top = assessment.slots.get(assessment.top);
    const topEntry = top ? this.#entryOf(top)?.entry : undefined;
    if (topEntry) {
      const written = Date.parse(topEntry.writtenAt);
      if (Number.isFinite(written)) for (const at of [written, written - 86_400_000]) folders.add(dataFolder(source, new Date(at)));
    }
    for (const folder of folders) {
      const candidates: { key: string; seq: number; token: string }[] = [];
      for await (const item of this.store.list(folder, { startAfter: dataListStart(folder, source, low - 1) })) {
        const parsed = parseDataKey(item.key);
        if (!parsed || parsed.source !== source || parsed.seq > assessment.top) continue;
        if (known.get(parsed.seq) === item.key) continue;
        candidates.push({ key: item.key, seq: parsed.seq, token: parsed.token });
      }
      for (const candidate of candidates) {
        const slot = assessment.slots.get(candidate.seq) ?? (await this.#slotOf(source, candidate.seq, signal));
        if (!slot) continue;
        await this.#load(slot, signal);
        const committed = this.#entryOf(slot)?.entry;
        if (committed?.kind !== 'data' || committed.key === candidate.key) continue;
        await this.#retry(async () => {
          await this.store.delete(candidate.key);
          await this.store.delete(intentKey(source, candidate.seq, candidate.token));
        }, signal);
        removed.push(candidate.key);
      }
    }
  }

  /** After winning #seq: uploads of other writers for #seq can never be committed; remove them. */
  async #removeOutraced(source: string, seq: number, token: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      const removed: string[] = [];
      for await (const item of this.store.list(intentSeqPrefix(source, seq))) {
        const parsed = parseIntentKey(item.key);
        if (!parsed || parsed.seq !== seq || parsed.token === token) continue;
        const body = await this.store.get(item.key);
        const target = body ? parseIntent(body) : undefined;
        const doomed = target && isDataKeyOf(target.key, source, seq, parsed.token) ? [target.key, item.key] : [item.key];
        for (const key of doomed) await this.store.delete(key);
        removed.push(...doomed);
      }
      if (removed.length > 0) this.options.logger.warn({ source, removed }, 'removed debris of interrupted writers');
    } catch (error) {
      // Our manifest is durable: the commit stands. The next recovery sweeps what is left.
      this.options.logger.warn({ source, seq, err: errorSummary(error), signal: signal?.aborted }, 'could not remove outraced uploads');
    }
  }

  async #bestEffortDelete(keys: string[]): Promise<void> {
    for (const key of keys) {
      try {
        await this.store.delete(key);
      } catch (error) {
        this.options.logger.warn({ key, err: errorSummary(error) }, 'cleanup delete failed; the next recovery retries it');
      }
    }
  }

  #retry<T>(operation: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return withRetry(operation, this.options.retry, {
      ...(signal ? { signal } : {}),
      isRetryable: (error) => error instanceof StorageError && error.retryable,
      onRetry: (error, attempt, delayMs) =>
        this.options.logger.warn({ err: errorSummary(error), attempt, delayMs }, 'storage operation failed; retrying'),
    });
  }
}

function toRef(slot: Slot, loaded: { entry: ChainEntry; sha256: string }): HeadRef {
  const { entry } = loaded;
  return {
    seq: entry.seq,
    key: slot.key,
    sha256: loaded.sha256,
    token: entry.kind === 'data' ? entry.token : '',
    totals: entry.totals,
    ...(entry.kind === 'data' ? { dataKey: entry.key } : {}),
  };
}

/** Only keys shaped like this writer's data object for this number are ever removed through an intent. */
function isDataKeyOf(key: string, source: string, seq: number, token: string): boolean {
  const parsed = parseDataKey(key);
  return parsed !== undefined && parsed.source === source && parsed.seq === seq && parsed.token === token;
}

export type { DataManifest };

function errorSummary(error: unknown): { code?: string; message: string } {
  if (error instanceof ArchiverError) return { code: error.code, message: error.message };
  return { message: (error as Error).message };
}
