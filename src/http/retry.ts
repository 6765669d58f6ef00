import { setTimeout as sleep } from 'node:timers/promises';
import { ArchiverError } from '../errors/index.js';

/** How hard to try before giving up on one operation. */
export interface RetryPolicy {
  /** Attempts in total, the first included. @defaultValue 8 */
  maxAttempts: number;
  /** First backoff ceiling in ms; doubles each attempt. @defaultValue 500 */
  baseDelayMs: number;
  /** Backoff ceiling in ms. @defaultValue 30000 */
  maxDelayMs: number;
  /** Give up once this much time has passed since the first attempt. @defaultValue 300000 */
  maxElapsedMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxElapsedMs: 300_000,
};

/** Extra wait a throttled error asks for (Alibaba `TimeLeft`, HTTP Retry-After). */
export interface HasRetryAfter {
  retryAfterMs?: number | undefined;
}

export interface RetryHooks {
  signal?: AbortSignal;
  /** Called before each wait; for logs and metrics. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Overrides the default classification (ArchiverError.retryable). */
  isRetryable?: (error: unknown) => boolean;
  random?: () => number;
}

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
 * spreading retries uniformly over [0, ceiling] keeps many workers from retrying in lockstep.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

function defaultIsRetryable(error: unknown): boolean {
  return error instanceof ArchiverError && error.retryable;
}

/** Runs `operation` until it succeeds, a non-retryable error occurs, or the policy is exhausted. */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy = defaultRetryPolicy,
  hooks: RetryHooks = {},
): Promise<T> {
  const started = Date.now();
  const isRetryable = hooks.isRetryable ?? defaultIsRetryable;
  for (let attempt = 1; ; attempt += 1) {
    hooks.signal?.throwIfAborted();
    try {
      return await operation(attempt);
    } catch (error) {
      if (!isRetryable(error) || attempt >= policy.maxAttempts) throw error;
      let delay = backoffDelay(attempt, policy, hooks.random);
      const asked = (error as HasRetryAfter).retryAfterMs;
      if (typeof asked === 'number' && Number.isFinite(asked) && asked > delay) {
        delay = Math.min(asked, policy.maxDelayMs * 4);
      }
      if (Date.now() - started + delay > policy.maxElapsedMs) throw error;
      hooks.onRetry?.(error, attempt, delay);
      await sleep(delay, undefined, hooks.signal ? { signal: hooks.signal } : undefined);
    }
  }
}
