/**
 * Where things live in the archive. Data keys are browsable by source and date; manifests and
 * intents sit under `_manifests/` and `_intents/` so that listing them never walks the data.
 *
 *   <source>/<YYYY>/<MM>/<DD>/<source>-<seq>-<token>.ndjson.gz   data (gzip NDJSON envelopes)
 *   _manifests/<source>/<seq>-<token>.json                        one per data object, hash-chained
 *   _intents/<source>/<seq>-<token>.json                          "about to upload": lets a crash be cleaned up
 *
 * `seq` (10 digits) numbers a source's objects; `token` (16 digits) is the fencing token of the
 * drain that wrote it, so two writers of one seq never share a key and the newer one is known.
 */
export const DATA_SUFFIX = '.ndjson.gz';

const pad = (seq: number): string => String(seq).padStart(10, '0');

/** Key of the data object number `seq` of `source`, dated `at` (UTC). */
export function dataKey(source: string, seq: number, token: string, at: Date): string {
  const y = at.getUTCFullYear();
  const m = String(at.getUTCMonth() + 1).padStart(2, '0');
  const d = String(at.getUTCDate()).padStart(2, '0');
  return `${source}/${y}/${m}/${d}/${source}-${pad(seq)}-${token}${DATA_SUFFIX}`;
}

export function manifestPrefix(source: string): string {
  return `_manifests/${source}/`;
}

export function manifestKey(source: string, seq: number, token: string): string {
  return `${manifestPrefix(source)}${pad(seq)}-${token}.json`;
}

/** Lists from this key on (exclusive) to see manifests with sequence ≥ `seq`. */
export function manifestListStart(source: string, seq: number): string {
  return `${manifestPrefix(source)}${pad(seq)}`;
}

export function intentPrefix(source: string): string {
  return `_intents/${source}/`;
}

export function intentKey(source: string, seq: number, token: string): string {
  return `${intentPrefix(source)}${pad(seq)}-${token}.json`;
}

/** Sequence and token from a manifest or intent key; undefined for foreign keys. */
export function parseSeqKey(key: string): { seq: number; token: string } | undefined {
  const match = /\/(\d{10})-(\d{16})\.json$/.exec(key);
  if (!match) return undefined;
  return { seq: Number(match[1]), token: match[2]! };
}
