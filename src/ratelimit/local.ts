import { setTimeout as sleep } from 'node:timers/promises';
import type { RateLimiter } from './rate-limiter.js';

/** In-process limiter for `run-once` without Redis: a sliding one-second window per key. */
export class LocalRateLimiter implements RateLimiter {
  readonly #calls = new Map<string, number[]>();

  async acquire(key: string, limitPerSecond: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = Date.now();
      const recent = (this.#calls.get(key) ?? []).filter((t) => now - t < 1000);
      if (recent.length < limitPerSecond) {
        recent.push(now);
        this.#calls.set(key, recent);
        return;
      }
      this.#calls.set(key, recent);
      await sleep(1000 - (now - recent[0]!) + 1, undefined, signal ? { signal } : undefined);
    }
  }

  async close(): Promise<void> {}
}
