import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { parseConfig, type ArchiverConfig } from '../src/config/index.js';
import { runSource } from '../src/drain/index.js';
import { silentLogger } from '../src/observability/index.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import { DataWorksSimulator } from '../simulators/index.js';
import { OosSimulator } from '../simulators/index.js';
import { SIMULATOR_ACCESS_KEY } from '../simulators/index.js';
import { verifyArchive } from '../src/archive/index.js';
import { compareIds, readArchive } from './helpers/read-archive.js';
import { startS3, S3_TEST_CREDENTIALS, type S3Handle } from './helpers/with-s3.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const env = {
  ...process.env,
  ALIBABA_CLOUD_ACCESS_KEY_ID: SIMULATOR_ACCESS_KEY.accessKeyId,
  ALIBABA_CLOUD_ACCESS_KEY_SECRET: SIMULATOR_ACCESS_KEY.accessKeySecret,
};

function configText(storage: string, dataworks: string, oos: string, stateDir: string, batch = ''): string {
  return `
storage:
${storage}
checkpoints: { kind: file, path: ${stateDir} }
${batch}
http: { timeout: 2s }
sources:
  - id: dq-runs
    provider: aliyun-dataworks-dq-scan-log
    endpoint: ${dataworks}
    credentials: { accessKeyId: "\${ALIBABA_CLOUD_ACCESS_KEY_ID}", accessKeySecret: "\${ALIBABA_CLOUD_ACCESS_KEY_SECRET}" }
    params: { runIds: [10001, 10002] }
  - id: oos-exec
    provider: aliyun-oos-execution-logs
    endpoint: ${oos}
    credentials: { accessKeyId: "\${ALIBABA_CLOUD_ACCESS_KEY_ID}", accessKeySecret: "\${ALIBABA_CLOUD_ACCESS_KEY_SECRET}" }
    params: { regionId: cn-hangzhou, executionIds: [exec-aaaa, exec-bbbb], maxResults: 7 }
`;
}

let lineNo = 0;
function lines(n: number): string {
  let out = '';
  for (let i = 0; i < n; i += 1) {
    lineNo += 1;
    out += `line ${lineNo} 校验规则 ✓ ${'x'.repeat(lineNo % 37)}\n`;
  }
  return out;
}

async function drainAll(runtime: Runtime, config: ArchiverConfig): Promise<void> {
  for (const source of config.sources) {
    const outcome = await runSource(
      { ...runtime.deps, providerRetry: { maxAttempts: 10, baseDelayMs: 2, maxDelayMs: 20, maxElapsedMs: 30_000 } },
      source,
    );
    expect(outcome.status, JSON.stringify(outcome.status === 'failed' ? outcome.error.message : '')).toBe('ok');
  }
}

describe.each(['file', 's3'] as const)('drain pipeline into %s storage', (kind) => {
  let dataworks: DataWorksSimulator;
  let oos: OosSimulator;
  let s3: S3Handle | undefined;
  let dir: string;
  let config: ArchiverConfig;

  beforeAll(async () => {
    dir = makeTempDir('pipeline');
    dataworks = new DataWorksSimulator({ segmentBytes: 300 });
    oos = new OosSimulator();
    await dataworks.start();
    await oos.start();
    let storage: string;
    if (kind === 's3') {
      s3 = await startS3();
      process.env.AWS_ACCESS_KEY_ID = S3_TEST_CREDENTIALS.accessKeyId;
      process.env.AWS_SECRET_ACCESS_KEY = S3_TEST_CREDENTIALS.secretAccessKey;
      storage = `  kind: s3\n  bucket: ${s3.bucket}\n  region: us-east-1\n  endpoint: ${s3.endpoint}\n  forcePathStyle: true\n  prefix: archive/`;
    } else {
      storage = `  kind: file\n  path: ${dir}/archive`;
    }
    config = parseConfig(configText(storage, dataworks.url, oos.url, `${dir}/state`, 'batch: { maxRecords: 40, maxBytes: 65536 }'), env);
  });

  afterAll(async () => {
    await dataworks.stop();
    await oos.stop();
    await s3?.close();
    removeTempDir(dir);
  });

  it('archives every record exactly once across drains with growth, faults and restarts', async () => {
    dataworks.addRun(10001, lines(25));
    dataworks.addRun(10002, '');
    oos.addExecution('exec-aaaa');
    oos.addExecution('exec-bbbb');
    oos.appendLogs(
      'exec-aaaa',
      Array.from({ length: 30 }, (_, i) => `step ${i}`),
    );

    for (let round = 0; round < 4; round += 1) {
      // A fresh runtime each round: nothing carries over but what is in storage and the state dir.
      const runtime = await openRuntime(config, { logger: silentLogger(), needRedis: false });
      try {
        dataworks.faults.enqueue('server', 1);
        oos.faults.enqueue('throttle', 1);
        oos.faults.enqueue('truncated', 1);
        await drainAll(runtime, config);
      } finally {
        await runtime.close();
      }
      dataworks.appendLog(10001, lines(17 + round));
      dataworks.appendLog(10002, lines(60));
      oos.appendLogs(
        'exec-aaaa',
        Array.from({ length: 5 + round }, (_, i) => `more ${round}.${i}`),
      );
      oos.appendLogs(
        'exec-bbbb',
        Array.from({ length: 9 }, (_, i) => `b ${round}.${i}`),
      );
      if (round === 1) oos.expireTokens();
    }
    const runtime = await openRuntime(config, { logger: silentLogger(), needRedis: false });
    try {
      await drainAll(runtime, config);
      const { envelopes, keys } = await readArchive(runtime.store);
      const expectedDq = dataworks.expectedRecords();
      const expectedOos = oos.expectedRecords();
      const dq = envelopes.filter((e) => e.source === 'dq-runs');
      const ex = envelopes.filter((e) => e.source === 'oos-exec');
      expect(
        compareIds(
          dq,
          expectedDq.map((r) => r.id),
        ),
      ).toEqual({ missing: [], duplicated: [], unexpected: [] });
      expect(
        compareIds(
          ex,
          expectedOos.map((r) => r.id),
        ),
      ).toEqual({ missing: [], duplicated: [], unexpected: [] });
      // Envelopes carry the provider's record verbatim and name their stream.
      const byId = new Map(dq.map((e) => [e.id, e]));
      for (const want of expectedDq) {
        const got = byId.get(want.id)!;
        expect(got.record).toEqual(want.record);
        expect(got.context).toEqual(want.context);
        expect(got.provider).toBe('aliyun-dataworks-dq-scan-log');
        expect(Number.isNaN(Date.parse(got.fetchedAt))).toBe(false);
      }
      expect(Object.keys(dq[0]!)).toEqual(['source', 'provider', 'id', 'fetchedAt', 'context', 'record', 'key']);
      // Batches are bounded and keys browsable by source and date.
      for (const key of keys)
        expect(key).toMatch(/^(dq-runs|oos-exec)\/\d{4}\/\d{2}\/\d{2}\/(dq-runs|oos-exec)-\d{10}-\d{16}\.ndjson\.gz$/);
      const perObject = new Map<string, number>();
      for (const e of envelopes) perObject.set(e.key, (perObject.get(e.key) ?? 0) + 1);
      expect(Math.max(...perObject.values())).toBeLessThanOrEqual(40);
      const report = await verifyArchive(runtime.store, {});
      expect(report.problems).toEqual([]);
      expect(report.sources.find((s) => s.source === 'dq-runs')?.records).toBe(expectedDq.length);
    } finally {
      await runtime.close();
    }
    if (s3) {
      // What the S3 API returns is what was written: gzip that decompresses to NDJSON.
      const stored = (await s3.listKeys('archive/')).filter((k) => k.endsWith('.ndjson.gz'));
      expect(stored.length).toBeGreaterThan(0);
      const body = await s3.getObject(stored[0]!);
      expect(gunzipSync(body!).toString('utf8').split('\n')[0]).toMatch(/^\{"source":/);
    }
  });

  it('writes nothing when there is nothing new', async () => {
    const runtime = await openRuntime(config, { logger: silentLogger(), needRedis: false });
    try {
      const before = (await readArchive(runtime.store)).keys.length;
      await drainAll(runtime, config);
      expect((await readArchive(runtime.store)).keys.length).toBe(before);
    } finally {
      await runtime.close();
    }
  });
});
