import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { ConfigError } from '../src/errors/index.js';

const SECRET = 'sEcReT-value-that-must-never-print';

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('config was accepted');
}

describe('config', () => {
  it('accepts the documented example config with ${VAR} and ${VAR:-default} interpolation, applying defaults', () => {
    const config = parseConfig(
      `
redis:
  url: \${REDIS_URL:-redis://127.0.0.1:6379}
storage: { kind: s3, bucket: compliance-logs, prefix: archive/, region: us-east-1, endpoint: "http://127.0.0.1:9000", forcePathStyle: true }
sources:
  - id: dq-run-10001
    provider: aliyun-dataworks-dq-scan-log
    schedule: { every: 5m }
    endpoint: https://dataworks.cn-hangzhou.aliyuncs.com
    credentials: { accessKeyId: "\${ALIBABA_CLOUD_ACCESS_KEY_ID}", accessKeySecret: "\${ALIBABA_CLOUD_ACCESS_KEY_SECRET}" }
    params: { runIds: [10001] }
  - id: dataservice-access
    provider: huawei-dataarts-accesslog
    schedule: { cron: "*/5 * * * *" }
    endpoint: https://dayu.cn-north-4.myhuaweicloud.com
    credentials: { ak: "\${HUAWEICLOUD_SDK_AK}", sk: "\${HUAWEICLOUD_SDK_SK}" }
    params: { projectId: p1, instanceId: i1, workspace: w1, isApi: true }
  - id: oos-exec
    provider: aliyun-oos-execution-logs
    params: { regionId: cn-hangzhou, executionIds: ["exec-1234567zxcvb"], maxResults: 50 }
`,
      { ALIBABA_CLOUD_ACCESS_KEY_ID: 'AKID', ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET, HUAWEICLOUD_SDK_AK: 'AK', HUAWEICLOUD_SDK_SK: 'SK' },
    );
    expect(config.redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: 'log-archiver' });
    expect(config.checkpoints.kind).toBe('redis');
    expect(config.batch).toEqual({ maxRecords: 100000, maxBytes: 67108864, gzipLevel: 6 });
    expect(config.sources[0]!.schedule).toEqual({ every: 300_000 });
    expect(config.sources[0]!.credentials).toEqual({ accessKeyId: 'AKID', accessKeySecret: SECRET });
    // A source without credentials takes the cloud SDK's environment variables, and its region's default host.
    expect(config.sources[2]!.credentials).toEqual({ accessKeyId: 'AKID', accessKeySecret: SECRET });
    expect(config.sources[2]!.endpoint).toBe('https://oos.cn-hangzhou.aliyuncs.com');
  });

  it('lists every problem by path, without echoing values', () => {
    const found = problems(
      `
storage: { kind: s3, region: us-east-1 }
batch: { maxRecords: 0, gzipLevel: 12 }
sources:
  - id: Bad Id
    provider: aliyun-dataworks-dq-scan-log
    credentials: { accessKeyId: x, accessKeySecret: "${SECRET}" }
    params: { runIds: ["${SECRET}"] }
  - id: ok-source
    provider: no-such-provider
    params: {}
  - id: ok-source
    provider: aliyun-oos-execution-logs
    schedule: { cron: "not a cron" }
    endpoint: http://127.0.0.1:1
    credentials: { accessKeyId: x }
    params: { executionIds: [] }
`,
    );
    const text = found.join('\n');
    expect(text).not.toContain(SECRET);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^batch\.maxRecords: /),
        expect.stringMatching(/^batch\.gzipLevel: /),
        expect.stringMatching(/^storage\.bucket: required/),
        expect.stringMatching(/^sources\[0\]\.id: /),
        expect.stringMatching(/^sources\[1\]\.provider: unknown provider "no-such-provider"/),
        expect.stringMatching(/^sources\[2\]\.id: duplicate id ok-source/),
        expect.stringMatching(/^sources\[2\]\.schedule/),
      ]),
    );
    expect(found.length).toBeGreaterThanOrEqual(7);
  });

  it('names the provider params and credentials that are wrong', () => {
    const found = problems(`
storage: { kind: file, path: ./archive }
sources:
  - id: a
    provider: aliyun-dataworks-dq-scan-log
    endpoint: http://127.0.0.1:1
    credentials: { accessKeyId: x }
    params: { runIds: "10001" }
`);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^sources\[0\]\.params\.runIds: /),
        expect.stringMatching(/^sources\[0\]\.credentials\.accessKeySecret: required/),
      ]),
    );
  });

  it('reports unset environment variables by path, and missing credentials with the variables to set', () => {
    const found = problems(`
storage: { kind: file, path: "\${ARCHIVE_DIR}" }
sources:
  - id: a
    provider: aliyun-oos-execution-logs
    params: { regionId: cn-hangzhou, executionIds: [e] }
`);
    expect(found).toContain('storage.path: environment variable ARCHIVE_DIR is not set');
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^sources\[0\]\.credentials: required: set credentials, or ALIBABA_CLOUD_ACCESS_KEY_ID/),
      ]),
    );
  });

  it('rejects durations that would break at run time', () => {
    const found = problems(`
storage: { kind: file, path: ./a }
worker: { leaseTtl: 100ms, shutdownTimeout: 30d }
http: { timeout: 2500.5 }
sources:
  - { id: a, provider: aliyun-oos-execution-logs, endpoint: "http://127.0.0.1:1", credentials: { accessKeyId: x, accessKeySecret: y }, params: { regionId: r, executionIds: [e] } }
`);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^worker\.leaseTtl: expected at least 3s/),
        expect.stringMatching(/^worker\.shutdownTimeout: expected at most 1d/),
        expect.stringMatching(/^http\.timeout: expected a duration/),
      ]),
    );
  });

  it('rejects YAML syntax errors and redis checkpoints without redis', () => {
    expect(problems('storage: [unclosed').length).toBeGreaterThan(0);
    expect(
      problems(`
storage: { kind: file, path: ./a }
checkpoints: { kind: redis }
sources:
  - { id: a, provider: aliyun-oos-execution-logs, endpoint: "http://127.0.0.1:1", credentials: { accessKeyId: x, accessKeySecret: y }, params: { regionId: r, executionIds: [e] } }
`),
    ).toEqual(['checkpoints.kind: redis checkpoints need a redis section (redis.url)']);
  });
});
