import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisRateLimiter } from '../src/ratelimit/index.js';
import { RedisKeys } from '../src/redis/index.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';

/** The largest number of times falling in any half-open window [t, t + windowMs). */
function maxInWindow(sortedTimes: number[], windowMs: number): number {
  let max = 0;
  let j = 0;
  for (let i = 0; i < sortedTimes.length; i += 1) {
    while (j < sortedTimes.length && sortedTimes[j]! < sortedTimes[i]! + windowMs) j += 1;
    max = Math.max(max, j - i);
  }
  return max;
}

describe('RedisRateLimiter', () => {
  let redis: RedisHandle;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('several instances on separate connections never exceed the limit in any 1 s window, and get close to it', async () => {
    const limit = 10;
    const instances = Array.from({ length: 4 }, () => new RedisRateLimiter(redis.client(), new RedisKeys('test-rate'), { guardMs: 0 }));
    const serverTimes: number[] = [];
    const controller = new AbortController();
    const started = performance.now();
    const durationMs = 2_300;

    // Three callers per instance hammer the same key: 12 concurrent callers for a quota of 10/s.
    const callers = instances.flatMap((limiter) =>
      Array.from({ length: 3 }, async () => {
        while (performance.now() - started < durationMs) {
          try {
            const at = await limiter.acquireAt('sddp:account-1', limit, controller.signal);
            serverTimes.push(at);
          } catch (error) {
            if (controller.signal.aborted) return;
            throw error;
          }
        }
      }),
    );
    setTimeout(() => controller.abort(), durationMs).unref();
    await Promise.all(callers);

    serverTimes.sort((a, b) => a - b);
    // Exact by the Redis clock, which is what the limiter promises.
    expect(maxInWindow(serverTimes, 1_000)).toBeLessThanOrEqual(limit);
    // (Not checked by the test runner's clock: on a loaded machine its event loop bunches replies
    // that Redis granted a second apart. Arrival at the provider is what the 250 ms guard covers,
    // and the shared-quota tests count calls where the simulator receives them.)
    // And close to the quota: 2.3 s of a sliding 1 s window allow three full bursts.
    expect(maxInWindow(serverTimes, 1_000)).toBe(limit);
    expect(serverTimes.length).toBeGreaterThanOrEqual(2 * limit + Math.floor(limit * 0.8));
    expect(serverTimes.length).toBeLessThanOrEqual(3 * limit);
  });

  it('with spread, grants come evenly spaced at spread × limit per second, never over the limit in any second', async () => {
    const limit = 10;
    const spread = 0.97;
    const instances = Array.from(
      { length: 3 },
      () => new RedisRateLimiter(redis.client(), new RedisKeys('test-spread'), { guardMs: 30, spread, jitterMs: 1 }),
    );
    const times: number[] = [];
    const started = performance.now();
    await Promise.all(
      instances.flatMap((limiter) =>
        [1, 2].map(async () => {
          while (performance.now() - started < 2_000) times.push(await limiter.acquireAt('sddp:spread', limit));
        }),
      ),
    );
    times.sort((a, b) => a - b);
    const spacing = 1000 / (spread * limit);
    // By the Redis clock (µs, reported in ms): spread out, not in bursts. The schedule is
    // anchored, so a grant late by d lets the next come d sooner, but never two within one spacing.
    const pairs = times.slice(2).map((t, i) => t - times[i]!);
    expect(Math.min(...pairs)).toBeGreaterThanOrEqual(spacing - 0.01);
    expect(maxInWindow(times, 1_000)).toBeLessThanOrEqual(limit);
    // Six callers always waiting: the grants follow the spacing closely (≥ 95 % of the quota).
    expect(((times.length - 1) * 1000) / (times.at(-1)! - times[0]!)).toBeGreaterThanOrEqual(0.95 * limit);
  });

  it('keys are independent, and limits hold across instances sharing a prefix only', async () => {
    const a = new RedisRateLimiter(redis.client(), new RedisKeys('test-iso'));
    const b = new RedisRateLimiter(redis.client(), new RedisKeys('test-iso'));
    const other = new RedisRateLimiter(redis.client(), new RedisKeys('test-other-prefix'));
    const t0 = performance.now();
    await Promise.all([1, 2, 3].map(() => a.acquire('k1', 3)));
    await Promise.all([1, 2, 3].map(() => b.acquire('k2', 3)));
    await Promise.all([1, 2, 3].map(() => other.acquire('k1', 3)));
    expect(performance.now() - t0).toBeLessThan(500);
    // The fourth call on k1 under the shared prefix must wait for the window to slide.
    await b.acquire('k1', 3);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it('acquire honours an abort signal while waiting', async () => {
    const limiter = new RedisRateLimiter(redis.client(), new RedisKeys('test-abort'));
    await limiter.acquire('k', 1);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const t0 = performance.now();
    await expect(limiter.acquire('k', 1, controller.signal)).rejects.toThrow();
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('keeps working after a Redis restart (script cache flushed)', async () => {
    const client = redis.client();
    const limiter = new RedisRateLimiter(client, new RedisKeys('test-restart'));
    await limiter.acquire('k', 5);
    await redis.restart();
    await expect(limiter.acquire('k', 5)).resolves.toBeUndefined();
  });

  it('rejects a limit below one', async () => {
    const limiter = new RedisRateLimiter(redis.client(), new RedisKeys('test-bad'));
    await expect(limiter.acquire('k', 0)).rejects.toBeInstanceOf(RangeError);
  });
});
