import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { configProblems } from './helpers/config-problems.js';
import { BAD_CONFIGS, PLANTED_SECRET } from './helpers/bad-configs.js';

const SECRET = PLANTED_SECRET;

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
    expect(config.batch).toEqual({ maxRecords: 100000, maxBytes: 67108864, gzipLevel: 6, maxSeconds: 60 });
    expect(config.sources[0]!.schedule).toEqual({ every: 300_000 });
    expect(config.sources[0]!.credentials).toEqual({ accessKeyId: 'AKID', accessKeySecret: SECRET });
    // A source without credentials takes the cloud SDK's environment variables, and its region's default host.
    expect(config.sources[2]!.credentials).toEqual({ accessKeyId: 'AKID', accessKeySecret: SECRET });
    expect(config.sources[2]!.endpoint).toBe('https://oos.cn-hangzhou.aliyuncs.com');
  });

  for (const bad of BAD_CONFIGS) {
    it(bad.name, () => {
      const found = configProblems(bad.text);
      expect(found.join('\n')).not.toContain(PLANTED_SECRET);
      expect(found).toEqual(expect.arrayContaining(bad.expected.map((pattern) => expect.stringMatching(pattern))));
      if (bad.exact) expect(found).toEqual(bad.exact);
      if (bad.atLeast) expect(found.length).toBeGreaterThanOrEqual(bad.atLeast);
    });
  }
});
