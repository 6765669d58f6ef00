import { createHash } from 'node:crypto';
import { StorageError } from '../errors/index.js';
import { withRetry, type RetryPolicy } from '../http/index.js';
import type { ObjectStore } from '../storage/index.js';
import {
  DATA_SUFFIX,
  MANIFESTS,
  dataFolder,
  digestKey,
  digestPrefix,
  parseDigestKey,
  intentKey,
  intentPrefix,
  manifestKey,
  manifestPrefix,
  parseDataKey,
  parseIntentKey,
  parseManifestKey,
  sourceOfFolder,
} from './layout.js';
import { parseIntent } from './intent.js';
import { digestSchema, readDigest } from './digest.js';
import { probeHighest } from './probe.js';
import { decodeEntry, decodeSigned, type ChainEntry } from './manifest.js';
import { KeyRing } from './signing.js';

export type ProblemKind =
  | 'object-missing'
  | 'object-altered'
  | 'object-unreadable'
  | 'object-without-manifest'
  | 'manifest-missing'
  | 'manifest-altered'
  | 'manifest-unsigned'
  | 'signature-unverifiable'
  | 'chain-broken'
  | 'finding'
  | 'digest-missing'
  | 'digest-altered'
  | 'digest-gap'
  | 'foreign-key';

/** One thing wrong with the archive, located by key (and chain number, where it has one). */
export interface Problem {
  source: string;
  kind: ProblemKind;
  key: string;
  seq?: number;
  /** Last number of a run of missing entries that starts at `seq`. */
  seqTo?: number;
  detail: string;
}

export interface SourceSummary {
  source: string;
  /** Chain entries read (data manifests, findings, acknowledgements). */
  manifests: number;
  objects: number;
  records: number;
  bytes: number;
  /** Number of the newest entry (0: none). */
  head: number;
  /** Data objects of commits in flight (numbered above the head, or of a writer still cleaning up): not damage. */
  pending: string[];
  /** Entries at the start of the chain written before signing was turned on. */
  unsigned: number;
  /** Acknowledgements in the chain (operator-recorded losses). */
  acknowledgements: number;
  /** Digests read, and the time of the newest. */
  digests: number;
  newestDigestAt: string | null;
  /** Where this verify ended, for the next incremental one (`verify --state`). */
  newestDigest?: { n: number; sha256: string; writtenAt: string; intervalMs: number };
  newestEntry?: { seq: number; sha256: string };
  /** First entry number checked, when the verify started past #1 (`since`, `from`). */
  from?: number;
}

export interface VerifyReport {
  ok: boolean;
  sources: SourceSummary[];
  /** Damage nobody acknowledged: exit 1. */
  problems: Problem[];
  /** Damage an acknowledgement in the chain covers: reported, not a failure. */
  acknowledged: Problem[];
}

/** The newest entry as a witness outside the chain (the checkpoint cache) recorded it at commit. */
export interface ExpectedHead {
  seq: number;
  key: string;
  sha256: string;
}

export interface VerifyOptions {
  keys?: KeyRing;
  /** Last committed entry per source as the checkpoint store knows it, to detect a cut tail. */
  expectedHeads?: Map<string, ExpectedHead>;
  /** Sources to check (also when storage holds nothing for them); default: every source found. */
  sources?: string[];
  /** Only these sources, even if others are in storage. */
  only?: string[];
  /** Objects read at once. @defaultValue 8 */
  concurrency?: number;
  /** Backoff for reads; an outage outlasting it ends verify with the StorageError (exit 3). */
  retry?: RetryPolicy;
  /** The digest interval to expect where a source has no digest yet. @defaultValue 1 h */
  digestIntervalMs?: number;
  /** Digest gaps after this time are not reported (an archive no longer written to). */
  until?: Date;
  /** Clock of "now", for the gap since the newest digest. */
  now?: () => number;
  /** Per source, where an earlier intact verify ended: only what came after is checked. */
  from?: Map<string, VerifiedPoint>;
  /** Only entries from this one on (an entry number, or the first written at or after a time); not with `from`. */
  since?: VerifySince;
}

/** Where a partial verify starts: entry number `seq`, or the first entry written at or after `time`. */
export type VerifySince = { seq: number } | { time: Date };

const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 5_000, maxElapsedMs: 60_000 };

/**
 * Walks every source's chain in order, re-hashes every object, and reports what is missing,
 * altered or unaccounted for. Reads only; never repairs. Memory does not grow with the archive
 * (a few bytes per entry for matching data objects to their manifests); reads overlap.
 * Commits that land while it runs are in flight, not damage: the chain is listed before the data.
 */
export async function verifyArchive(store: ObjectStore, options: VerifyOptions = {}): Promise<VerifyReport> {
  const retry = options.retry ?? DEFAULT_RETRY;
  const read = <T>(operation: () => Promise<T>): Promise<T> =>
    withRetry(operation, retry, { isRetryable: (error) => error instanceof StorageError && error.retryable });
  const sources = new Set<string>(options.sources ?? []);
  if (!options.only) {
    for await (const folder of store.listFolders(MANIFESTS)) {
      const source = sourceOfFolder(folder, MANIFESTS);
      if (source) sources.add(source);
    }
    for await (const folder of store.listFolders('')) {
      const source = sourceOfFolder(folder, '');
      if (source) sources.add(source);
    }
  } else {
    for (const s of options.only) sources.add(s);
  }
  const report: VerifyReport = { ok: true, sources: [], problems: [], acknowledged: [] };
  for (const source of [...sources].sort()) {
    const checked = await verifySource(store, source, {
      keys: options.keys ?? KeyRing.none,
      expected: options.expectedHeads?.get(source),
      concurrency: options.concurrency ?? 8,
      read,
      digestIntervalMs: options.digestIntervalMs ?? 3_600_000,
      ...(options.until ? { until: options.until } : {}),
      now: options.now ?? Date.now,
      ...(options.from?.get(source) ? { from: options.from.get(source)! } : {}),
      ...(options.since ? { since: options.since } : {}),
    });
    report.sources.push(checked.summary);
    report.problems.push(...checked.problems);
    report.acknowledged.push(...checked.acknowledged);
  }
  report.ok = report.problems.length === 0;
  return report;
}

export interface SourceCheck {
  keys: KeyRing;
  expected: ExpectedHead | undefined;
  concurrency: number;
  read: <T>(operation: () => Promise<T>) => Promise<T>;
  digestIntervalMs?: number;
  until?: Date;
  now?: () => number;
  /** Verify only what came after this point of an earlier intact verify (incremental). */
  from?: VerifiedPoint;
  /** Verify only from this entry on, with the link into it and the digests from the one before it. */
  since?: VerifySince;
}

/** Where an intact verify of a source ended: its newest entry and digest. */
export interface VerifiedPoint {
  entry: { seq: number; sha256: string } | null;
  digest: { n: number; sha256: string; writtenAt: string; intervalMs: number } | null;
  verifiedAt: string;
}

/** Room for clock skew and drains scheduled a little late before a digest gap is a finding. */
const GAP_GRACE_MS = 60_000;

/** Verifies one source; see verifyArchive. */
export async function verifySource(
  store: ObjectStore,
  source: string,
  check: SourceCheck,
): Promise<{ summary: SourceSummary; problems: Problem[]; acknowledged: Problem[] }> {
  const { read, keys } = check;
  const summary: SourceSummary = {
    source,
    manifests: 0,
    objects: 0,
    records: 0,
    bytes: 0,
    head: 0,
    pending: [],
    unsigned: 0,
    acknowledgements: 0,
    digests: 0,
    newestDigestAt: null,
  };
  const shas = new KeyIndex();
  let firstWrittenAt: number | undefined;
  const found: Problem[] = [];
  const problem = (kind: ProblemKind, key: string, detail: string, seq?: number, seqTo?: number): void => {
    found.push({
      source,
      kind,
      key,
      detail,
      ...(seq !== undefined ? { seq } : {}),
      ...(seqTo !== undefined && seqTo !== seq ? { seqTo } : {}),
    });
  };
  const coveredSeqs = new Set<number>();
  const coveredObjects = new Set<string>();
  const dataKeys = new KeyIndex();
  const recentShas = new Map<number, string>();
  const from = check.from;
  const since = from || !check.since ? undefined : await resolveSince(store, source, check.since, keys, read);
  let prev: { seq: number; sha256: string | null } = from?.entry
    ? { ...from.entry }
    : since
      ? { seq: since.seq - 1, sha256: since.link }
      : { seq: 0, sha256: null };
  /** Entries up to this number are outside this verify (an earlier run's, or before `since`). */
  const checkedAfter = from?.entry?.seq ?? (since ? since.seq - 1 : 0);
  let signedSeen = false;
  const objects = new Pool(check.concurrency);

  const checkObject = async (entry: Extract<ChainEntry, { kind: 'data' }>): Promise<void> => {
    try {
      const actual = await read(async () => {
        const stream = await store.getStream(entry.key);
        if (!stream) return undefined;
        const hash = createHash('sha256');
        let size = 0;
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          hash.update(chunk);
          size += chunk.length;
        }
        return { sha256: hash.digest('hex'), size };
      });
      if (actual === undefined)
        problem('object-missing', entry.key, `object of entry #${entry.seq} (${entry.records} records) is missing`, entry.seq);
      else if (actual.sha256 !== entry.sha256 || actual.size !== entry.bytes) {
        problem('object-altered', entry.key, `SHA-256 ${actual.sha256.slice(0, 16)}… ≠ manifest ${entry.sha256.slice(0, 16)}…`, entry.seq);
      } else {
        summary.objects += 1;
        summary.records += entry.records;
        summary.bytes += entry.bytes;
      }
    } catch (error) {
      if (error instanceof StorageError && !error.retryable) problem('object-unreadable', entry.key, error.message, entry.seq);
      else throw error;
    }
  };

  // The chain, in order; entries are fetched ahead so that reads overlap.
  const pendingEntries: Promise<{ seq: number; key: string; bytes: Buffer | undefined }>[] = [];
  const handle = async (item: { seq: number; key: string; bytes: Buffer | undefined }): Promise<void> => {
    const { seq, key, bytes } = item;
    if (seq > prev.seq + 1) {
      const from = prev.seq + 1;
      problem(
        'manifest-missing',
        manifestKey(source, from),
        seq - 1 === from
          ? `entry #${from} is missing: the chain has a hole`
          : `entries #${from}–#${seq - 1} are missing: the chain has a hole`,
        from,
        seq - 1,
      );
      prev = { seq: seq - 1, sha256: null };
    }
    summary.head = seq;
    if (!bytes) {
      problem('manifest-missing', key, 'listed but unreadable', seq);
      prev = { seq, sha256: null };
      return;
    }
    const decoded = decodeEntry(bytes, keys);
    if ('problem' in decoded) {
      problem('manifest-altered', key, 'not a valid chain entry', seq);
      prev = { seq, sha256: null };
      return;
    }
    const { value: entry, sha256, signature } = decoded;
    summary.manifests += 1;
    summary.newestEntry = { seq, sha256 };
    shas.set(seq, sha256);
    firstWrittenAt ??= Date.parse(entry.writtenAt);
    recentShas.set(seq, sha256);
    if (recentShas.size > 4096) recentShas.delete(recentShas.keys().next().value!);
    if (entry.seq !== seq || entry.source !== source) problem('manifest-altered', key, `entry names #${entry.seq} of ${entry.source}`, seq);
    if (signature !== 'unsigned') signedSeen = true;
    if (signature === 'invalid') problem('manifest-altered', key, 'signature does not verify', seq);
    else if (signature === 'unknown-key') {
      problem('signature-unverifiable', key, `signed with key id ${entry.signature?.keyId}, which manifests.verifyKeys does not hold`, seq);
    } else if (signature === 'unsigned' && keys.checks) {
      if (signedSeen) problem('manifest-unsigned', key, 'unsigned entry after signed ones: its signature was removed', seq);
      else summary.unsigned += 1;
    }
    if (entry.kind === 'data') {
      if (seq === 1 && entry.prev !== null) problem('chain-broken', key, 'entry #1 names a predecessor', seq);
      else if (seq > 1 && prev.sha256 !== null && entry.prev !== prev.sha256) {
        // Either side of the link may be the damaged one (an edited #n-1 changes its hash): name both.
        problem(
          'chain-broken',
          key,
          `prev does not match the hash of entry #${seq - 1} (${manifestKey(source, seq - 1)}): one of the two was altered or replaced`,
          seq,
        );
      }
      dataKeys.set(seq, entry.key);
      await objects.submit(() => checkObject(entry));
    } else if (entry.kind === 'acknowledgement') {
      summary.acknowledgements += 1;
      for (const s of entry.covers.seqs) coveredSeqs.add(s);
      for (const k of entry.covers.objects) coveredObjects.add(k);
      if (entry.anchor) {
        const anchorSha = recentShas.get(entry.anchor.seq) ?? (await readSha(entry.anchor.seq));
        if (anchorSha !== entry.anchor.sha256 || entry.prev !== entry.anchor.sha256) {
          problem('chain-broken', key, `acknowledgement names anchor #${entry.anchor.seq}, whose hash differs`, seq);
        }
      }
    } else {
      problem('finding', key, `recorded ${entry.writtenAt}: ${entry.problems.join('; ')}`, seq);
    }
    const expected = check.expected;
    if (expected && expected.seq === seq && expected.sha256 !== sha256) {
      problem(
        'manifest-altered',
        key,
        `differs from the entry the checkpoint store recorded at commit (SHA-256 ${expected.sha256.slice(0, 16)}…)`,
        seq,
      );
    }
    prev = { seq, sha256 };
  };
  const readSha = async (seq: number): Promise<string | undefined> => {
    const bytes = await read(() => store.getCreated(manifestKey(source, seq)));
    return bytes ? createHash('sha256').update(bytes).digest('hex') : undefined;
  };

  if (from?.entry) {
    // Everything up to here was intact when last verified: the point itself must still be there.
    const sha = await readSha(from.entry.seq);
    if (sha !== from.entry.sha256) {
      problem(
        sha === undefined ? 'manifest-missing' : 'manifest-altered',
        manifestKey(source, from.entry.seq),
        `entry #${from.entry.seq} ${sha === undefined ? 'is gone' : 'differs from the one'} verified ${from.verifiedAt}`,
        from.entry.seq,
      );
    }
    summary.head = from.entry.seq;
    shas.set(from.entry.seq, from.entry.sha256);
  }
  if (since && since.seq > 1) {
    summary.from = since.seq;
    summary.head = since.seq - 1;
    if (since.link === null) {
      problem(
        'manifest-missing',
        manifestKey(source, since.seq - 1),
        `entry #${since.seq - 1} is missing: the link into #${since.seq}, where this verify starts, cannot be checked`,
        since.seq - 1,
      );
    } else shas.set(since.seq - 1, since.link);
  }
  if (from?.entry) summary.from = from.entry.seq + 1;
  const listFrom = checkedAfter > 0 ? { startAfter: manifestKey(source, checkedAfter) } : {};
  for await (const item of store.listCreated(manifestPrefix(source), listFrom)) {
    const seq = parseManifestKey(item.key);
    if (seq === undefined) {
      problem('foreign-key', item.key, 'not a chain entry of this archive format');
      continue;
    }
    pendingEntries.push(read(() => store.getCreated(item.key)).then((bytes) => ({ seq, key: item.key, bytes })));
    // Settled-later rejections are rethrown when handled, in order.
    pendingEntries[pendingEntries.length - 1]!.catch(() => undefined);
    while (pendingEntries.length >= check.concurrency) await handle(await pendingEntries.shift()!);
  }
  while (pendingEntries.length > 0) await handle(await pendingEntries.shift()!);
  await objects.drain();
  const top = summary.head;
  const expected = check.expected;
  if (expected && expected.seq > top) {
    problem(
      'manifest-missing',
      manifestKey(source, top + 1),
      `the checkpoint store records ${expected.seq} entries (newest ${expected.key}) but storage ends at #${top}: the newest were deleted`,
      top + 1,
      expected.seq,
    );
  }

  // Data objects after the chain: anything numbered above the head committed meanwhile.
  // Incremental: data objects of the days since the last verify (a day before, for clock skew).
  const dataSince = from ? Date.parse(from.verifiedAt) : since?.writtenAt;
  const dataFrom = dataSince !== undefined ? dataFolder(source, new Date(dataSince - 86_400_000)) : undefined;
  for await (const item of store.list(`${source}/`, dataFrom ? { startAfter: dataFrom } : {})) {
    if (!item.key.endsWith(DATA_SUFFIX)) continue;
    const parsed = parseDataKey(item.key);
    if (!parsed || parsed.source !== source) {
      problem('object-without-manifest', item.key, 'data object not named like one of this source');
      continue;
    }
    if (parsed.seq > top) {
      summary.pending.push(item.key);
      continue;
    }
    if (parsed.seq <= checkedAfter) continue; // checked by an earlier run, or before `since`
    if (dataKeys.matches(parsed.seq, item.key)) continue;
    // An outraced writer (or the next holder) may be removing it right now: its intent says so.
    const intent = dataKeys.has(parsed.seq) ? await read(() => store.get(intentKey(source, parsed.seq, parsed.token))) : undefined;
    if (intent && parseIntent(intent)?.key === item.key) {
      summary.pending.push(item.key);
      continue;
    }
    problem(
      'object-without-manifest',
      item.key,
      `data object numbered #${parsed.seq} but not the one entry #${parsed.seq} names`,
      parsed.seq,
    );
  }
  for await (const item of store.list(intentPrefix(source))) {
    const parsed = parseIntentKey(item.key);
    if (!parsed || parsed.seq <= top) continue;
    const body = await read(() => store.get(item.key));
    const target = body ? parseIntent(body)?.key : undefined;
    if (target && !summary.pending.includes(target) && (await read(() => store.head(target)))) summary.pending.push(target);
  }

  const digestStart = from?.digest
    ? { n: from.digest.n, sha256: from.digest.sha256, at: Date.parse(from.digest.writtenAt), intervalMs: from.digest.intervalMs }
    : since?.digest;
  await checkDigests(store, source, check, digestStart, top, shas, firstWrittenAt, summary, problem);

  const problems: Problem[] = [];
  const acknowledged: Problem[] = [];
  const isCovered = (p: Problem): boolean => {
    if (coveredObjects.has(p.key)) return true;
    if (p.seq === undefined) return false;
    for (let s = p.seq; s <= (p.seqTo ?? p.seq); s += 1) if (!coveredSeqs.has(s)) return false;
    return true;
  };
  for (const p of found) {
    // An orphan whose number an acknowledgement voided is part of that loss.
    if (isCovered(p)) acknowledged.push(p);
    else problems.push(p);
  }
  return { summary, problems, acknowledged };
}

/**
 * The digests of a source, in order: each chained to the one before and signed, each naming a head
 * the chain must still hold; a gap longer than the writer's interval (or no digest since then) is
 * a finding of its own, with the time it starts.
 */
async function checkDigests(
  store: ObjectStore,
  source: string,
  check: SourceCheck,
  start: DigestPoint | undefined,
  top: number,
  shas: KeyIndex,
  firstWrittenAt: number | undefined,
  summary: SourceSummary,
  problem: (kind: ProblemKind, key: string, detail: string, seq?: number, seqTo?: number) => void,
): Promise<void> {
  const { read, keys } = check;
  const until = check.until?.getTime();
  let previous: DigestPoint | undefined = start ? { ...start } : undefined;
  let signedSeen = false;
  for await (const item of store.listCreated(digestPrefix(source), start ? { startAfter: digestKey(source, start.n) } : {})) {
    const n = parseDigestKey(item.key);
    if (n === undefined) {
      problem('foreign-key', item.key, 'not a digest of this archive format');
      continue;
    }
    if (n > (previous?.n ?? 0) + 1) {
      const from = (previous?.n ?? 0) + 1;
      problem(
        'digest-missing',
        digestKey(source, from),
        n - 1 === from ? `digest #${from} is missing` : `digests #${from}–#${n - 1} are missing`,
      );
      previous = previous ? { ...previous, sha256: null } : undefined;
    }
    const bytes = await read(() => store.getCreated(item.key));
    const decoded = bytes ? decodeSigned(bytes, digestSchema, keys) : undefined;
    if (!decoded || 'problem' in decoded || decoded.value.n !== n || decoded.value.source !== source) {
      problem('digest-altered', item.key, 'not a valid digest');
      previous = { n, sha256: null, at: previous?.at ?? 0, intervalMs: previous?.intervalMs ?? check.digestIntervalMs ?? 3_600_000 };
      continue;
    }
    const { value: digest, sha256, signature } = decoded;
    summary.digests += 1;
    if (signature !== 'unsigned') signedSeen = true;
    if (signature === 'invalid') problem('digest-altered', item.key, 'signature does not verify');
    else if (signature === 'unknown-key')
      problem(
        'signature-unverifiable',
        item.key,
        `signed with key id ${digest.signature?.keyId}, which manifests.verifyKeys does not hold`,
      );
    else if (signature === 'unsigned' && keys.checks && signedSeen)
      problem('digest-altered', item.key, 'unsigned digest after signed ones: its signature was removed');
    if (previous && previous.sha256 !== null && digest.prev !== previous.sha256) {
      problem('digest-altered', item.key, `prev does not match the hash of digest #${n - 1}: one of the two was altered or replaced`);
    }
    const at = Date.parse(digest.writtenAt);
    if (
      previous &&
      previous.at > 0 &&
      at - previous.at > previous.intervalMs + GAP_GRACE_MS &&
      (until === undefined || previous.at < until)
    ) {
      problem(
        'digest-gap',
        item.key,
        `no digest from ${new Date(previous.at).toISOString()} to ${digest.writtenAt}: longer than the interval (${Math.round(previous.intervalMs / 1000)} s)`,
      );
    }
    const head = digest.head;
    if (head) {
      if (head.seq > top) {
        // Committed after the chain was listed (a live archive), or the newest entries were deleted.
        if (!(await read(() => store.head(manifestKey(source, head.seq))))) {
          problem(
            'manifest-missing',
            manifestKey(source, top + 1),
            `digest #${n} (${digest.writtenAt}) names entry #${head.seq} but storage ends at #${top}: the newest entries were deleted`,
            top + 1,
            head.seq,
          );
        }
      } else if (shas.has(head.seq) && !shas.matches(head.seq, head.sha256)) {
        problem(
          'manifest-altered',
          manifestKey(source, head.seq),
          `differs from the entry digest #${n} (${digest.writtenAt}) names`,
          head.seq,
        );
      }
    }
    summary.newestDigestAt = digest.writtenAt;
    summary.newestDigest = { n, sha256, writtenAt: digest.writtenAt, intervalMs: digest.intervalMs };
    previous = { n, sha256, at, intervalMs: digest.intervalMs };
  }
  const now = check.now?.() ?? Date.now();
  const end = until ?? now;
  if (previous && previous.at > 0 && end - previous.at > previous.intervalMs + GAP_GRACE_MS) {
    problem(
      'digest-gap',
      digestKey(source, previous.n + 1),
      `no digest since ${new Date(previous.at).toISOString()}: the newest digests were deleted, or the archiver stopped writing`,
    );
  } else if (
    !previous &&
    top > 0 &&
    firstWrittenAt !== undefined &&
    end - firstWrittenAt > (check.digestIntervalMs ?? 3_600_000) + GAP_GRACE_MS
  ) {
    problem(
      'digest-gap',
      digestKey(source, 1),
      `no digest at all, though the chain starts ${new Date(firstWrittenAt).toISOString()}: nothing witnesses its tail`,
    );
  }
}

/** A digest as the next one is checked against: its number, hash (null: unreadable), time and interval. */
interface DigestPoint {
  n: number;
  sha256: string | null;
  at: number;
  intervalMs: number;
}

/** Where a `since` verify starts in a source's chain, and what it links to. */
interface SinceStart {
  /** First entry checked (the head + 1 when nothing is that new). */
  seq: number;
  /** SHA-256 of entry #seq-1, which #seq must name; null for #1 or when #seq-1 is missing. */
  link: string | null;
  /** When entry #seq was written (now, when there is none): data folders are listed from a day before. */
  writtenAt: number;
  /** The last digest naming a head before #seq: the digest chain is checked from the one after it. */
  digest: DigestPoint | undefined;
}

/**
 * Finds where a `since` verify starts without reading the chain before it: the newest numbers by
 * probing, the entry of a time and the digest before it by bisection. An entry or digest that cannot
 * be read while bisecting counts as new, so the verify starts earlier, never later.
 */
async function resolveSince(
  store: ObjectStore,
  source: string,
  since: VerifySince,
  keys: KeyRing,
  read: <T>(operation: () => Promise<T>) => Promise<T>,
): Promise<SinceStart> {
  const entryAt = async (seq: number): Promise<{ sha256: string; writtenAt: number } | undefined> => {
    const bytes = await read(() => store.getCreated(manifestKey(source, seq)));
    if (!bytes) return undefined;
    const decoded = decodeEntry(bytes, keys);
    return {
      sha256: createHash('sha256').update(bytes).digest('hex'),
      writtenAt: 'problem' in decoded ? Number.NaN : Date.parse(decoded.value.writtenAt),
    };
  };
  const highest = async (prefix: string, key: (n: number) => string, parse: (key: string) => number | undefined): Promise<number> => {
    let top = await probeHighest(async (n) => (await read(() => store.head(key(n)))) !== undefined);
    // Past a hole: whatever is listed after the probed number.
    for await (const item of store.listCreated(prefix, top > 0 ? { startAfter: key(top) } : {})) top = Math.max(top, parse(item.key) ?? 0);
    return top;
  };
  const top = await highest(manifestPrefix(source), (n) => manifestKey(source, n), parseManifestKey);
  let seq: number;
  if ('seq' in since) seq = Math.max(1, Math.floor(since.seq));
  else {
    // The first entry written at or after the time (entries are written in number order).
    const at = since.time.getTime();
    let low = 1;
    let high = top + 1;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      const entry = await entryAt(mid);
      if (entry && entry.writtenAt < at) low = mid + 1;
      else high = mid;
    }
    seq = low;
  }
  const first = seq <= top ? await entryAt(seq) : undefined;
  const writtenAt = first && Number.isFinite(first.writtenAt) ? first.writtenAt : Date.now();
  const link = seq > 1 ? ((await entryAt(seq - 1))?.sha256 ?? null) : null;

  // The first digest naming a head at or after #seq; the check starts from the one before it.
  const digests = await highest(digestPrefix(source), (n) => digestKey(source, n), parseDigestKey);
  let low = 1;
  let high = digests + 1;
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    const found = await read(() => readDigest(store, keys, source, mid));
    if (found && 'digest' in found && (found.digest.head?.seq ?? 0) < seq) low = mid + 1;
    else high = mid;
  }
  let digest: DigestPoint | undefined;
  if (low > 1) {
    const before = await read(() => readDigest(store, keys, source, low - 1));
    digest =
      before && 'digest' in before
        ? { n: low - 1, sha256: before.sha256, at: Date.parse(before.digest.writtenAt), intervalMs: before.digest.intervalMs }
        : { n: low - 1, sha256: null, at: 0, intervalMs: 3_600_000 };
  }
  return { seq, link, writtenAt, digest };
}

/** A few bytes per chain entry: a hash of the data key each number names, to match listed objects. */
class KeyIndex {
  #hashes = new Uint32Array(1024);

  set(seq: number, key: string): void {
    while (seq >= this.#hashes.length) {
      const bigger = new Uint32Array(this.#hashes.length * 2);
      bigger.set(this.#hashes);
      this.#hashes = bigger;
    }
    this.#hashes[seq] = fnv1a(key);
  }

  /** Whether entry `seq` was a data entry. */
  has(seq: number): boolean {
    return seq < this.#hashes.length && this.#hashes[seq] !== 0;
  }

  matches(seq: number, key: string): boolean {
    return seq < this.#hashes.length && this.#hashes[seq] === fnv1a(key) && this.#hashes[seq] !== 0;
  }
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash === 0 ? 1 : hash;
}

/** Runs at most `limit` tasks at once; `submit` waits for a free slot; the first failure is rethrown. */
class Pool {
  readonly #running = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  async submit(task: () => Promise<void>): Promise<void> {
    while (this.#running.size >= this.limit) await Promise.race(this.#running);
    this.#rethrow();
    const tracked: Promise<void> = task()
      .catch((error: unknown) => {
        this.#failure ??= { error };
      })
      .finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
  }

  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.race(this.#running);
    this.#rethrow();
  }

  #rethrow(): void {
    if (this.#failure) throw this.#failure.error;
  }
}
