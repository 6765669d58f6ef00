import { setTimeout as sleep } from 'node:timers/promises';
import { ArchiverError, ProviderThrottledError } from '../errors/index.js';

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
  /**
   * Least wait after a throttling answer, in ms, for APIs whose quotas are per second or minute
   * (Huawei API Gateway): the first wait is 1–2.5× the floor and doubles with each further attempt.
   * A cloud's client sets it; @defaultValue 0 (throttling backs off like any retryable error)
   */
  throttleFloorMs?: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxElapsedMs: 300_000,
};

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

/** The least wait after the `attempt`-th throttling answer: the floor, doubled per attempt, 1–2.5× jittered. */
export function throttleDelay(attempt: number, floorMs: number, random: () => number = Math.random): number {
  return Math.round(floorMs * 2 ** Math.max(0, attempt - 1) * (1 + 1.5 * random()));
}

/**
 * The wait before the next attempt after `error`: the backoff; for throttling at least the
 * policy's throttle floor; and at least what the provider asked for (Alibaba `TimeLeft`, HTTP
 * `Retry-After`), bounded so a bogus header cannot park a drain for hours.
 */
export function retryDelay(error: unknown, attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const delay = backoffDelay(attempt, policy, random);
  if (!(error instanceof ProviderThrottledError)) return delay;
  let asked = error.retryAfterMs;
  if (policy.throttleFloorMs) asked = Math.max(asked ?? 0, throttleDelay(attempt, policy.throttleFloorMs, random));
  if (typeof asked === 'number' && Number.isFinite(asked) && asked > delay) return Math.min(asked, policy.maxDelayMs * 4);
  return delay;
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
      const delay = retryDelay(error, attempt, policy, hooks.random);
      if (Date.now() - started + delay > policy.maxElapsedMs) throw error;
      hooks.onRetry?.(error, attempt, delay);
      await sleep(delay, undefined, hooks.signal ? { signal: hooks.signal } : undefined);
    }
  }
}
