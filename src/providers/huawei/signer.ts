import { createHash, createHmac } from 'node:crypto';

/**
 * Huawei Cloud AK/SK request signing (SDK-HMAC-SHA256), as done by the official
 * `@huaweicloud/huaweicloud-sdk-core` `AKSKSigner`. The product carries this small signer instead of
 * the SDK (axios, lodash, moment, log4js); test/huawei-signer.test.ts proves byte-identical headers.
 *
 * Canonical request (lines joined by `\n`):
 *   METHOD, canonical path (each segment RFC 3986 encoded, always ending in `/`),
 *   canonical query (keys sorted, `k=v` joined by `&`), canonical headers (`name:value\n` each,
 *   lower-cased names sorted), signed header names (`;`), hex SHA-256 of the body.
 * String to sign: `SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hex sha256(canonical request)>`;
 * signature: hex HMAC-SHA256(SK, string to sign).
 */

export const SIGNING_ALGORITHM = 'SDK-HMAC-SHA256';
export const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** AK/SK pair, with the security token of temporary credentials. */
export interface AkSkCredentials {
  ak: string;
  sk: string;
  securityToken?: string | undefined;
}

/** Everything a signature covers; headers are exactly the signed ones (host and X-Sdk-Date included). */
export interface SigningInput {
  method: string;
  /** Path as sent on the wire (percent-encoded); segments are decoded then re-encoded canonically. */
  path: string;
  query: Readonly<Record<string, string | readonly string[]>>;
  headers: Readonly<Record<string, string>>;
  /** Request body; GET requests have none. */
  body?: string | undefined;
}

/** A request to sign: the URL carries path and query (as built by `encodeQuery`). */
export interface RequestToSign {
  method: string;
  url: URL;
  headers: Readonly<Record<string, string>>;
  body?: string | undefined;
}

export interface SignOptions {
  /** Sent as `X-Project-Id`, as the SDK does for project-scoped credentials. */
  projectId?: string | undefined;
  /** Signing time; @defaultValue now */
  date?: Date;
}

/** `yyyyMMddTHHmmssZ` in UTC, the `X-Sdk-Date` format. */
export function formatSdkDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** Parses an `X-Sdk-Date` value; undefined when malformed. */
export function parseSdkDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  const time = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  return Number.isFinite(time) ? new Date(time) : undefined;
}

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

/** RFC 3986 percent-encoding of UTF-8 bytes, upper-case hex; only unreserved characters stay. */
export function huaweiUrlEncode(value: string): string {
  let out = '';
  for (const char of value) {
    if (char.length === 1 && UNRESERVED.test(char)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The query string as sent: same encoding and order as the canonical query, so the two never disagree. */
export function encodeQuery(query: Readonly<Record<string, string | readonly string[]>>): string {
  return canonicalQuery(query);
}

/** Collects a URL's query into the key → value(s) shape the signer sorts. */
export function queryFromSearchParams(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of params) {
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [existing, value];
  }
  return out;
}

function codeUnitCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function canonicalPath(path: string): string {
  // Segments are decoded first so the signature covers the characters, not one particular
  // escaping of them; the SDK and API Gateway both sign the re-encoded form.
  const encoded = path
    .split('/')
    .map((segment) => huaweiUrlEncode(safeDecode(segment)))
    .join('/');
  // Huawei always signs a trailing slash, whether or not the request path has one.
  return encoded.endsWith('/') ? encoded : `${encoded}/`;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function canonicalQuery(query: Readonly<Record<string, string | readonly string[]>>): string {
  // Raw keys (and array values) are sorted before encoding, exactly as the SDK does.
  const parts: string[] = [];
  for (const key of Object.keys(query).sort(codeUnitCompare)) {
    const value = query[key];
    if (value === undefined) continue;
    const values = typeof value === 'string' ? [value] : [...value].sort(codeUnitCompare);
    for (const v of values) parts.push(`${huaweiUrlEncode(key)}=${huaweiUrlEncode(v)}`);
  }
  return parts.join('&');
}

/** Canonical request text and the `SignedHeaders` list for one request. */
export function canonicalRequest(input: SigningInput): { canonical: string; signedHeaders: string } {
  const entries = Object.entries(input.headers)
    .map(([name, value]) => [name.toLowerCase(), value] as const)
    .sort((a, b) => codeUnitCompare(a[0], b[0]));
  const canonicalHeaders = entries.map(([name, value]) => `${name}:${value}\n`).join('');
  const signedHeaders = entries.map(([name]) => name).join(';');
  const declared = entries.find(([name]) => name === 'x-sdk-content-sha256')?.[1];
  const payloadHash = declared ?? (input.body ? sha256Hex(input.body) : EMPTY_BODY_SHA256);
  const canonical = [
    input.method.toUpperCase(),
    canonicalPath(input.path),
    canonicalQuery(input.query),
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
  return { canonical, signedHeaders };
}

/** Hex signature of a request signed at `sdkDate` (the `X-Sdk-Date` value) with `sk`. */
export function computeSignature(input: SigningInput, sk: string, sdkDate: string): string {
  const { canonical } = canonicalRequest(input);
  const stringToSign = [SIGNING_ALGORITHM, sdkDate, sha256Hex(canonical)].join('\n');
  return createHmac('sha256', sk).update(stringToSign).digest('hex');
}

/**
 * Signs a request; returns every header to send, including `host` (which the caller may leave to
 * its HTTP client as long as it sends the same value), `X-Sdk-Date`, `Authorization`, and
 * `X-Project-Id` / `X-Security-Token` when given. Sign afresh for every attempt: the date is signed.
 */
export function signRequest(request: RequestToSign, credentials: AkSkCredentials, options: SignOptions = {}): Record<string, string> {
  const headers: Record<string, string> = {};
  // Same precedence as the SDK: auth headers first, the caller's headers override them.
  if (credentials.securityToken) headers['X-Security-Token'] = credentials.securityToken;
  if (options.projectId) headers['X-Project-Id'] = options.projectId;
  Object.assign(headers, request.headers);
  const sdkDate = formatSdkDate(options.date ?? new Date());
  headers['X-Sdk-Date'] = sdkDate;
  headers.host = request.url.host;
  const input: SigningInput = {
    method: request.method,
    path: request.url.pathname,
    query: queryFromSearchParams(request.url.searchParams),
    headers,
    body: request.body,
  };
  const { signedHeaders } = canonicalRequest(input);
  const signature = computeSignature(input, credentials.sk, sdkDate);
  headers.Authorization = `${SIGNING_ALGORITHM} Access=${credentials.ak}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}

/** The parts of an `Authorization: SDK-HMAC-SHA256 …` header; undefined when it is not one. */
export function parseAuthorization(value: string): { access: string; signedHeaders: string[]; signature: string } | undefined {
  const m = /^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)$/.exec(value.trim());
  if (!m) return undefined;
  return { access: m[1] ?? '', signedHeaders: (m[2] ?? '').split(';'), signature: m[3] ?? '' };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
