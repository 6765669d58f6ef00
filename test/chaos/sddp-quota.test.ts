import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drainSharedQuota } from '../helpers/sddp-shared-quota.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { startRedis, type RedisHandle } from '../helpers/with-redis.js';

describe('chaos: Data Security Center quota', () => {
  let redis: RedisHandle;
  let dir: string;
  beforeAll(async () => {
    redis = await startRedis();
    dir = makeTempDir('chaos-sddp');
  });
  afterAll(async () => {
    await redis.stop();
    removeTempDir(dir);
  });

  it('three workers, three sources on one AccessKey, thousands of pages: never over 10 calls/s', async () => {
    const r = await drainSharedQuota(redis, dir, { sources: 3, items: 700, pageSize: 1, timeoutMs: 600_000 });
    console.log(
      `chaos sddp-quota: ${r.calls} calls in ${r.seconds.toFixed(0)} s, peak ${r.peakPerSecond}/s, ${r.throttled} throttled, ${r.missing} missing, ${r.duplicated} duplicated`,
    );
    expect(r.calls).toBeGreaterThanOrEqual(2000);
    expect(r.peakPerSecond).toBeLessThanOrEqual(10);
    expect(r.throttled).toBe(0);
    expect(r.missing).toBe(0);
    expect(r.duplicated).toBe(0);
  }, 700_000);
});
