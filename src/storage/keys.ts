import { StorageError } from '../errors/index.js';

/**
 * Key rules shared by every store, so that an archive can move between S3 and a directory
 * without a key becoming invalid on the way: `/`-separated, relative, no empty, `.` or `..`
 * segment (a file store would resolve those outside its root), no backslash or NUL (Windows
 * paths, C strings), and no segment starting with the file store's temp marker.
 */
export const TEMP_MARKER = '.la-tmp-';

const MAX_KEY_BYTES = 1024; // S3's own limit on key length

/** Throws a non-retryable StorageError unless `key` is a valid object key. */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) {
    throw new StorageError(`invalid object key ${JSON.stringify(key)}: ${problem}`, {
      key,
      retryable: false,
      hint: 'object keys are relative `/`-separated paths without `.`/`..` segments',
    });
  }
}

function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} bytes`;
  if (key.includes('\0')) return 'contains NUL';
  if (key.includes('\\')) return 'contains a backslash';
  if (key.startsWith('/')) return 'absolute';
  for (const segment of key.split('/')) {
    if (segment === '') return 'empty path segment';
    if (segment === '.' || segment === '..') return `"${segment}" segment`;
    if (segment.startsWith(TEMP_MARKER)) return `segment starts with the reserved "${TEMP_MARKER}"`;
  }
  return undefined;
}

/**
 * Normalises a store prefix to `''` or `something/`: a prefix names a folder, and without the
 * trailing slash `archive` + `a.ndjson.gz` would silently become `archivea.ndjson.gz`.
 */
export function normalizePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === '' || prefix === '/') return '';
  const trimmed = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  assertValidKey(trimmed);
  return `${trimmed}/`;
}

/**
 * Orders keys the way S3 lists them: by UTF-8 bytes. JavaScript's `<` compares UTF-16 code
 * units, which disagrees for characters outside the BMP versus U+E000–U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  // Code point order is UTF-8 byte order. Without encoding anything (listings sort whole folders):
  // UTF-16 order agrees with it except between a surrogate (U+D800–U+DFFF, half of a character
  // above U+FFFF) and U+E000–U+FFFF, so surrogates are moved above those before comparing.
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}
