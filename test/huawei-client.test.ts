import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ProviderAuthError,
  ProviderError,
  ProviderResponseError,
  ProviderServerError,
  ProviderThrottledError,
  ProviderValidationError,
} from '../src/errors/index.js';
import { defaultRetryPolicy, retryDelay, type FailedAnswer, type RetryPolicy } from '../src/http/index.js';
import {
  DEFAULT_THROTTLE_FLOOR_MS,
  HuaweiClient,
  huaweiCredentialsSchema,
  mapHuaweiError,
  type HuaweiCredentials,
  type HuaweiErrorBody,
} from '../src/providers/huawei/index.js';
import { dataArtsAccessLogPath, huaweiDataArtsAccessLogProvider } from '../src/providers/huawei-dataarts-accesslog.js';
import { huaweiDwsAuditLogRecordsProvider } from '../src/providers/huawei-dws-audit-log-records.js';
import { harnessContext } from './helpers/provider-harness.js';
import { HuaweiDataArtsSimulator } from '../simulators/index.js';
import type { FaultKind } from '../simulators/faults.js';

const PROJECT = '0833a5737480d53b2f250010d01a7b88';
const INSTANCE = '4f9366ce3e87860934c36d0ac027ad6a';
const WORKSPACE = 'a9e2b6f1c8d04b7e9f3a1c2d3e4f5a6b';
const AK = 'HPUAEXAMPLEAK1234567';
const SK = 'sk-Secret/With+Reserved=Chars-0123456789';
const TEMP = { ak: 'TMPAKEXAMPLE0000001', sk: 'temp-secret-key-9876', securityToken: 'gQpjbi1ub3J0aC00tempTokenValue' };
const TOKEN = 'MIIZmgYJKoZIhvcNAQcCoIIZizCCGYcCAQExDTALBglghkgBZQMEAgEwgXXXX';
const FAST: RetryPolicy = { maxAttempts: 6, baseDelayMs: 2, maxDelayMs: 20, maxElapsedMs: 10_000 };

let sim: HuaweiDataArtsSimulator;
let context: ReturnType<typeof harnessContext>;
let logLines: string[];

beforeEach(async () => {
  sim = new HuaweiDataArtsSimulator({
    projectId: PROJECT,
    instanceId: INSTANCE,
    workspace: WORKSPACE,
    auth: { keys: [{ ak: AK, sk: SK }, TEMP], tokens: [TOKEN] },
  });
  await sim.start();
  sim.generateAccessLogs(3, { accessTime: 1720440166661 });
  logLines = [];
  context = harnessContext({
    retry: FAST,
    logger: pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) }),
  });
});

afterEach(async () => {
  await sim.stop();
  await context.close();
});

function client(credentials: HuaweiCredentials, extra: { throttleFloorMs?: number; retry?: RetryPolicy; path?: string } = {}) {
  return new HuaweiClient({
    endpoint: sim.url,
    credentials,
    http: context.http,
    retry: extra.retry ?? FAST,
    source: 'dataservice-access',
    provider: 'huawei-dataarts-accesslog',
    signal: context.signal,
    logger: context.services.logger.child({ source: 'dataservice-access' }),
    projectId: PROJECT,
    throttleFloorMs: extra.throttleFloorMs,
  });
}

function accessLogs(c: HuaweiClient, workspace = WORKSPACE, path = dataArtsAccessLogPath(PROJECT, INSTANCE)) {
  return c.get(path, { is_api: 'true' }, { workspace });
}

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

/** A failed answer as the shared client hands it to the Huawei error mapping. */
function failed(answer: {
  statusCode: number;
  headers: Record<string, string>;
  body: HuaweiErrorBody | undefined;
  mode?: 'aksk' | 'token';
}): FailedAnswer<HuaweiErrorBody> {
  return {
    ...answer,
    call: 'GET /',
    details: { source: 's' },
    credentialKind: answer.mode ?? 'aksk',
    scrub: (text) => text,
  };
}

/** Everything an operator could see of an error. */
function visible(error: ProviderError): string {
  return [error.message, error.hint, JSON.stringify(error), String(error.stack)].join('\n');
}

describe('HuaweiClient', () => {
  it('reads with AK/SK, with temporary AK/SK + security token, and with an IAM token', async () => {
    for (const credentials of [{ ak: AK, sk: SK }, TEMP, { token: TOKEN }]) {
      const result = await accessLogs(client(credentials));
      expect(result.body).toMatchObject({ number: 3 });
      expect((result.body as { records: unknown[] }).records).toHaveLength(3);
      expect(result.requestId).toMatch(/^[0-9a-f]{32}$/);
      expect(result.bytes).toBeGreaterThan(100);
    }
    expect(sim.calls).toBe(3);
  });

  it('refuses wrong AK/SK, a missing security token and a wrong token: ProviderAuthError, not retried, naming the source, no secret', async () => {
    const cases: { credentials: HuaweiCredentials; secrets: string[] }[] = [
      { credentials: { ak: AK, sk: 'not-the-secret-key' }, secrets: ['not-the-secret-key', SK] },
      { credentials: { ak: 'UNKNOWNAK0000000000', sk: SK }, secrets: [SK] },
      { credentials: { ak: TEMP.ak, sk: TEMP.sk }, secrets: [TEMP.sk] },
      { credentials: { token: 'expired-token-value-123456' }, secrets: ['expired-token-value-123456', TOKEN] },
    ];
    for (const { credentials, secrets } of cases) {
      const before = sim.calls;
      const error = await rejection(accessLogs(client(credentials)));
      expect(error).toBeInstanceOf(ProviderAuthError);
      expect(error.retryable).toBe(false);
      expect(sim.calls - before).toBe(1);
      expect(error.statusCode).toBe(401);
      expect(error.providerCode).toBe('APIGW.0301');
      expect(error.requestId).toMatch(/^[0-9a-f]{32}$/);
      expect(error.message).toContain('dataservice-access');
      expect(error.hint).toContain('dataservice-access');
      expect(error.hint).toMatch('token' in credentials ? /credentials\.token/ : /credentials\.ak/);
      for (const secret of secrets) expect(visible(error)).not.toContain(secret);
    }
    expect(logLines.filter((l) => l.includes('"level":40'))).toHaveLength(0);
  });

  it('a path API Gateway does not know (APIGW.0101) is an auth error pointing at the endpoint', async () => {
    const error = await rejection(accessLogs(client({ ak: AK, sk: SK }), WORKSPACE, `/v1/${PROJECT}/service/instances/${INSTANCE}/nope`));
    expect(error).toBeInstanceOf(ProviderAuthError);
    expect(error.providerCode).toBe('APIGW.0101');
    expect(error.hint).toMatch(/endpoint/);
    expect(sim.calls).toBe(1);
  });

  it('other 4xx (wrong workspace, unknown cluster) are validation errors, not retried', async () => {
    const wrongWorkspace = await rejection(accessLogs(client({ token: TOKEN }), 'other-workspace'));
    expect(wrongWorkspace).toBeInstanceOf(ProviderValidationError);
    expect(wrongWorkspace.statusCode).toBe(400);
    expect(wrongWorkspace.message).toMatch(/dataservice-access.*HTTP 400 DLM\.4002/);
    const unknown = await rejection(accessLogs(client({ ak: AK, sk: SK }), WORKSPACE, dataArtsAccessLogPath(PROJECT, 'nope')));
    expect(unknown).toBeInstanceOf(ProviderValidationError);
    expect(unknown.statusCode).toBe(404);
    expect(sim.calls).toBe(2);
  });

  it('retries 429 APIGW.0308 after at least the throttle floor, signing each attempt afresh, and logs at warn', async () => {
    sim.faults.enqueue('throttle', 2);
    const result = await accessLogs(client({ ak: AK, sk: SK }, { throttleFloorMs: 40 }));
    expect((result.body as { number: number }).number).toBe(3);
    expect(sim.calls).toBe(3);
    const [a, b, c] = sim.callTimes;
    expect(b! - a!).toBeGreaterThanOrEqual(38);
    expect(c! - b!).toBeGreaterThanOrEqual(78); // the floor doubles on the next attempt
    const warns = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 40);
    expect(warns).toHaveLength(2);
    expect(warns[0]).toMatchObject({ source: 'dataservice-access', code: 'APIGW.0308', attempt: 1 });
    expect(logLines.join('\n')).not.toContain(SK);
  });

  it('without an explicit floor, throttling waits 2–5 s under the default policy, less under a short one', () => {
    const policy = (throttleFloorMs: number): RetryPolicy => ({ ...defaultRetryPolicy, throttleFloorMs });
    const throttled = mapHuaweiError(
      failed({
        statusCode: 429,
        headers: { 'x-request-id': 'r1' },
        body: { error_code: 'APIGW.0308', error_msg: 'The throttling threshold has been reached' },
      }),
    );
    expect(throttled).toBeInstanceOf(ProviderThrottledError);
    // random() = 0 puts the backoff at 0 and the throttle wait at the floor; 1 at 2.5× the floor.
    expect(retryDelay(throttled, 1, policy(2000), () => 0)).toBe(2000);
    expect(retryDelay(throttled, 1, policy(2000), () => 1)).toBe(5000);
    expect(retryDelay(throttled, 1, policy(DEFAULT_THROTTLE_FLOOR_MS), () => 0)).toBe(2000);
    // APIGW.0308 means throttling whatever the status; Retry-After wins when longer.
    const withHeader = mapHuaweiError(
      failed({
        statusCode: 400,
        headers: { 'retry-after': '7' },
        body: { error_code: 'APIGW.0308', error_msg: 'over ratelimit' },
        mode: 'token',
      }),
    );
    expect(withHeader).toBeInstanceOf(ProviderThrottledError);
    expect(retryDelay(withHeader, 1, policy(2000), () => 0)).toBe(7000);
    expect((withHeader as ProviderThrottledError).retryAfterMs).toBe(7000);
    expect(withHeader.retryable).toBe(true);
  });

  it.each(['html', 'truncated', 'malformed', 'oversize', 'proto', 'server', 'reset', 'timeout'] satisfies FaultKind[])(
    '%s: retried, then succeeds',
    async (fault) => {
      sim.faults.enqueue(fault, 2);
      const result = await accessLogs(client({ token: TOKEN }));
      expect((result.body as { number: number }).number).toBe(3);
      expect(sim.calls).toBe(3);
      expect(logLines.filter((l) => l.includes('"level":40'))).toHaveLength(2);
    },
  );

  it.each([
    ['html', ProviderResponseError],
    ['truncated', ProviderResponseError],
    ['oversize', ProviderResponseError],
    ['proto', ProviderResponseError],
    ['server', ProviderServerError],
    ['throttle', ProviderThrottledError],
  ] as const)('%s every time: gives up with %O after the policy attempts', async (fault, type) => {
    sim.faults.enqueue(fault, 10);
    const error = await rejection(accessLogs(client({ token: TOKEN }, { retry: { ...FAST, maxAttempts: 3 }, throttleFloorMs: 1 })));
    expect(error).toBeInstanceOf(type);
    expect(error.retryable).toBe(true);
    expect(sim.calls).toBe(3);
    expect(visible(error)).not.toContain(TOKEN);
  });

  it('HTTP 408 (request timeout) is retryable like a 5xx, with or without a Huawei error body', async () => {
    const timeout = (body: Parameters<typeof mapHuaweiError>[0]['body']) =>
      mapHuaweiError(failed({ statusCode: 408, headers: {}, body, mode: 'token' }));
    for (const error of [timeout(undefined), timeout({ error_code: 'APIGW.0201', error_msg: 'Request timeout' })]) {
      expect(error).toBeInstanceOf(ProviderServerError);
      expect(error.retryable).toBe(true);
      expect(error.statusCode).toBe(408);
    }
    // End to end: a gateway's bare 408 twice, then the answer.
    sim.enqueueAnswer({ status: 408, body: '' }, 2);
    const result = await accessLogs(client({ ak: AK, sk: SK }));
    expect((result.body as { number: number }).number).toBe(3);
    expect(sim.calls).toBe(3);
    // And when it persists: gives up as a server error after the policy's attempts, not as a config error.
    sim.enqueueAnswer({ status: 408, body: { error_code: 'APIGW.0201', error_msg: 'Request timeout' } }, 10);
    const error = await rejection(accessLogs(client({ token: TOKEN }, { retry: { ...FAST, maxAttempts: 3 } })));
    expect(error).toBeInstanceOf(ProviderServerError);
    expect(error.message).toMatch(/dataservice-access.*HTTP 408/);
    expect(sim.calls).toBe(6);
  });

  it('a 200 whose shape is wrong is a ProviderResponseError, retried like a truncated body', async () => {
    sim.faults.enqueue('proto', 1);
    const c = client({ token: TOKEN });
    let reads = 0;
    const result = await c.get(dataArtsAccessLogPath(PROJECT, INSTANCE), { is_api: 'true' }, { workspace: WORKSPACE }, (body) => {
      reads += 1;
      if (reads === 1) throw new Error('records missing');
      return body;
    });
    expect(result.body).toMatchObject({ number: 3 });
    expect(reads).toBe(2);
    expect(sim.calls).toBe(3);
  });
});

describe('Huawei credentials and endpoints', () => {
  it('accepts AK/SK (+ securityToken) or a token, strictly', () => {
    expect(huaweiCredentialsSchema.safeParse({ ak: 'a', sk: 'b' }).success).toBe(true);
    expect(huaweiCredentialsSchema.safeParse({ ak: 'a', sk: 'b', securityToken: 'c' }).success).toBe(true);
    expect(huaweiCredentialsSchema.safeParse({ token: 't' }).success).toBe(true);
    expect(huaweiCredentialsSchema.safeParse({ ak: 'a', sk: 'b', token: 't' }).success).toBe(false);
    expect(huaweiCredentialsSchema.safeParse({ ak: 'a', secretKey: 'b' }).success).toBe(false);
    expect(huaweiCredentialsSchema.safeParse({ ak: '', sk: 'b' }).success).toBe(false);
    expect(huaweiCredentialsSchema.safeParse({ token: '' }).success).toBe(false);
  });

  it('defaults the host from params.region', () => {
    const dataarts = huaweiDataArtsAccessLogProvider.paramsSchema.parse({
      projectId: 'p',
      instanceId: 'i',
      workspace: 'w',
      region: 'cn-north-4',
    });
    expect(dataarts.isApi).toBe(true);
    expect(huaweiDataArtsAccessLogProvider.defaultEndpoint(dataarts)).toBe('https://dayu.cn-north-4.myhuaweicloud.com');
    const dws = huaweiDwsAuditLogRecordsProvider.paramsSchema.parse({ projectId: 'p', clusterId: 'c', region: 'ap-southeast-1' });
    expect(huaweiDwsAuditLogRecordsProvider.defaultEndpoint(dws)).toBe('https://dws.ap-southeast-1.myhuaweicloud.com');
    expect(
      huaweiDwsAuditLogRecordsProvider.defaultEndpoint({ projectId: 'p', clusterId: 'c', maxPendingSeconds: 1, maxPending: 1 }),
    ).toBeUndefined();
    expect(huaweiDwsAuditLogRecordsProvider.paramsSchema.safeParse({ projectId: 'p', clusterId: 'c', extra: 1 }).success).toBe(false);
  });
});
