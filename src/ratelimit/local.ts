import { setTimeout as sleep } from 'node:timers/promises';
import { checkedLimit, limiterSettings, type RateLimiter, type RateLimiterOptions, type RateLimitPermit } from './rate-limiter.js';

interface Quota {
  /** When each answered call of the last window was released (ms). */
  answered: number[];
  /** Calls still out, by the time they were granted. */
  out: Map<number, number>;
}

/**
 * In-process limiter for `run-once` without Redis: the same rule as RedisRateLimiter (fewer than
 * `limit` calls answered in the last window or still out), on this process's monotonic clock.
 */
export class LocalRateLimiter implements RateLimiter {
  readonly #quotas = new Map<string, Quota>();
  readonly #settings: ReturnType<typeof limiterSettings>;
  #sequence = 0;

  constructor(options: RateLimiterOptions = {}) {
    this.#settings = limiterSettings(options);
  }

  async acquire(key: string, limitPerSecond: number, signal?: AbortSignal): Promise<RateLimitPermit> {
    const limit = checkedLimit(limitPerSecond);
    const { windowMs, inFlightMs, jitterMs } = this.#settings;
    let quota = this.#quotas.get(key);
    if (!quota) {
      quota = { answered: [], out: new Map() };
      this.#quotas.set(key, quota);
    }
    for (;;) {
      signal?.throwIfAborted();
      const now = performance.now();
      for (const [id, grantedAt] of quota.out) {
        if (grantedAt < now - inFlightMs) {
          quota.out.delete(id);
          quota.answered.push(grantedAt + inFlightMs);
        }
      }
      quota.answered = quota.answered.filter((t) => t >= now - windowMs).sort((a, b) => a - b);
      const count = quota.answered.length + quota.out.size;
      if (count < limit) {
        this.#sequence += 1;
        const id = this.#sequence;
        quota.out.set(id, now);
        const q = quota;
        let released = false;
        return {
          grantedAt: now,
          release: () => {
            if (released) return;
            released = true;
            if (q.out.delete(id)) q.answered.push(performance.now());
          },
        };
      }
      const k = count - limit + 1;
      const waitMs = k <= quota.answered.length ? quota.answered[k - 1]! + windowMs - now : windowMs;
      await sleep(Math.max(1, Math.ceil(waitMs)) + Math.floor(Math.random() * (jitterMs + 1)), undefined, signal ? { signal } : undefined);
    }
  }

  async close(): Promise<void> {}
}
