import { createHash } from 'node:crypto';
import type { ObjectStore } from '../storage/index.js';
import { DATA_SUFFIX, parseSeqKey } from './layout.js';
import { decodeManifest, type Manifest } from './manifest.js';

export type ProblemKind =
  | 'object-missing'
  | 'object-altered'
  | 'manifest-missing'
  | 'manifest-altered'
  | 'manifest-unsigned'
  | 'chain-broken'
  | 'manifest-duplicate'
  | 'object-without-manifest';

/** One thing wrong with the archive, located by key. */
export interface Problem {
  source: string;
  kind: ProblemKind;
  key: string;
  detail: string;
}

export interface SourceSummary {
  source: string;
  manifests: number;
  objects: number;
  records: number;
  bytes: number;
  /** Uploads with an intent and no manifest yet: a drain in flight or one the next drain cleans. */
  pending: string[];
}

export interface VerifyReport {
  ok: boolean;
  sources: SourceSummary[];
  problems: Problem[];
}

/** The newest manifest as the checkpoint store recorded it when it was committed. */
export interface ExpectedHead {
  seq: number;
  key: string;
  sha256: string;
}

export interface VerifyOptions {
  hmacKey?: Buffer | undefined;
  /** Last committed sequence per source as the checkpoint store knows it, to detect a cut tail. */
  expectedHeads?: Map<string, ExpectedHead>;
  /** Sources to report even when storage holds nothing for them. */
  sources?: string[];
}

/**
 * Walks every source's manifest chain, re-hashes every object, and reports what is missing,
 * altered or unaccounted for. Reads only; never repairs.
 */
export async function verifyArchive(store: ObjectStore, options: VerifyOptions = {}): Promise<VerifyReport> {
  const data = new Map<string, number>();
  const manifests = new Map<string, string[]>();
  const intents = new Map<string, string[]>();
  for await (const item of store.list('')) {
    const parts = item.key.split('/');
    if (parts[0] === '_manifests' && parts.length === 3) push(manifests, parts[1]!, item.key);
    else if (parts[0] === '_intents' && parts.length === 3) push(intents, parts[1]!, item.key);
    else if (item.key.endsWith(DATA_SUFFIX)) data.set(item.key, item.size);
  }
  const problems: Problem[] = [];
  const summaries: SourceSummary[] = [];
  const referenced = new Set<string>();
  const sources = new Set([...manifests.keys(), ...(options.sources ?? []), ...[...data.keys()].map((k) => k.split('/')[0]!)]);
  for (const source of [...sources].sort()) {
    const summary: SourceSummary = { source, manifests: 0, objects: 0, records: 0, bytes: 0, pending: [] };
    summaries.push(summary);
    const bySeq = new Map<number, string[]>();
    for (const key of manifests.get(source) ?? []) {
      const parsed = parseSeqKey(key);
      if (parsed) push(bySeq, parsed.seq, key);
    }
    const maxSeq = Math.max(0, ...bySeq.keys());
    let prev: string | null = null;
    let prevKey: string | undefined;
    for (let seq = 1; seq <= maxSeq; seq += 1) {
      const keys = bySeq.get(seq) ?? [];
      if (keys.length === 0) {
        problems.push({
          source,
          kind: 'manifest-missing',
          key: `_manifests/${source}/${String(seq).padStart(10, '0')}-*`,
          detail: `manifest #${seq} is missing: the chain has a hole`,
        });
        prev = null;
        prevKey = undefined;
        continue;
      }
      if (keys.length > 1) {
        problems.push({ source, kind: 'manifest-duplicate', key: keys.join(', '), detail: `${keys.length} manifests claim #${seq}` });
      }
      // With several claimants, follow the one the chain continues through.
      let chosen: { key: string; manifest: Manifest; sha256: string } | undefined;
      for (const key of keys) {
        const bytes = await store.get(key);
        if (!bytes) {
          problems.push({ source, kind: 'manifest-missing', key, detail: 'listed but unreadable' });
          continue;
        }
        const decoded = decodeManifest(bytes, options.hmacKey);
        if ('problem' in decoded) {
          const kind = decoded.problem === 'unsigned' ? 'manifest-unsigned' : 'manifest-altered';
          problems.push({
            source,
            kind,
            key,
            detail:
              decoded.problem === 'bad-signature'
                ? 'HMAC signature does not match'
                : decoded.problem === 'unsigned'
                  ? 'manifest carries no HMAC signature'
                  : 'manifest is not a valid manifest',
          });
          continue;
        }
        if (!chosen || decoded.manifest.prev === prev) chosen = { key, ...decoded };
      }
      if (!chosen) {
        prev = null;
        prevKey = undefined;
        continue;
      }
      const { manifest } = chosen;
      if (manifest.seq !== seq || manifest.source !== source) {
        problems.push({
          source,
          kind: 'manifest-altered',
          key: chosen.key,
          detail: `manifest names #${manifest.seq} of ${manifest.source}`,
        });
      }
      if (seq > 1 && prev !== null && manifest.prev !== prev) {
        // Either side of the link may be the damaged one (an edited #n-1 changes its hash): name both.
        problems.push({
          source,
          kind: 'chain-broken',
          key: chosen.key,
          detail: `prev ${manifest.prev ?? 'null'} does not match the hash of manifest #${seq - 1} (${prevKey ?? '?'}): one of the two was altered or replaced`,
        });
      } else if (seq === 1 && manifest.prev !== null) {
        problems.push({ source, kind: 'chain-broken', key: chosen.key, detail: 'first manifest names a predecessor' });
      }
      const head = options.expectedHeads?.get(source);
      if (head && head.seq === seq && (head.key !== chosen.key || head.sha256 !== chosen.sha256)) {
        // The newest manifest has no successor to vouch for it; the checkpoint store does.
        problems.push({
          source,
          kind: 'manifest-altered',
          key: head.key,
          detail: `manifest #${seq} differs from the one the checkpoint store recorded at commit (SHA-256 ${head.sha256.slice(0, 16)}…)`,
        });
      }
      prev = chosen.sha256;
      prevKey = chosen.key;
      summary.manifests += 1;
      referenced.add(manifest.key);
      const size = data.get(manifest.key);
      if (size === undefined) {
        problems.push({
          source,
          kind: 'object-missing',
          key: manifest.key,
          detail: `object of manifest #${seq} (${manifest.records} records) is missing`,
        });
        continue;
      }
      const actual = await hashObject(store, manifest.key);
      if (actual === undefined) {
        problems.push({ source, kind: 'object-missing', key: manifest.key, detail: 'listed but unreadable' });
      } else if (actual !== manifest.sha256 || size !== manifest.bytes) {
        problems.push({
          source,
          kind: 'object-altered',
          key: manifest.key,
          detail: `SHA-256 ${actual.slice(0, 16)}… ≠ manifest ${manifest.sha256.slice(0, 16)}…`,
        });
      } else {
        summary.objects += 1;
        summary.records += manifest.records;
        summary.bytes += manifest.bytes;
      }
    }
    const expected = options.expectedHeads?.get(source);
    if (expected !== undefined && expected.seq > maxSeq) {
      const first = `_manifests/${source}/${String(maxSeq + 1).padStart(10, '0')}-*`;
      problems.push({
        source,
        kind: 'manifest-missing',
        key: `_manifests/${source}/`,
        detail: `checkpoint store records ${expected.seq} objects (newest ${expected.key}) but storage has manifests up to #${maxSeq}: the newest (${first} on) were deleted`,
      });
    }
    const pendingKeys = new Set<string>();
    for (const key of intents.get(source) ?? []) {
      // Only the object after the head can be in flight; an intent below it protects nothing.
      if ((parseSeqKey(key)?.seq ?? 0) <= maxSeq) continue;
      const body = await store.get(key);
      try {
        const target = body ? (JSON.parse(body.toString('utf8')) as { key?: string }).key : undefined;
        if (target && !referenced.has(target)) pendingKeys.add(target);
      } catch {
        // an unreadable intent protects nothing
      }
    }
    summary.pending = [...pendingKeys].filter((k) => data.has(k));
  }
  for (const key of data.keys()) {
    if (referenced.has(key)) continue;
    const source = key.split('/')[0]!;
    if (summaries.find((s) => s.source === source)?.pending.includes(key)) continue;
    problems.push({ source, kind: 'object-without-manifest', key, detail: 'data object not described by any manifest' });
  }
  return { ok: problems.length === 0, sources: summaries, problems };
}

async function hashObject(store: ObjectStore, key: string): Promise<string | undefined> {
  const stream = await store.getStream(key);
  if (!stream) return undefined;
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function push<K>(map: Map<K, string[]>, key: K, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
