import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drainSharedQuota } from './helpers/sddp-shared-quota.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';

// The full-size run (thousands of pages) is in the chaos suite; this one keeps `npm test` quick.
describe('Data Security Center quota shared by three workers', () => {
  let redis: RedisHandle;
  let dir: string;
  beforeAll(async () => {
    redis = await startRedis();
    dir = makeTempDir('sddp-quota');
  });
  afterAll(async () => {
    await redis.stop();
    removeTempDir(dir);
  });

  it('never exceeds 10 calls/s per AccessKey, and archives every run once per source', async () => {
    const result = await drainSharedQuota(redis, dir, { sources: 3, items: 90, pageSize: 3, timeoutMs: 90_000 });
    console.log(
      `sddp shared quota: ${result.calls} calls, ${result.sustainedPerSecond.toFixed(2)}/s sustained, peak ${result.peakPerSecond}/s, ${result.throttled} throttled`,
    );
    expect(result.missing).toBe(0);
    expect(result.duplicated).toBe(0);
    expect(result.throttled).toBe(0);
    expect(result.peakPerSecond).toBeLessThanOrEqual(10);
    // Each source costs at least ceil(90 / 3) calls: the quota was really shared.
    expect(result.calls).toBeGreaterThanOrEqual(90);
  });
});
