import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { configProblems } from './helpers/config-problems.js';

const SOURCE = `
sources:
  - id: a
    provider: aliyun-oos-execution-logs
    endpoint: http://127.0.0.1:1
    credentials: { accessKeyId: "\${AK}", accessKeySecret: "\${SK}" }
    params: { regionId: cn-hangzhou, executionIds: [e], maxResults: "\${MAX_RESULTS:-50}" }
`;

describe('typed ${VAR} values', () => {
  it('a whole-value reference becomes the number or boolean the schema expects, defaults included', () => {
    const config = parseConfig(
      `
storage: { kind: s3, bucket: logs, region: us-east-1, endpoint: "http://127.0.0.1:9000", forcePathStyle: "\${PATH_STYLE}" }
worker:
  metricsPort: \${METRICS_PORT:-9464}
  concurrency: \${CONCURRENCY}
  dashboard: { readOnly: "\${READ_ONLY:-true}" }
batch: { maxRecords: "\${MAX_RECORDS:-5000}" }
${SOURCE}`,
      { PATH_STYLE: 'true', CONCURRENCY: '4', AK: '12345', SK: '0042' },
    );
    expect(config.worker.metricsPort).toBe(9464);
    expect(config.worker.concurrency).toBe(4);
    expect(config.worker.dashboard.readOnly).toBe(true);
    expect(config.batch.maxRecords).toBe(5000);
    expect(config.storage).toMatchObject({ forcePathStyle: true });
    expect(config.sources[0]!.params).toMatchObject({ maxResults: 50 });
    // Where the schema expects a string, digits stay a string.
    expect(config.sources[0]!.credentials).toEqual({ accessKeyId: '12345', accessKeySecret: '0042' });
  });

  it('a value that is not a number where one is expected is one problem, and does not echo the value', () => {
    const found = configProblems(`storage: { kind: file, path: ./a }\nworker: { metricsPort: "\${METRICS_PORT}" }\n${SOURCE}`, {
      METRICS_PORT: 'nine-thousand',
      AK: 'x',
      SK: 'y',
    });
    expect(found).toEqual(['worker.metricsPort: expected number, got string (the substituted value is not one)']);
  });

  it('text around a reference keeps it a string, so the schema says so', () => {
    const found = configProblems(`storage: { kind: file, path: ./a }\nworker: { metricsPort: "port-\${P}" }\n${SOURCE}`, {
      P: '1',
      AK: 'x',
      SK: 'y',
    });
    expect(found).toEqual(['worker.metricsPort: expected number, got string']);
  });

  it('an unset variable is reported once, at its path', () => {
    const found = configProblems(`storage: { kind: file, path: ./a }\n${SOURCE}`, { AK: 'x' });
    expect(found).toEqual(['sources[0].credentials.accessKeySecret: environment variable SK is not set']);
  });
});
