import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpClient } from '../src/http/index.js';
import {
  ProviderAuthError,
  ProviderResponseError,
  ProviderServerError,
  ProviderThrottledError,
  ProviderValidationError,
} from '../src/errors/index.js';
import {
  AliyunRpcClient,
  aliyunCredentialsSchema,
  acsDate,
  signRpcRequest,
  type AliyunCredentials,
} from '../src/providers/aliyun/index.js';
import { OosSimulator } from '../simulators/index.js';
import { SddpSimulator } from '../simulators/index.js';
import { FAST_RETRY } from './helpers/provider-harness.js';
import { silentLogger } from '../src/observability/index.js';

const sim = new OosSimulator({ securityToken: undefined });
const http = new HttpClient({ timeoutMs: 500, maxBodyBytes: 1024 * 1024 });

function client(
  credentials: AliyunCredentials = sim.credentials,
  options: { maxAttempts?: number; lines?: string[]; beforeAttempt?: () => Promise<{ release(): void }> } = {},
): AliyunRpcClient {
  const lines = options.lines;
  const logger = lines
    ? pino(
        { level: 'warn' },
        new Writable({
          write: (chunk, _enc, done) => {
            lines.push(String(chunk));
            done();
          },
        }),
      )
    : silentLogger();
  return new AliyunRpcClient({
    endpoint: sim.url,
    credentials,
    version: '2019-06-01',
    http,
    retry: { ...FAST_RETRY, maxAttempts: options.maxAttempts ?? FAST_RETRY.maxAttempts },
    source: 'oos-exec',
    provider: 'aliyun-oos-execution-logs',
    signal: new AbortController().signal,
    // The drain hands clients a logger bound to the source.
    logger: logger.child({ source: 'oos-exec' }),
    beforeAttempt: options.beforeAttempt,
  });
}

const LIST = { RegionId: 'cn-hangzhou', ExecutionId: 'exec-1', MaxResults: 10 };

beforeAll(async () => {
  await sim.start();
  sim.addExecution('exec-1');
  sim.appendLogs('exec-1', ['one', 'two']);
});
afterAll(async () => {
  await sim.stop();
  await http.close();
});

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

describe('AliyunRpcClient', () => {
  it('calls a signed RPC action and returns body and RequestId', async () => {
    const result = await client().call('ListExecutionLogs', LIST);
    expect((result.body as { ExecutionLogs: unknown[] }).ExecutionLogs).toHaveLength(2);
    expect(result.requestId).toMatch(/^[0-9A-F-]{36}$/);
  });

  it('wrong secret → ProviderAuthError, not retried, names the source and what to fix, never the secret', async () => {
    const secret = 'wrong-secret-value-123456';
    const before = sim.callTimes.length;
    const error = await failure(
      client({ accessKeyId: sim.credentials.accessKeyId, accessKeySecret: secret }).call('ListExecutionLogs', LIST),
    );
    expect(error).toBeInstanceOf(ProviderAuthError);
    expect(sim.callTimes.length - before).toBe(1);
    expect((error as ProviderAuthError).providerCode).toBe('SignatureDoesNotMatch');
    expect(error.message).toContain('oos-exec');
    expect(error.message).toContain('accessKeySecret');
    expect(JSON.stringify({ m: error.message, h: (error as ProviderAuthError).hint })).not.toContain(secret);
  });

  it('unknown AccessKey ID → ProviderAuthError InvalidAccessKeyId.NotFound', async () => {
    const error = await failure(client({ accessKeyId: 'LTAInope', accessKeySecret: 'x-secret' }).call('ListExecutionLogs', LIST));
    expect(error).toBeInstanceOf(ProviderAuthError);
    expect((error as ProviderAuthError).providerCode).toBe('InvalidAccessKeyId.NotFound');
    expect(error.message).toContain('accessKeyId');
  });

  it('unknown resource → ProviderValidationError, not retried', async () => {
    const before = sim.callTimes.length;
    const error = await failure(client().call('ListExecutionLogs', { ...LIST, ExecutionId: 'exec-missing' }));
    expect(error).toBeInstanceOf(ProviderValidationError);
    expect((error as ProviderValidationError).providerCode).toBe('EntityNotExists.Execution');
    expect(sim.callTimes.length - before).toBe(1);
  });

  it('throttling is retried, waiting at least the TimeLeft the headers ask for', async () => {
    sim.faults.enqueue('throttle', 2);
    const lines: string[] = [];
    const started = Date.now();
    const result = await client(sim.credentials, { lines }).call('ListExecutionLogs', LIST);
    expect(result.requestId).toBeDefined();
    // The simulator sends TimeLeft:20 (ms); our jitter ceiling is 5–10 ms, so only TimeLeft explains ≥ 40 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(38);
    const logged = lines.map((l) => JSON.parse(l) as { code: string; delayMs: number; attempt: number; source: string });
    expect(logged.map((l) => l.code)).toEqual(['Throttling.User', 'Throttling.User']);
    expect(logged.every((l) => l.delayMs >= 20 && l.source === 'oos-exec')).toBe(true);
  });

  it('throttling surfaces as ProviderThrottledError with retryAfterMs when attempts run out', async () => {
    sim.faults.enqueue('throttle');
    const error = await failure(client(sim.credentials, { maxAttempts: 1 }).call('ListExecutionLogs', LIST));
    expect(error).toBeInstanceOf(ProviderThrottledError);
    expect((error as ProviderThrottledError).retryAfterMs).toBe(20);
  });

  it('5xx → ProviderServerError, retried', async () => {
    sim.faults.enqueue('server');
    expect(await failure(client(sim.credentials, { maxAttempts: 1 }).call('ListExecutionLogs', LIST))).toBeInstanceOf(ProviderServerError);
    sim.faults.enqueue('server', 3);
    await expect(client().call('ListExecutionLogs', LIST)).resolves.toBeDefined();
  });

  for (const kind of ['html', 'truncated', 'malformed', 'oversize', 'proto'] as const) {
    it(`${kind} body → ProviderResponseError, retried, then success`, async () => {
      sim.faults.enqueue(kind);
      expect(await failure(client(sim.credentials, { maxAttempts: 1 }).call('ListExecutionLogs', LIST))).toBeInstanceOf(
        ProviderResponseError,
      );
      sim.faults.enqueue(kind);
      const lines: string[] = [];
      const result = await client(sim.credentials, { lines }).call('ListExecutionLogs', LIST);
      expect((result.body as { ExecutionLogs: unknown[] }).ExecutionLogs).toHaveLength(2);
      expect(lines.map((l) => (JSON.parse(l) as { code: string }).code)).toEqual(['ERR_PROVIDER_RESPONSE']);
    });
  }

  it('every attempt, retries included, takes a permit first and releases it once its answer or failure is in', async () => {
    const events: string[] = [];
    let taken = 0;
    const beforeAttempt = async () => {
      taken += 1;
      const n = taken;
      events.push(`take ${n}`);
      return { release: () => events.push(`release ${n}`) };
    };
    sim.faults.enqueue('server');
    sim.faults.enqueue('reset');
    await expect(client(sim.credentials, { beforeAttempt }).call('ListExecutionLogs', LIST)).resolves.toBeDefined();
    expect(events).toEqual(['take 1', 'release 1', 'take 2', 'release 2', 'take 3', 'release 3']);
    // A failure that is not retried releases too.
    events.length = 0;
    sim.faults.enqueue('server');
    await failure(client(sim.credentials, { beforeAttempt, maxAttempts: 1 }).call('ListExecutionLogs', LIST));
    expect(events).toEqual(['take 4', 'release 4']);
  });

  it('timeouts and connection resets are retried', async () => {
    sim.faults.enqueue('reset');
    sim.faults.enqueue('timeout');
    await expect(client().call('ListExecutionLogs', LIST)).resolves.toBeDefined();
  });

  it('STS: the security token is signed and required when the simulator expects one', async () => {
    const sts = new OosSimulator({ securityToken: 'CAIS-session-token' });
    await sts.start();
    try {
      sts.addExecution('exec-1');
      const make = (credentials: AliyunCredentials): AliyunRpcClient =>
        new AliyunRpcClient({
          endpoint: sts.url,
          credentials,
          version: '2019-06-01',
          http,
          retry: FAST_RETRY,
          source: 'sts-source',
          provider: 'aliyun-oos-execution-logs',
          signal: new AbortController().signal,
          logger: silentLogger(),
        });
      await expect(make(sts.credentials).call('ListExecutionLogs', LIST)).resolves.toBeDefined();
      const { securityToken: _dropped, ...withoutToken } = sts.credentials;
      const error = await failure(make(withoutToken).call('ListExecutionLogs', LIST));
      expect(error).toBeInstanceOf(ProviderAuthError);
      expect(error.message).toContain('securityToken');
    } finally {
      await sts.stop();
    }
  });

  it('the simulator refuses a reused nonce and a skewed date', async () => {
    const url = new URL('/', sim.url);
    const signed = signRpcRequest(
      { host: url.host, action: 'ListExecutionLogs', version: '2019-06-01', query: { ExecutionId: 'exec-1' } },
      sim.credentials,
    );
    url.search = signed.queryString;
    const first = await http.send({ method: 'POST', url, headers: signed.headers });
    expect(first.statusCode).toBe(200);
    const replay = await http.send({ method: 'POST', url, headers: signed.headers });
    expect(replay.statusCode).toBe(400);
    expect(JSON.parse(replay.body).Code).toBe('SignatureNonceUsed');
    const old = signRpcRequest(
      {
        host: url.host,
        action: 'ListExecutionLogs',
        version: '2019-06-01',
        query: { ExecutionId: 'exec-1' },
        date: acsDate(Date.now() - 16 * 60_000),
      },
      sim.credentials,
    );
    const skewed = await http.send({ method: 'POST', url, headers: old.headers });
    expect(JSON.parse(skewed.body).Code).toBe('InvalidTimeStamp.Expired');
  });

  it('every retry is signed afresh (a handler-level refusal records the nonce)', async () => {
    const sddp = new SddpSimulator({ limitPerSecond: 1, throttleToleranceMs: 900 });
    await sddp.start();
    try {
      const c = new AliyunRpcClient({
        endpoint: sddp.url,
        credentials: sddp.credentials,
        version: '2019-01-03',
        http,
        retry: FAST_RETRY,
        source: 'sddp',
        provider: 'aliyun-sddp-masking-history',
        signal: new AbortController().signal,
        logger: silentLogger(),
      });
      await c.call('DescribeDataMaskingRunHistory', { CurrentPage: 1 });
      await c.call('DescribeDataMaskingRunHistory', { CurrentPage: 1 });
      expect(sddp.throttled).toBeGreaterThanOrEqual(1);
      expect(sddp.rpc.refusals.get('SignatureNonceUsed') ?? 0).toBe(0);
    } finally {
      await sddp.stop();
    }
  });

  it('credentials schema is strict', () => {
    expect(aliyunCredentialsSchema.safeParse({ accessKeyId: 'a', accessKeySecert: 'b' }).success).toBe(false);
    expect(aliyunCredentialsSchema.parse({ accessKeyId: 'a', accessKeySecret: 'b', securityToken: 't' })).toEqual({
      accessKeyId: 'a',
      accessKeySecret: 'b',
      securityToken: 't',
    });
  });
});
