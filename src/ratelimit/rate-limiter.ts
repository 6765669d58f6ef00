/**
 * Spaces calls that share a quota (a key such as `sddp:<AccessKeyId hash>`), so that all callers
 * together stay under `limitPerSecond`. `acquire` resolves when the caller may send one request;
 * the caller releases the permit once that request's answer (or failure) is in.
 *
 * Why a release: a provider counts calls where they arrive, and a call arrives somewhere between
 * its grant and its answer. Counting every call of the last second by when its answer came (and a
 * call still out as arriving now) bounds arrivals exactly, whatever the delay between grant and
 * send, so no guard time is needed and the sustained rate is `limit / (1 s + call latency)`.
 *
 * Deliberately not part of it: retrying throttled calls (the HTTP layer does) or queue fairness.
 */
export interface RateLimiter {
  acquire(key: string, limitPerSecond: number, signal?: AbortSignal): Promise<RateLimitPermit>;
  /** Waits for releases still on their way (to Redis); the limiter's connection stays the caller's. */
  close(): Promise<void>;
}

/** One granted call. */
export interface RateLimitPermit {
  /** When the grant was made, in ms on the limiter's clock (the Redis server's, or this process's). */
  readonly grantedAt: number;
  /** The call's answer or failure is in. Idempotent; a permit never released counts until `inFlightMs`. */
  release(): void;
}

/** Options both limiters share. */
export interface RateLimiterOptions {
  /**
   * The provider's counting window in ms: at most `limit` calls arrive in any window this long.
   * @defaultValue 1000
   */
  windowMs?: number;
  /**
   * How long an unreleased permit (its worker died mid-call) counts as a call still out; after
   * that it counts as answered then. Any request has long arrived by then. @defaultValue 30000
   */
  inFlightMs?: number;
  /**
   * Upper bound of the random extra wait in ms when the window is full, so that waiting
   * callers do not all retry in the same millisecond. @defaultValue 3
   */
  jitterMs?: number;
}

/** Resolved options, shared by both limiters. */
export function limiterSettings(options: RateLimiterOptions): { windowMs: number; inFlightMs: number; jitterMs: number } {
  return {
    windowMs: Math.max(1, options.windowMs ?? 1000),
    inFlightMs: Math.max(1, options.inFlightMs ?? 30_000),
    jitterMs: Math.max(0, options.jitterMs ?? 3),
  };
}

/** Throws RangeError unless the limit is a finite number ≥ 1; returns it rounded down. */
export function checkedLimit(limitPerSecond: number): number {
  if (!Number.isFinite(limitPerSecond) || limitPerSecond < 1) {
    throw new RangeError(`limitPerSecond must be at least 1, got ${limitPerSecond}`);
  }
  return Math.floor(limitPerSecond);
}
