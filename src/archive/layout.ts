/**
 * Where things live in the archive: the one module that knows key shapes. Data keys are
 * browsable by source and date; everything else sits under `_`-folders, so listing them never
 * walks the data.
 *
 *   <source>/<YYYY>/<MM>/<DD>/<source>-<seq>-<token>.ndjson.gz   data (gzip NDJSON envelopes)
 *   _manifests/<source>/<seq>.json                                chain entry #seq, created create-only
 *   _intents/<source>/<seq>-<token>.json                          "about to upload": finds crashed uploads
 *   _digests/<source>/<n>.json                                    signed digest #n of the source's head
 *   _owner/<n>.json                                               owner record #n of this prefix
 *
 * `seq` (10 digits) numbers a source's chain entries; `token` (16 digits) is the fencing token of
 * the drain that wrote a data object, so two writers of one number never share a data key. The
 * manifest key carries no token: whoever creates `<seq>.json` first wins the number.
 */
export const DATA_SUFFIX = '.ndjson.gz';

export const MANIFESTS = '_manifests/';
export const INTENTS = '_intents/';
export const DIGESTS = '_digests/';
export const OWNER = '_owner/';

const SEQ_DIGITS = 10;

/** A sequence number as it appears in keys: zero-padded so that key order is number order. */
export function padSeq(seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, '0');
}

/** The UTC date folder of `at` under `source`: `<source>/YYYY/MM/DD/`. */
export function dataFolder(source: string, at: Date): string {
  const y = at.getUTCFullYear();
  const m = String(at.getUTCMonth() + 1).padStart(2, '0');
  const d = String(at.getUTCDate()).padStart(2, '0');
  return `${source}/${y}/${m}/${d}/`;
}

/** Key of the data object number `seq` of `source`, written by `token`, dated `at` (UTC). */
export function dataKey(source: string, seq: number, token: string, at: Date): string {
  return `${dataFolder(source, at)}${source}-${padSeq(seq)}-${token}${DATA_SUFFIX}`;
}

/** Lists a date folder from this key on (exclusive) to see data objects numbered ≥ `seq`. */
export function dataListStart(folder: string, source: string, seq: number): string {
  return `${folder}${source}-${padSeq(seq)}`;
}

/** Source, number and token of a data key; undefined for anything else. */
export function parseDataKey(key: string): { source: string; seq: number; token: string } | undefined {
  const match = /^([a-z0-9][a-z0-9_-]{0,63})\/\d{4}\/\d{2}\/\d{2}\/\1-(\d{10})-(\d{16})\.ndjson\.gz$/.exec(key);
  if (!match) return undefined;
  return { source: match[1]!, seq: Number(match[2]), token: match[3]! };
}

export function manifestPrefix(source: string): string {
  return `${MANIFESTS}${source}/`;
}

export function manifestKey(source: string, seq: number): string {
  return `${manifestPrefix(source)}${padSeq(seq)}.json`;
}

/** Lists from this key on (exclusive) to see chain entries numbered ≥ `seq`. */
export function manifestListStart(source: string, seq: number): string {
  return `${manifestPrefix(source)}${padSeq(seq)}`;
}

/** The number of a chain entry key; undefined for foreign keys (and older layouts). */
export function parseManifestKey(key: string): number | undefined {
  const match = /^_manifests\/[^/]+\/(\d{10})\.json$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

/** The source folder a `listFolders(MANIFESTS)` entry names. */
export function sourceOfFolder(folder: string, root: string): string | undefined {
  if (!folder.startsWith(root) || !folder.endsWith('/')) return undefined;
  const name = folder.slice(root.length, -1);
  return /^[a-z0-9][a-z0-9_-]{0,63}$/.test(name) ? name : undefined;
}

export function intentPrefix(source: string): string {
  return `${INTENTS}${source}/`;
}

export function intentKey(source: string, seq: number, token: string): string {
  return `${intentPrefix(source)}${padSeq(seq)}-${token}.json`;
}

/** Intents of writers of number `seq` share this prefix. */
export function intentSeqPrefix(source: string, seq: number): string {
  return `${intentPrefix(source)}${padSeq(seq)}-`;
}

/** Number and token of an intent key; undefined for foreign keys. */
export function parseIntentKey(key: string): { seq: number; token: string } | undefined {
  const match = /^_intents\/[^/]+\/(\d{10})-(\d{16})\.json$/.exec(key);
  if (!match) return undefined;
  return { seq: Number(match[1]), token: match[2]! };
}

export function digestPrefix(source: string): string {
  return `${DIGESTS}${source}/`;
}

export function digestKey(source: string, n: number): string {
  return `${digestPrefix(source)}${padSeq(n)}.json`;
}

/** Lists from this key on (exclusive) to see digests numbered above `n`. */
export function digestListStart(source: string, n: number): string {
  return `${digestPrefix(source)}${padSeq(n)}`;
}

export function parseDigestKey(key: string): number | undefined {
  const match = /^_digests\/[^/]+\/(\d{10})\.json$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

export function ownerKey(n: number): string {
  return `${OWNER}${padSeq(n)}.json`;
}

export function parseOwnerKey(key: string): number | undefined {
  const match = /^_owner\/(\d{10})\.json$/.exec(key);
  return match ? Number(match[1]) : undefined;
}
