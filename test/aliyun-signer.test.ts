import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { EMPTY_PAYLOAD_SHA256, acsDate, canonicalQueryString, signatureNonce, signRpcRequest } from '../src/providers/aliyun/signer.js';
import { pick, prng } from './helpers/random.js';

// The official SDK is CommonJS with `exports.default = Client`; require() sidesteps ESM interop.
interface SdkRequest {
  pathname: string;
  method: string;
  query: Record<string, string>;
  headers: Record<string, string>;
}
interface OpenApiUtil {
  getAuthorization(request: SdkRequest, algorithm: string, payload: string, ak: string, secret: string): string;
}
const require = createRequire(import.meta.url);
const sdk = (require('@alicloud/openapi-util') as { default: OpenApiUtil }).default;

const PIECES = [
  'a',
  'Z',
  '9',
  ' ',
  '*',
  '~',
  "'",
  '(',
  ')',
  '!',
  '+',
  '=',
  '&',
  '%',
  '/',
  '?',
  '#',
  '数据',
  '脱敏',
  '😀',
  'é',
  '\u00a0',
  '-',
  '_',
  '.',
  ':',
  ',',
  ';',
];
const ACTIONS = ['GetDataQualityScanRunLog', 'DescribeDataMaskingRunHistory', 'ListExecutionLogs', 'DescribeRegions'];
const NAMES = [
  'Id',
  'Offset',
  'RegionId',
  'ExecutionId',
  'NextToken',
  'MaxResults',
  'StartTime',
  'EndTime',
  'Lang',
  'TaskId',
  'PageSize',
  'CurrentPage',
  'LogType',
  'SrcTableName',
];

function randomText(random: () => number, max: number): string {
  let out = '';
  const length = Math.floor(random() * max);
  for (let i = 0; i < length; i += 1) out += pick(random, PIECES);
  return out;
}

describe('ACS3-HMAC-SHA256 signer', () => {
  it('matches @alicloud/openapi-util getAuthorization byte for byte on randomised requests', () => {
    const random = prng(20260101);
    for (let n = 0; n < 60; n += 1) {
      const query: Record<string, string> = {};
      const count = 1 + Math.floor(random() * 6);
      for (let i = 0; i < count; i += 1) query[pick(random, NAMES)] = randomText(random, 12);
      const credentials = {
        accessKeyId: `LTAI${Math.floor(random() * 1e12)}`,
        accessKeySecret: `sk-${Math.floor(random() * 1e9)}-${randomText(random, 30)}`,
        securityToken: random() < 0.5 ? `CAIS${randomText(random, 20)}` : undefined,
      };
      const host = pick(random, ['dataworks.cn-hangzhou.aliyuncs.com', 'sddp.cn-shanghai.aliyuncs.com', '127.0.0.1:43121']);
      const action = pick(random, ACTIONS);
      const version = pick(random, ['2024-05-18', '2019-01-03', '2019-06-01']);
      const signed = signRpcRequest(
        { host, action, version, query, date: acsDate(1_700_000_000_000 + n * 1000), nonce: `nonce-${n}` },
        credentials,
      );
      const { authorization, ...unsigned } = signed.headers;
      const expected = sdk.getAuthorization(
        { pathname: '/', method: 'POST', query, headers: unsigned },
        'ACS3-HMAC-SHA256',
        EMPTY_PAYLOAD_SHA256,
        credentials.accessKeyId,
        credentials.accessKeySecret,
      );
      expect(authorization).toBe(expected);
      expect(authorization).toMatch(
        /^ACS3-HMAC-SHA256 Credential=LTAI\d+,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;/,
      );
      expect(authorization!.includes('x-acs-security-token')).toBe(credentials.securityToken !== undefined);
      expect(authorization).not.toContain(credentials.accessKeySecret);
    }
  });

  it('signs each attempt afresh: new nonce and date give a new signature', () => {
    const base = {
      host: 'oos.cn-hangzhou.aliyuncs.com',
      action: 'ListExecutionLogs',
      version: '2019-06-01',
      query: { ExecutionId: 'exec-1' },
    };
    const credentials = { accessKeyId: 'LTAItest', accessKeySecret: 's3cr3t' };
    const a = signRpcRequest(base, credentials);
    const b = signRpcRequest(base, credentials);
    expect(a.headers['x-acs-signature-nonce']).not.toBe(b.headers['x-acs-signature-nonce']);
    expect(a.headers.authorization).not.toBe(b.headers.authorization);
    expect(a.headers['x-acs-date']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('never hands out a nonce twice, across refills of its pool: 16 random bytes, hex', () => {
    const nonces = Array.from({ length: 2000 }, () => signatureNonce());
    expect(new Set(nonces).size).toBe(nonces.length);
    for (const nonce of nonces) expect(nonce).toMatch(/^[0-9a-f]{32}$/);
  });

  it("encodes the query like the SDK: space %20, ~ literal, !'()* escaped, UTF-8", () => {
    expect(canonicalQueryString({ b: "a b~!'()*", a: '数😀' })).toBe('a=%E6%95%B0%F0%9F%98%80&b=a%20b~%21%27%28%29%2A');
  });
});
