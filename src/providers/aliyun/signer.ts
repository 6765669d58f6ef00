import { createHash, createHmac, randomFillSync } from 'node:crypto';

/** The V3 signature algorithm name, as it appears in the Authorization header. */
export const ACS3_ALGORITHM = 'ACS3-HMAC-SHA256';

/** Hex SHA-256 of the empty body every RPC-style call sends. */
export const EMPTY_PAYLOAD_SHA256 = createHash('sha256').update('').digest('hex');

/** AccessKey credentials as the signer needs them; `securityToken` only for STS. */
export interface AliyunSigningCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string | undefined;
}

/** One RPC-style request to sign: POST /, all parameters in the query string, empty body. */
export interface AliyunRpcRequestToSign {
  host: string;
  action: string;
  version: string;
  /** Parameter values already flattened to strings. */
  query: Record<string, string>;
  /** ISO-8601 UTC without milliseconds; fresh for every attempt. @defaultValue now */
  date?: string;
  /** Unique per attempt; Alibaba rejects a reused nonce. @defaultValue 16 random bytes, hex */
  nonce?: string;
}

/** A request ready to send: the headers (Authorization included) and the encoded query string. */
export interface SignedAliyunRequest {
  headers: Record<string, string>;
  /** `k=v&…` encoded exactly as it was signed, without the leading `?`. */
  queryString: string;
}

/**
 * Percent-encoding of the official SDK (`@alicloud/openapi-util` `encode`): encodeURIComponent
 * plus `!'()*`, so `~` stays literal and a space is `%20` (RFC 3986 unreserved set).
 */
export function acsPercentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Canonical query string as the SDK builds it: keys sorted by UTF-16 code unit (JS default sort),
 * keys left as-is and values percent-encoded. Parameter names are ASCII, so the unencoded key
 * matches what the server recomputes; we mirror the SDK rather than "fix" it.
 */
export function canonicalQueryString(query: Record<string, string>): string {
  return Object.keys(query)
    .sort()
    .map((key) => `${key}=${acsPercentEncode(query[key] ?? '')}`)
    .join('&');
}

/** ISO-8601 UTC without milliseconds (`2026-01-02T03:04:05Z`), the x-acs-date format. */
export function acsDate(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Computes the `Authorization` value for already-built headers, the SDK's `getAuthorization`
 * re-implemented: signed headers are host, content-type and every x-acs-* header, lower-cased,
 * trimmed and sorted. Exported so a simulator verifies with the very code that signs.
 */
export function acs3Authorization(input: {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  payloadSha256: string;
  accessKeyId: string;
  accessKeySecret: string;
}): string {
  const grouped = new Map<string, string[]>();
  for (const [name, value] of Object.entries(input.headers)) {
    const lower = name.toLowerCase();
    if (!(lower.startsWith('x-acs-') || lower === 'host' || lower === 'content-type')) continue;
    const list = grouped.get(lower) ?? [];
    list.push(value.trim());
    grouped.set(lower, list);
  }
  const signedNames = [...grouped.keys()].sort();
  const canonicalHeaders = signedNames.map((n) => `${n}:${(grouped.get(n) ?? []).sort().join(',')}\n`).join('');
  const canonicalRequest = [
    input.method,
    input.path,
    canonicalQueryString(input.query),
    canonicalHeaders,
    signedNames.join(';'),
    input.payloadSha256,
  ].join('\n');
  const hashed = createHash('sha256').update(canonicalRequest, 'utf8').digest('hex');
  const stringToSign = `${ACS3_ALGORITHM}\n${hashed}`;
  const signature = createHmac('sha256', input.accessKeySecret).update(stringToSign, 'utf8').digest('hex');
  return `${ACS3_ALGORITHM} Credential=${input.accessKeyId},SignedHeaders=${signedNames.join(';')},Signature=${signature}`;
}

const NONCE_BYTES = 16;
/** Random bytes for 256 nonces, drawn at once: a system call per attempt cost more than the signature. */
const noncePool = Buffer.alloc(NONCE_BYTES * 256);
let noncePoolAt = noncePool.length;

/** A fresh nonce: 16 random bytes (from the CSPRNG, never handed out twice), hex. */
export function signatureNonce(): string {
  if (noncePoolAt + NONCE_BYTES > noncePool.length) {
    randomFillSync(noncePool);
    noncePoolAt = 0;
  }
  const nonce = noncePool.toString('hex', noncePoolAt, noncePoolAt + NONCE_BYTES);
  noncePoolAt += NONCE_BYTES;
  return nonce;
}

/** Signs one RPC-style call (POST /, empty body) with ACS3-HMAC-SHA256; call once per attempt. */
export function signRpcRequest(request: AliyunRpcRequestToSign, credentials: AliyunSigningCredentials): SignedAliyunRequest {
  const headers: Record<string, string> = {
    host: request.host,
    'x-acs-action': request.action,
    'x-acs-version': request.version,
    'x-acs-date': request.date ?? acsDate(),
    'x-acs-signature-nonce': request.nonce ?? signatureNonce(),
    'x-acs-content-sha256': EMPTY_PAYLOAD_SHA256,
  };
  if (credentials.securityToken) headers['x-acs-security-token'] = credentials.securityToken;
  headers.authorization = acs3Authorization({
    method: 'POST',
    path: '/',
    query: request.query,
    headers,
    payloadSha256: EMPTY_PAYLOAD_SHA256,
    accessKeyId: credentials.accessKeyId,
    accessKeySecret: credentials.accessKeySecret,
  });
  return { headers, queryString: canonicalQueryString(request.query) };
}
