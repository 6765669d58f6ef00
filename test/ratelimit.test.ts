import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRateLimiter, RedisRateLimiter, type RateLimiter, type RateLimiterOptions } from '../src/ratelimit/index.js';
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

/**
 * Calls per second from the first grant to the first of the last whole burst: quick calls come in
 * bursts of `limit`, which `(n - 1) / span` would overrate.
 */
function perSecondOverBursts(sortedGrants: number[], limit: number): number {
  const m = Math.floor((sortedGrants.length - 1) / limit) * limit;
  return (m * 1000) / (sortedGrants[m]! - sortedGrants[0]!);
}

const between = (min: number, max: number): number => min + Math.random() * (max - min);

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

let prefixes = 0;
/** `count` limiters sharing one quota: separate instances on separate connections (Redis), or one (in-process). */
const kinds: { name: string; make: (count: number, options?: RateLimiterOptions) => RateLimiter[] }[] = [
  {
    name: 'RedisRateLimiter',
    make: (count, options) => {
      prefixes += 1;
      const keys = new RedisKeys(`test-rate-${prefixes}`);
      return Array.from({ length: count }, () => new RedisRateLimiter(redis.client(), keys, options));
    },
  },
  {
    name: 'LocalRateLimiter',
    make: (count, options) => {
      const shared = new LocalRateLimiter(options);
      return Array.from({ length: count }, () => shared);
    },
  },
];

/**
 * Callers that each make calls until `durationMs` has passed: acquire, `beforeArrival` ms until
 * the call "arrives" (recorded on this process's clock: any instant between grant and release is
 * a possible arrival at the provider), `afterArrival` ms until its answer, release.
 */
async function hammer(
  limiters: RateLimiter[],
  perLimiter: number,
  durationMs: number,
  delays: { beforeArrival: () => number; afterArrival: () => number },
): Promise<{ arrivals: number[]; grants: number[] }> {
  const arrivals: number[] = [];
  const grants: number[] = [];
  const started = performance.now();
  const controller = new AbortController();
  setTimeout(() => controller.abort(), durationMs).unref();
  await Promise.all(
    limiters.flatMap((limiter) =>
      Array.from({ length: perLimiter }, async () => {
        while (!controller.signal.aborted && performance.now() - started < durationMs) {
          let permit: Awaited<ReturnType<RateLimiter['acquire']>>;
          try {
            permit = await limiter.acquire('sddp:account-1', 10, controller.signal);
          } catch (error) {
            if (controller.signal.aborted) return;
            throw error;
          }
          grants.push(permit.grantedAt);
          await sleep(delays.beforeArrival());
          arrivals.push(performance.now());
          await sleep(delays.afterArrival());
          permit.release();
        }
      }),
    ),
  );
  await Promise.all(limiters.map((l) => l.close()));
  return { arrivals: arrivals.sort((a, b) => a - b), grants: grants.sort((a, b) => a - b) };
}

describe.each(kinds)('$name', ({ make }) => {
  it('calls arrive at most `limit` times in any 1 s window, however long each takes between grant, arrival and answer', async () => {
    // 12 callers for a quota of 10/s; each call arrives 0–60 ms after its grant and is answered
    // 0–30 ms later: a limiter counting grants alone lets 11 arrive within a second.
    const { arrivals } = await hammer(make(4), 3, 2_300, { beforeArrival: () => between(0, 60), afterArrival: () => between(0, 30) });
    expect(maxInWindow(arrivals, 1_000)).toBeLessThanOrEqual(10);
    // And the quota is used: a full window of arrivals (how soon the next follows is the rate tests'
    // business; with calls this slow, on a loaded machine, it varies).
    expect(maxInWindow(arrivals, 1_000)).toBe(10);
    expect(arrivals.length).toBeGreaterThanOrEqual(20);
  });

  it('sustains ≥ 95 % of the quota for one caller sending one call after another', async () => {
    const [limiter] = make(1);
    const grants: number[] = [];
    for (let i = 0; i < 21; i += 1) {
      const permit = await limiter!.acquire('sddp:sequential', 10);
      grants.push(permit.grantedAt);
      await sleep(2);
      permit.release();
    }
    await limiter!.close();
    // Calls quicker than a tenth of a second come in bursts of `limit`: the rate is over whole bursts.
    expect(perSecondOverBursts(grants, 10)).toBeGreaterThanOrEqual(9.5);
    expect(maxInWindow(grants, 1_000)).toBeLessThanOrEqual(10);
  });

  it('a call answered late holds its slot until a window after its answer', async () => {
    const [limiter] = make(1);
    const first = await limiter!.acquire('slow', 1);
    await sleep(400);
    first.release();
    const second = await limiter!.acquire('slow', 1);
    second.release();
    await limiter!.close();
    expect(second.grantedAt - first.grantedAt).toBeGreaterThanOrEqual(1_400);
  });

  it('a permit never released (its worker died mid-call) frees its slot a window after inFlightMs', async () => {
    const [limiter] = make(1, { inFlightMs: 200 });
    const lost = await limiter!.acquire('lost', 1);
    const t0 = performance.now();
    const next = await limiter!.acquire('lost', 1);
    next.release();
    expect(next.grantedAt - lost.grantedAt).toBeGreaterThanOrEqual(1_200);
    expect(performance.now() - t0).toBeLessThan(2_500);
  });

  it('acquire honours an abort signal while waiting', async () => {
    const [limiter] = make(1);
    await limiter!.acquire('abort', 1);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const t0 = performance.now();
    await expect(limiter!.acquire('abort', 1, controller.signal)).rejects.toThrow();
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('rejects a limit below one', async () => {
    const [limiter] = make(1);
    await expect(limiter!.acquire('bad', 0)).rejects.toBeInstanceOf(RangeError);
  });
});

describe('RedisRateLimiter', () => {
  it('twelve callers on four instances sustain ≥ 95 % of the quota when calls are quick', async () => {
    const { grants } = await hammer(kinds[0]!.make(4), 3, 3_200, { beforeArrival: () => between(0, 3), afterArrival: () => between(0, 3) });
    expect(grants.length).toBeGreaterThanOrEqual(31);
    expect(perSecondOverBursts(grants, 10)).toBeGreaterThanOrEqual(9.5);
  });

  it('keys are independent, and limits hold across instances sharing a prefix only', async () => {
    const a = new RedisRateLimiter(redis.client(), new RedisKeys('test-iso'));
    const b = new RedisRateLimiter(redis.client(), new RedisKeys('test-iso'));
    const other = new RedisRateLimiter(redis.client(), new RedisKeys('test-other-prefix'));
    const t0 = performance.now();
    const take = async (limiter: RedisRateLimiter, key: string): Promise<void> => (await limiter.acquire(key, 3)).release();
    await Promise.all([1, 2, 3].map(() => take(a, 'k1')));
    await Promise.all([1, 2, 3].map(() => take(b, 'k2')));
    await Promise.all([1, 2, 3].map(() => take(other, 'k1')));
    expect(performance.now() - t0).toBeLessThan(500);
    // The fourth call on k1 under the shared prefix must wait for the window to slide.
    await take(b, 'k1');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it('close() waits until the releases are in Redis', async () => {
    const keys = new RedisKeys('test-close');
    const limiter = new RedisRateLimiter(redis.client(), keys);
    (await limiter.acquire('k', 5)).release();
    await limiter.close();
    const base = keys.rateLimit('k');
    expect(await redis.client().zcard(`${base}:answered`)).toBe(1);
    expect(await redis.client().zcard(`${base}:out`)).toBe(0);
  });

  it('keeps working after a Redis restart (script cache flushed)', async () => {
    const client = redis.client();
    const limiter = new RedisRateLimiter(client, new RedisKeys('test-restart'));
    (await limiter.acquire('k', 5)).release();
    await redis.restart();
    await expect(limiter.acquire('k', 5)).resolves.toMatchObject({ grantedAt: expect.any(Number) });
  });
});
