import { createHash, createHmac } from 'node:crypto';
import { byCodeUnit, rfc3986 } from './rfc3986.js';

/** The parts of an `Authorization: SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…` header. */
export function parseHuaweiAuthorization(value: string): { access: string; signedHeaders: string[]; signature: string } | undefined {
  const m = /^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)$/.exec(value.trim());
  if (!m) return undefined;
  return { access: m[1] ?? '', signedHeaders: (m[2] ?? '').split(';'), signature: m[3] ?? '' };
}

/** An `X-Sdk-Date` value (`yyyyMMddTHHmmssZ`) as ms since the epoch; undefined when malformed. */
export function parseHuaweiSdkDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const time = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isFinite(time) ? time : undefined;
}

/**
 * The signature Huawei API Gateway expects for an SDK-HMAC-SHA256 request, computed from what
 * arrived, as the API Gateway signing document describes it — written here independently of the
 * archiver's signer, so the simulators check it rather than agree with it:
 *
 *   CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n HexPayloadHash
 *   CanonicalURI     = each path segment decoded then RFC 3986 encoded, always ending in /
 *   CanonicalQuery   = key=value pairs RFC 3986 encoded, sorted by key then value, joined by &
 *   CanonicalHeaders = lower-case name:value \n, for each signed header, sorted
 *   Signature        = hex HMAC-SHA256(SK, "SDK-HMAC-SHA256\n" + X-Sdk-Date + "\n" + hex SHA-256(CanonicalRequest))
 */
export function expectedHuaweiSignature(request: {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  signedHeaders: readonly string[];
  body: string;
  sk: string;
  sdkDate: string;
}): string {
  const segments = request.path.split('/').map((segment) => rfc3986(decodeSegment(segment)));
  let uri = segments.join('/');
  if (!uri.endsWith('/')) uri += '/';
  const query = [...request.query]
    .sort((a, b) => byCodeUnit(a[0], b[0]) || byCodeUnit(a[1], b[1]))
    .map(([key, value]) => `${rfc3986(key)}=${rfc3986(value)}`)
    .join('&');
  const signed = [...request.signedHeaders].map((n) => n.toLowerCase()).sort(byCodeUnit);
  const headers = signed.map((name) => `${name}:${request.headers[name] ?? ''}\n`).join('');
  const payload = request.headers['x-sdk-content-sha256'] ?? createHash('sha256').update(request.body).digest('hex');
  const canonical = [request.method.toUpperCase(), uri, query, headers, signed.join(';'), payload].join('\n');
  const toSign = `SDK-HMAC-SHA256\n${request.sdkDate}\n${createHash('sha256').update(canonical).digest('hex')}`;
  return createHmac('sha256', request.sk).update(toSign).digest('hex');
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
