/**
 * RFC 3986 percent-encoding of a string's UTF-8 bytes, upper-case hex: only unreserved
 * characters (`A-Z a-z 0-9 - _ . ~`) stay. Both clouds' signature documents canonicalise with it.
 */
export function rfc3986(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Compares by UTF-16 code units, the order both clouds sort canonical names in. */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
