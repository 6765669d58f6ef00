import { createHash, createHmac } from 'node:crypto';
import { byCodeUnit, rfc3986 } from './rfc3986.js';

/**
 * The signature an Alibaba Cloud gateway expects for a V3 (ACS3-HMAC-SHA256) request, computed
 * from what arrived, as Alibaba's signature document describes it — written here independently of
 * the archiver's signer, so the simulators check it rather than agree with it:
 *
 *   CanonicalRequest = Method \n Path \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n HexPayloadHash
 *   CanonicalQuery   = name=value pairs, both RFC 3986 encoded, sorted by name, joined by &
 *   CanonicalHeaders = lower-case name:trimmed value \n, for each signed header, sorted
 *   Signature        = hex HMAC-SHA256(secret, "ACS3-HMAC-SHA256\n" + hex SHA-256(CanonicalRequest))
 */
export function expectedAcs3Signature(request: {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  signedHeaders: readonly string[];
  payloadSha256: string;
  secret: string;
}): string {
  const query = [...request.query]
    .map(([name, value]) => [rfc3986(name), rfc3986(value)] as const)
    .sort((a, b) => byCodeUnit(a[0], b[0]) || byCodeUnit(a[1], b[1]))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const signed = [...request.signedHeaders].map((n) => n.toLowerCase()).sort(byCodeUnit);
  const headers = signed.map((name) => `${name}:${(request.headers[name] ?? '').trim()}\n`).join('');
  const canonical = [request.method, request.path, query, headers, signed.join(';'), request.payloadSha256].join('\n');
  const toSign = `ACS3-HMAC-SHA256\n${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
  return createHmac('sha256', request.secret).update(toSign, 'utf8').digest('hex');
}
