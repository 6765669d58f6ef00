import { ArchiverError, LeaseLostError, ObjectExistsError, StorageError } from '../errors/index.js';
import { failpoint, failpointDuring } from '../failpoints.js';
import { withRetry, type RetryPolicy } from '../http/index.js';
import type { HeadRef, SourceState } from '../checkpoints/index.js';
import type { Lease } from '../leases/index.js';
import type { Logger } from '../observability/index.js';
import type { ObjectStore } from '../storage/index.js';
import { dataKey, intentKey, intentPrefix, manifestKey, manifestListStart, manifestPrefix, parseSeqKey } from './layout.js';
import { decodeManifest, encodeManifest, sha256Hex, type Manifest } from './manifest.js';

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
}

/** Where recovery found a source: the committed head and the position to resume from. */
export interface Recovered {
  head: HeadRef | null;
  /** Provider checkpoint to resume from; undefined means the provider's initial checkpoint. */
  position: unknown;
  /** Keys removed as debris of crashed or fenced-out writers. */
  removed: string[];
}

export interface LedgerOptions {
  hmacKey: Buffer | undefined;
  logger: Logger;
  /** Backoff for storage writes; an S3 outage of minutes is waited out. */
  retry: RetryPolicy;
  writer: string;
}

/** How far below a cached head recovery looks for late manifests of fenced-out writers. */
const SWEEP_BELOW_HEAD = 64;

/** What one recovery (or one commit's clean-up) carries through its steps. */
interface Scope {
  removed: string[];
  lease: Lease | undefined;
  signal: AbortSignal | undefined;
  /** Whether the lease was confirmed before the first delete. */
  confirmed: boolean;
}

interface Candidate {
  key: string;
  seq: number;
  token: string;
  manifest?: Manifest;
  sha256?: string;
}

/**
 * The system of record for a source's progress: data objects, their manifests (hash-chained),
 * and upload intents. Redis only caches what this finds.
 *
 * Commit protocol for object number n (holding the lease with token T):
 *   intent(n,T) → data object (key carries n and T) → lease check → manifest(n,T) create-only
 * A manifest exists only for a fully written object, and only one manifest per n is adopted:
 * the one the next manifest chains to, else the newest token. Everything else — objects of
 * crashed uploads, manifests of fenced-out writers — is removed by the next holder's recovery.
 */
export class ManifestLedger {
  constructor(
    private readonly store: ObjectStore,
    private readonly options: LedgerOptions,
  ) {}

  /**
   * Finds the committed head of `source` and cleans debris; call only while holding the lease.
   * Throws LeaseLostError, deleting nothing, when it meets a key of a newer holder.
   */
  async recover(source: string, cached: SourceState | undefined, lease: Lease, signal?: AbortSignal): Promise<Recovered> {
    const scope: Scope = { removed: [], lease, signal, confirmed: false };
    const removed = scope.removed;
    let trusted = cached?.head ?? null;
    // A little below the head too: a writer frozen past its lease can land a manifest for a
    // number the new holder has already committed and moved beyond (see #sweepBelow).
    let groups = await this.#listGroups(
      source,
      trusted ? manifestListStart(source, Math.max(1, trusted.seq - SWEEP_BELOW_HEAD)) : undefined,
      signal,
    );
    if (trusted && !(groups.get(trusted.seq) ?? []).some((c) => c.key === trusted!.key)) {
      // The cache names a manifest storage does not have: storage wins; rebuild from it.
      this.options.logger.warn({ source, cached: trusted.key }, 'cached head not in storage; rebuilding from manifests');
      trusted = null;
      groups = await this.#listGroups(source, undefined, signal);
    }
    let head: { ref: HeadRef; manifest: Manifest | undefined } | null = null;
    if (trusted) {
      await this.#sweepBelow(groups, trusted.seq, scope);
      head = { ref: trusted, manifest: undefined };
      for (const loser of (groups.get(trusted.seq) ?? []).filter((c) => c.key !== trusted!.key)) {
        await this.#removeCandidate(loser, scope);
      }
    } else {
      head = await this.#anchor(source, groups, scope);
    }
    head = await this.#rollForward(source, head, groups, scope);
    await this.#cleanIntents(source, head?.ref ?? null, scope);

    let position: unknown;
    const cachedHeadKey = cached?.head?.key ?? null;
    if (cached && cachedHeadKey === (head?.ref.key ?? null) && cached.position !== undefined) {
      position = cached.position;
    } else if (head) {
      head.manifest ??= (await this.#load(head.ref.key, signal))?.manifest;
      if (!head.manifest)
        throw new StorageError(`manifest ${head.ref.key} vanished during recovery`, { key: head.ref.key, retryable: true });
      position = head.manifest.checkpointAfter;
    }
    if (removed.length > 0) this.options.logger.warn({ source, removed }, 'removed debris of interrupted writers');
    return { head: head?.ref ?? null, position, removed };
  }

  /** Uploads a spooled batch and its manifest; returns the new head. Throws LeaseLostError when fenced out. */
  async commit(request: CommitRequest, signal?: AbortSignal): Promise<{ head: HeadRef; key: string }> {
    const { source, lease, head, batch } = request;
    const seq = (head?.seq ?? 0) + 1;
    const key = dataKey(source, seq, lease.token, new Date());
    const intent = intentKey(source, seq, lease.token);
    await this.#retry(
      () =>
        this.store.putBytes(intent, Buffer.from(JSON.stringify({ key, at: new Date().toISOString() })), {
          contentType: 'application/json',
        }),
      signal,
    );
    failpoint('after-intent');
    await failpointDuring('mid-upload', () =>
      this.#retry(() => this.store.putFile(key, batch.path, { contentType: 'application/gzip', sha256: batch.sha256 }), signal),
    );
    failpoint('after-upload');
    try {
      await lease.check();
    } catch (error) {
      // Fenced out before the manifest: the object is referenced by nothing, so it goes.
      await this.#bestEffortDelete([key, intent]);
      throw error;
    }
    failpoint('before-manifest');
    const manifest: Omit<Manifest, 'hmac'> = {
      version: 1,
      source,
      provider: request.provider,
      seq,
      token: lease.token,
      key,
      sha256: batch.sha256,
      bytes: batch.bytes,
      records: batch.records,
      firstId: batch.firstId,
      lastId: batch.lastId,
      checkpointBefore: request.checkpointBefore,
      checkpointAfter: request.checkpointAfter,
      prev: head?.sha256 ?? null,
      writer: this.options.writer,
      requestIds: request.requestIds,
      writtenAt: new Date().toISOString(),
      totals: { records: (head?.totals.records ?? 0) + batch.records, objects: (head?.totals.objects ?? 0) + 1 },
    };
    const encoded = encodeManifest(manifest, this.options.hmacKey);
    const mkey = manifestKey(source, seq, lease.token);
    let attempts = 0;
    await this.#retry(async () => {
      attempts += 1;
      try {
        await this.store.putBytes(mkey, encoded.bytes, { contentType: 'application/json', ifNoneMatch: true });
      } catch (error) {
        // A retry after a lost response finds the first attempt's manifest: that is success.
        if (!(error instanceof ObjectExistsError) || attempts === 1) throw error;
        const stored = await this.store.get(mkey);
        if (!stored || sha256Hex(stored) !== encoded.sha256) throw error;
      }
    }, signal);
    failpoint('after-manifest');
    await this.#removeStaleSiblings(source, seq, lease, signal);
    return { head: { seq, key: mkey, sha256: encoded.sha256, token: lease.token, totals: manifest.totals }, key };
  }

  /**
   * A writer frozen between its lease check and its manifest write can write manifest `seq`
   * after this holder's recovery looked (its object already removed with its intent). Recovery
   * starts at the head and never looks below it again, so it is removed here, right after our
   * own manifest for `seq` is durable; a stale manifest written after this look finds ours in
   * `withdraw()` and removes itself. Only older tokens whose object is gone are touched: such a
   * manifest can never be adopted.
   */
  async #removeStaleSiblings(source: string, seq: number, lease: Lease, signal: AbortSignal | undefined): Promise<void> {
    const scope: Scope = { removed: [], lease, signal, confirmed: false };
    const removed = scope.removed;
    const token = lease.token;
    try {
      const stale: Candidate[] = [];
      for await (const item of this.store.list(`${manifestPrefix(source)}${String(seq).padStart(10, '0')}-`)) {
        const parsed = parseSeqKey(item.key);
        if (parsed && parsed.seq === seq && parsed.token < token) stale.push({ key: item.key, ...parsed });
      }
      for (const candidate of stale) if (!(await this.#sound(candidate, signal))) await this.#removeCandidate(candidate, scope);
    } catch (error) {
      // Our manifest is durable: the commit stands. The stale one is left for verify to report.
      this.options.logger.warn({ source, seq, err: errorSummary(error) }, 'could not look for stale manifests beside ours');
    }
    if (removed.length > 0) this.options.logger.warn({ source, removed }, 'removed debris of interrupted writers');
  }

  /** Removes an intent once its manifest is durable (best effort: recovery does it otherwise). */
  async forgetIntent(source: string, head: HeadRef): Promise<void> {
    await this.#bestEffortDelete([intentKey(source, head.seq, head.token)]);
  }

  /**
   * After a fenced commit was refused: our manifest may or may not have been adopted by the new
   * holder. If another manifest exists for the same number, ours lost and is removed; if ours is
   * the only one, the new holder may already chain to it, so it stays.
   */
  async withdraw(source: string, head: HeadRef, dataObjectKey: string): Promise<void> {
    const siblings: string[] = [];
    for await (const item of this.store.list(`${manifestPrefix(source)}${String(head.seq).padStart(10, '0')}-`)) {
      if (item.key !== head.key) siblings.push(item.key);
    }
    // A manifest whose object the new holder's recovery already removed can never be adopted.
    if (siblings.length > 0 || !(await this.#exists(dataObjectKey))) {
      await this.#bestEffortDelete([dataObjectKey, head.key, intentKey(source, head.seq, head.token)]);
    }
  }

  async #load(key: string, signal?: AbortSignal): Promise<{ manifest: Manifest; sha256: string } | undefined> {
    const bytes = await this.#retry(() => this.store.get(key), signal);
    if (!bytes) return undefined;
    const decoded = decodeManifest(bytes, this.options.hmacKey);
    return 'problem' in decoded ? undefined : decoded;
  }

  async #listGroups(source: string, startAfter: string | undefined, signal: AbortSignal | undefined): Promise<Map<number, Candidate[]>> {
    signal?.throwIfAborted();
    const groups = new Map<number, Candidate[]>();
    const listing = this.store.list(manifestPrefix(source), startAfter ? { startAfter } : {});
    for await (const item of listing) {
      const parsed = parseSeqKey(item.key);
      if (!parsed) continue;
      const group = groups.get(parsed.seq) ?? [];
      group.push({ key: item.key, ...parsed });
      groups.set(parsed.seq, group);
    }
    return groups;
  }

  /**
   * Below the head, a number claimed twice holds a committed manifest and a fenced-out writer's
   * late one, whose object recovery had already removed. Such a manifest can never be adopted;
   * it goes. A claimant whose object exists is left alone: that is for verify to judge.
   */
  async #sweepBelow(groups: Map<number, Candidate[]>, headSeq: number, scope: Scope): Promise<void> {
    for (const [seq, group] of groups) {
      if (seq >= headSeq || group.length < 2) continue;
      const newest = group.reduce((a, b) => (a.token > b.token ? a : b));
      for (const candidate of group) {
        if (candidate !== newest && !(await this.#sound(candidate, scope.signal))) await this.#removeCandidate(candidate, scope);
      }
    }
  }

  /** Without a cached head: the highest sequence with a single, sound manifest anchors the walk. */
  async #anchor(
    source: string,
    groups: Map<number, Candidate[]>,
    scope: Scope,
  ): Promise<{ ref: HeadRef; manifest: Manifest | undefined } | null> {
    const seqs = [...groups.keys()].sort((a, b) => b - a);
    for (const seq of seqs) {
      const group = groups.get(seq)!;
      if (group.length !== 1) continue;
      const candidate = group[0]!;
      if (!(await this.#sound(candidate, scope.signal))) continue;
      // Contested numbers just below the anchor are settled by what the anchor chains to.
      let prev = candidate.manifest!.prev;
      for (let below = seq - 1; below >= 1 && prev !== null; below -= 1) {
        const claimants = groups.get(below) ?? [];
        if (claimants.length <= 1) break;
        for (const claimant of claimants) await this.#fill(claimant, scope.signal);
        const winner = claimants.find((c) => c.sha256 === prev);
        if (!winner) break;
        for (const loser of claimants) if (loser !== winner) await this.#removeCandidate(loser, scope);
        prev = winner.manifest!.prev;
      }
      return { ref: toRef(candidate), manifest: candidate.manifest };
    }
    // Every sequence is contested (or there are none): roll forward from the very first.
    if (seqs.length > 0) this.options.logger.warn({ source }, 'no uncontested manifest; walking the chain from the first');
    return null;
  }

  async #rollForward(
    source: string,
    head: { ref: HeadRef; manifest: Manifest | undefined } | null,
    groups: Map<number, Candidate[]>,
    scope: Scope,
  ): Promise<{ ref: HeadRef; manifest: Manifest | undefined } | null> {
    let current = head;
    for (;;) {
      const seq = (current?.ref.seq ?? 0) + 1;
      const group = groups.get(seq) ?? [];
      if (group.length === 0) return current;
      const prev = current?.ref.sha256 ?? null;
      const valid: Candidate[] = [];
      for (const candidate of group) {
        if ((await this.#sound(candidate, scope.signal)) && candidate.manifest!.prev === prev && candidate.manifest!.source === source) {
          valid.push(candidate);
        } else if (candidate.manifest && candidate.manifest.prev === prev) {
          // Chains correctly but its object is gone: a fenced-out writer's manifest whose upload
          // was cleaned up. Its records were never committed; dropping it loses nothing.
          await this.#removeCandidate(candidate, scope);
        }
      }
      if (valid.length === 0) {
        this.options.logger.error(
          { source, seq, keys: group.map((c) => c.key) },
          'manifests do not chain to the head; leaving them for verify',
        );
        return current;
      }
      const next = groups.get(seq + 1) ?? [];
      const nextPrevs = new Set<string>();
      for (const candidate of next) {
        const loaded = await this.#fill(candidate, scope.signal);
        if (loaded.manifest) nextPrevs.add(loaded.manifest.prev ?? '');
      }
      valid.sort((a, b) => (a.token < b.token ? 1 : a.token > b.token ? -1 : 0));
      const winner = valid.find((c) => nextPrevs.has(c.sha256!)) ?? valid[0]!;
      for (const loser of group) if (loser !== winner && !scope.removed.includes(loser.key)) await this.#removeCandidate(loser, scope);
      current = { ref: toRef(winner), manifest: winner.manifest };
    }
  }

  async #fill(candidate: Candidate, signal?: AbortSignal): Promise<Candidate> {
    if (candidate.manifest) return candidate;
    const loaded = await this.#load(candidate.key, signal);
    if (loaded) {
      candidate.manifest = loaded.manifest;
      candidate.sha256 = loaded.sha256;
    }
    return candidate;
  }

  /** A manifest is sound when it parses (and verifies) and its data object exists with its size. */
  async #sound(candidate: Candidate, signal?: AbortSignal): Promise<boolean> {
    await this.#fill(candidate, signal);
    const manifest = candidate.manifest;
    if (!manifest || manifest.seq !== candidate.seq || manifest.token !== candidate.token) return false;
    for await (const item of this.store.list(manifest.key)) {
      return item.key === manifest.key && item.size === manifest.bytes;
    }
    return false;
  }

  async #removeCandidate(candidate: Candidate, scope: Scope): Promise<void> {
    await this.#beforeDelete(candidate.token, scope);
    await this.#fill(candidate, scope.signal);
    const keys = [candidate.key];
    if (candidate.manifest) keys.unshift(candidate.manifest.key);
    await this.#retry(async () => {
      for (const key of keys) await this.store.delete(key);
    }, scope.signal);
    scope.removed.push(...keys);
  }

  /**
   * Every delete of another writer's keys goes through here. A key of a newer token proves this
   * holder stale (its lease expired while it paused): it must delete nothing, or it could remove
   * the current holder's upload. Otherwise the lease is confirmed once before the first delete.
   */
  async #beforeDelete(token: string, scope: Scope): Promise<void> {
    scope.signal?.throwIfAborted();
    if (!scope.lease) return;
    if (token > scope.lease.token) throw new LeaseLostError(scope.lease.source, scope.lease.token);
    if (!scope.confirmed) {
      await scope.lease.check();
      scope.confirmed = true;
    }
  }

  async #cleanIntents(source: string, head: HeadRef | null, scope: Scope): Promise<void> {
    const intents: string[] = [];
    for await (const item of this.store.list(intentPrefix(source))) intents.push(item.key);
    for (const key of intents) {
      const parsed = parseSeqKey(key);
      if (!parsed || parsed.token === scope.lease?.token) continue;
      await this.#beforeDelete(parsed.token, scope);
      const committed =
        head !== null &&
        parsed.seq <= head.seq &&
        (parsed.seq === head.seq ? parsed.token === head.token : await this.#exists(manifestKey(source, parsed.seq, parsed.token)));
      const doomed = [key];
      if (!committed) {
        const body = await this.#retry(() => this.store.get(key), scope.signal);
        const dataObject = body ? readIntentKey(body) : undefined;
        if (dataObject) doomed.unshift(dataObject);
      }
      await this.#retry(async () => {
        for (const k of doomed) await this.store.delete(k);
      }, scope.signal);
      if (!committed) scope.removed.push(...doomed);
    }
  }

  async #exists(key: string): Promise<boolean> {
    for await (const item of this.store.list(key)) return item.key === key;
    return false;
  }

  async #bestEffortDelete(keys: string[]): Promise<void> {
    for (const key of keys) {
      try {
        await this.store.delete(key);
      } catch (error) {
        this.options.logger.warn({ key, err: error }, 'cleanup delete failed; the next recovery retries it');
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

function toRef(candidate: Candidate): HeadRef {
  const manifest = candidate.manifest!;
  return { seq: manifest.seq, key: candidate.key, sha256: candidate.sha256!, token: manifest.token, totals: manifest.totals };
}

function readIntentKey(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { key?: unknown };
    return typeof parsed.key === 'string' && parsed.key.endsWith('.ndjson.gz') ? parsed.key : undefined;
  } catch {
    return undefined;
  }
}

function errorSummary(error: unknown): { code?: string; message: string } {
  if (error instanceof ArchiverError) return { code: error.code, message: error.message };
  return { message: (error as Error).message };
}
