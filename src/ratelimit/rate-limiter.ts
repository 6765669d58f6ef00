/**
 * Spaces calls that share a quota (a key such as `sddp:<AccessKeyId hash>`), so that all callers
 * together stay under `limitPerSecond`. `acquire` resolves when the caller may send one request.
 *
 * Deliberately not part of it: retrying throttled calls (the HTTP layer does) or queue fairness.
 */
export interface RateLimiter {
  acquire(key: string, limitPerSecond: number, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}
