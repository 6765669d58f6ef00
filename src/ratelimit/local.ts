import { setTimeout as sleep } from 'node:timers/promises';
import type { RateLimiter } from './rate-limiter.js';

/**
 * In-process limiter for `run-once` without Redis: a sliding window per key of one second plus
 * `guardMs`, which absorbs the jitter between a grant and the request's arrival (see
 * RedisRateLimiterOptions.guardMs).
 */
export class LocalRateLimiter implements RateLimiter {
  readonly #calls = new Map<string, number[]>();
  readonly #windowMs: number;

  constructor(options: { guardMs?: number } = {}) {
    this.#windowMs = 1000 + Math.max(0, options.guardMs ?? 250);
  }

  async acquire(key: string, limitPerSecond: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = Date.now();
      const recent = (this.#calls.get(key) ?? []).filter((t) => now - t < this.#windowMs);
      if (recent.length < limitPerSecond) {
        recent.push(now);
        this.#calls.set(key, recent);
        return;
      }
      this.#calls.set(key, recent);
      await sleep(this.#windowMs - (now - recent[0]!) + 1, undefined, signal ? { signal } : undefined);
    }
  }

  async close(): Promise<void> {}
}
