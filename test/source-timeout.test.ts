import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { runSource } from '../src/drain/index.js';
import { silentLogger } from '../src/observability/index.js';
import { openRuntime } from '../src/runtime.js';
import { DataWorksSimulator } from '../simulators/index.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

describe('per-source request timeout', () => {
  const dir = makeTempDir('timeout');
  const sim = new DataWorksSimulator({ latencyMs: 1500 });
  beforeAll(async () => {
    sim.addRun(1, 'a line\n');
    await sim.start();
  });
  afterAll(async () => {
    await sim.stop();
    removeTempDir(dir);
  });

  it('applies sources[].timeout to every call, over the process-wide http.timeout', async () => {
    const config = parseConfig(
      JSON.stringify({
        storage: { kind: 'file', path: `${dir}/archive` },
        checkpoints: { kind: 'file', path: `${dir}/state` },
        http: { timeout: '30s', maxAttempts: 2 },
        sources: [
          {
            id: 'slow',
            provider: 'aliyun-dataworks-dq-scan-log',
            endpoint: sim.url,
            timeout: '200ms',
            credentials: { ...sim.credentials },
            params: { runIds: [1] },
          },
        ],
      }),
    );
    const runtime = await openRuntime(config, { logger: silentLogger(), needRedis: false });
    try {
      const started = Date.now();
      const outcome = await runSource(
        { ...runtime.deps, providerRetry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 10_000 } },
        config.sources[0]!,
      );
      expect(outcome.status).toBe('failed');
      expect(outcome.status === 'failed' && 'code' in outcome.error ? outcome.error.code : undefined).toBe('ERR_PROVIDER_NETWORK');
      // Two attempts of 200 ms each, not of the process-wide 30 s; the margin is for a loaded machine
      // (1.6 s was seen there), far below one 30 s attempt.
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await runtime.close();
    }
  });
});
