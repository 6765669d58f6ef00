import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  computeSignature,
  encodeQuery,
  formatSdkDate,
  parseAuthorization,
  parseSdkDate,
  queryFromSearchParams,
  signRequest,
} from '../src/providers/huawei/signer.js';
import { pick, prng } from './helpers/random.js';

// The official SDK is CommonJS; require() sidesteps ESM interop. Only the surface used here is typed.
interface SdkRequest {
  endpoint: string;
  url: string;
  method: string;
  headers: Record<string, string>;
  queryParams: Record<string, string | string[]>;
  data?: unknown;
}
interface SdkCredentials {
  withAk(ak: string): SdkCredentials;
  withSk(sk: string): SdkCredentials;
  withProjectId(projectId: string): SdkCredentials;
  withSecurityToken(token: string): SdkCredentials;
  // processAuthRequest is the SDK's own path from a request to its signed headers (adds
  // X-Project-Id / X-Security-Token, substitutes {project_id}, then calls AKSKSigner.sign).
  processAuthRequest(client: unknown, request: SdkRequest): Promise<SdkRequest>;
}
const require = createRequire(import.meta.url);
const sdk = require('@huaweicloud/huaweicloud-sdk-core') as { BasicCredentials: new () => SdkCredentials };

function text(random: () => number, pieces: readonly string[], min: number, max: number): string {
  let out = '';
  const length = min + Math.floor(random() * (max - min + 1));
  for (let i = 0; i < length; i += 1) out += pick(random, pieces);
  return out;
}

// Path characters: unreserved, sub-delims and non-ASCII. Characters Node's legacy url.parse
// (used inside the SDK) silently re-escapes (space, quotes, braces) are left out of paths: the SDK
// would then sign its own escaping twice, which is not what API Gateway verifies.
const PATH_PIECES = ['a', 'Z', '7', '-', '_', '.', '~', '!', '$', '(', ')', '*', '+', ',', ';', '=', ':', '@', 'é', '数据', '😀'];
// Query text gets everything, including what must be escaped.
const QUERY_PIECES = [...PATH_PIECES, ' ', '&', '?', '#', '/', '%', "'", '"', '<', '>', '{', '}', '|', '^', '`', '\u00a0', '脱敏'];
const HEADER_NAME_PIECES = ['a', 'b', 'x', 'k', '0', '9', '-'];
const HEADER_VALUE_PIECES = ['a', 'Z', '0', ' ', ';', ',', '=', '/', ':', '*', '"', "'", '(', ')'];

function randomHeaders(random: () => number): Record<string, string> {
  const headers: Record<string, string> = {};
  const seen = new Set(['host', 'x-sdk-date', 'authorization', 'x-project-id', 'x-security-token', 'content-type']);
  const count = Math.floor(random() * 5);
  for (let i = 0; i < count; i += 1) {
    const base = `x${text(random, HEADER_NAME_PIECES, 1, 8)}`;
    if (seen.has(base)) continue;
    seen.add(base);
    // Mixed case: the signer must lower-case names but keep what the caller passed.
    const name = random() < 0.5 ? base.toUpperCase() : base;
    // No leading/trailing whitespace: HTTP strips it on the wire.
    headers[name] = `v${text(random, HEADER_VALUE_PIECES, 0, 12)}z`;
  }
  if (random() < 0.5) headers.workspace = `ws${Math.floor(random() * 1e9).toString(16)}`;
  return headers;
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

describe('SDK-HMAC-SHA256 signer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('signs exactly like @huaweicloud/huaweicloud-sdk-core on 60 randomised requests', async () => {
    const random = prng(4_202_611);
    for (let n = 0; n < 60; n += 1) {
      const projectId =
        random() < 0.8
          ? Math.floor(random() * 2 ** 48)
              .toString(16)
              .padStart(32, '0')
          : undefined;
      const credentials = {
        ak: `AK${Math.floor(random() * 1e12)
          .toString(36)
          .toUpperCase()}`,
        sk: `sk-${text(random, QUERY_PIECES, 10, 40)}`,
        securityToken: random() < 0.5 ? `tok-${text(random, ['a', 'B', '9', '-', '_'], 20, 60)}` : undefined,
      };
      const segments: string[] = [pick(random, ['v1', 'v1.0', 'v2'])];
      if (projectId) segments.push('{project_id}');
      const depth = 1 + Math.floor(random() * 4);
      for (let i = 0; i < depth; i += 1) segments.push(text(random, PATH_PIECES, 1, 10));
      const rawPath = `/${segments.join('/')}${random() < 0.3 ? '/' : ''}`;
      const query: Record<string, string | string[]> = {};
      const params = Math.floor(random() * 6);
      for (let i = 0; i < params; i += 1) {
        const key = text(random, QUERY_PIECES, 1, 6);
        query[key] =
          random() < 0.2 ? [text(random, QUERY_PIECES, 0, 8), text(random, QUERY_PIECES, 0, 8)] : text(random, QUERY_PIECES, 0, 12);
      }
      const headers = randomHeaders(random);
      const host = pick(random, ['dayu.cn-north-4.myhuaweicloud.com', 'dws.ap-southeast-1.myhuaweicloud.com', '127.0.0.1:39211']);
      const scheme = host.startsWith('127.') ? 'http' : 'https';
      const method = random() < 0.85 ? 'GET' : 'POST';
      const data = method === 'POST' ? { name: text(random, QUERY_PIECES, 1, 10), n } : undefined;

      // Freeze the clock identically for both: each reads the time itself.
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(new Date(Date.UTC(2020, 0, 1) + Math.floor(random() * 2e11)));

      const sdkCredentials = new sdk.BasicCredentials().withAk(credentials.ak).withSk(credentials.sk);
      if (projectId) sdkCredentials.withProjectId(projectId);
      if (credentials.securityToken) sdkCredentials.withSecurityToken(credentials.securityToken);
      const sdkRequest: SdkRequest = {
        endpoint: `${scheme}://${host}`,
        url: rawPath,
        method,
        headers: { ...headers },
        queryParams: structuredClone(query),
        ...(data ? { data } : {}),
      };
      const sdkSigned = await sdkCredentials.processAuthRequest(undefined, sdkRequest);

      // Ours: the URL as it goes on the wire (WHATWG-encoded path, our query encoding).
      const wirePath = rawPath.replace('{project_id}', projectId ?? '');
      const url = new URL(`${scheme}://${host}${wirePath}`);
      url.search = encodeQuery(query);
      const ours = signRequest({ method, url, headers, body: data ? JSON.stringify(data) : undefined }, credentials, { projectId });
      vi.useRealTimers();

      expect(lowerKeys(ours), `request ${n}: ${method} ${rawPath}`).toEqual(lowerKeys(sdkSigned.headers));
      expect(ours.Authorization).toMatch(/^SDK-HMAC-SHA256 Access=AK\w+, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/);
      expect(ours.Authorization).not.toContain(credentials.sk);
      expect('X-Security-Token' in ours).toBe(credentials.securityToken !== undefined);
      expect('X-Project-Id' in ours).toBe(projectId !== undefined);
      expect(ours['X-Sdk-Date']).toMatch(/^\d{8}T\d{6}Z$/);
    }
  });

  it('signs the canonical path with a trailing slash whether or not the request has one', () => {
    const date = new Date(Date.UTC(2024, 6, 8, 12, 2, 46));
    const credentials = { ak: 'AK', sk: 'SK' };
    const a = signRequest({ method: 'GET', url: new URL('https://h.example/v1/p/x'), headers: {} }, credentials, { date });
    const b = signRequest({ method: 'GET', url: new URL('https://h.example/v1/p/x/'), headers: {} }, credentials, { date });
    expect(a.Authorization).toBe(b.Authorization);
  });

  it('round-trips what a server needs to verify: date, Authorization, query', () => {
    const date = new Date(Date.UTC(2024, 6, 8, 12, 2, 46));
    expect(formatSdkDate(date)).toBe('20240708T120246Z');
    expect(parseSdkDate('20240708T120246Z')?.getTime()).toBe(date.getTime());
    expect(parseSdkDate('2024-07-08')).toBeUndefined();
    const url = new URL('http://127.0.0.1:1/v1/p/service/instances/i/accesslog');
    url.search = encodeQuery({ is_api: 'true', 'a b': ['é', '+'] });
    expect(url.search).toBe('?a%20b=%2B&a%20b=%C3%A9&is_api=true');
    const query = queryFromSearchParams(new URL(url.href).searchParams);
    expect(query).toEqual({ 'a b': ['+', 'é'], is_api: 'true' });
    const signed = signRequest({ method: 'GET', url, headers: { workspace: 'w' } }, { ak: 'AK', sk: 'SK' }, { date });
    const parsed = parseAuthorization(signed.Authorization!);
    expect(parsed).toMatchObject({ access: 'AK', signedHeaders: ['host', 'workspace', 'x-sdk-date'] });
    const headers = Object.fromEntries(parsed!.signedHeaders.map((name) => [name, lowerKeys(signed)[name]!]));
    expect(computeSignature({ method: 'GET', path: url.pathname, query, headers }, 'SK', signed['X-Sdk-Date']!)).toBe(parsed!.signature);
    expect(computeSignature({ method: 'GET', path: url.pathname, query, headers }, 'wrong', signed['X-Sdk-Date']!)).not.toBe(
      parsed!.signature,
    );
  });
});
