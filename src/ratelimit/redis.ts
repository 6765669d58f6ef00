import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient, RedisKeys } from '../redis/index.js';
import type { RateLimiter } from './rate-limiter.js';

/**
 * Sliding one-second window over a sorted set of grant timestamps (µs, from Redis `TIME`).
 * Atomic in Redis, so any number of processes share one quota; the clock is the server's, so
 * skew between worker hosts cannot let two of them both believe a slot is free. With a spacing,
 * a grant also waits until that long after the newest one: calls are spread evenly instead of
 * sent in bursts of `limit`, so arrival jitter at the provider cannot bunch two bursts into one
 * second, and a window barely longer than a second suffices.
 *
 * KEYS[1] the window; KEYS[2] when the next spaced grant is due (µs); ARGV[1] limit; ARGV[2]
 * window in µs; ARGV[3] a unique member; ARGV[4] spacing in µs (0: bursts allowed). The window is
 * the hard bound; the spacing only spreads the grants inside it.
 * Returns { 1, now } when granted, { 0, waitMicros } when the caller must wait.
 */
const SCRIPT = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local spacing = tonumber(ARGV[4] or '0')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local wait = 0
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  wait = tonumber(oldest[2]) + window - now
end
local due = 0
if spacing > 0 then
  due = tonumber(redis.call('GET', KEYS[2]) or '0')
  if due - now > wait then wait = due - now end
end
if wait <= 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  if spacing > 0 then
    -- The schedule stays anchored while callers keep up, so a late grant does not delay every later one.
    local base = due
    if now - due >= spacing then base = now end
    redis.call('SET', KEYS[2], string.format('%.0f', base + spacing), 'PX', math.ceil(window / 1000) + 1000)
  end
  return { 1, now }
end
return { 0, wait }
`;
const SCRIPT_SHA = createHash('sha1').update(SCRIPT).digest('hex');

export interface RedisRateLimiterOptions {
  /**
   * Extra ms added to the one-second window. A grant is not a request: signing, scheduling and
   * the network delay each send by a different amount, which can bunch calls that were granted
   * a second apart into less than a second at the provider. The guard absorbs that jitter, at
   * the price of a sustained rate of `limit / (1 + guard)` per second. @defaultValue 250
   */
  guardMs?: number;
  /**
   * Upper bound of the random extra wait in ms when the window is full, so that waiting
   * workers do not all retry in the same millisecond. @defaultValue 5
   */
  jitterMs?: number;
  /**
   * Spread grants evenly at this fraction of the limit (0.97: at least 1000 / (0.97 × limit) ms
   * apart) instead of allowing bursts of `limit` at once. Even spacing keeps arrival jitter from
   * bunching calls at the provider, so the guard can be small and the sustained rate close to the
   * quota. @defaultValue undefined (bursts allowed)
   */
  spread?: number;
}

/**
 * RateLimiter shared by every worker through Redis: together they never grant more than
 * `limitPerSecond` calls in any one-second window (by the Redis server's clock).
 *
 * The ioredis client belongs to the caller: `close()` leaves it open.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #redis: RedisClient;
  readonly #keys: RedisKeys;
  readonly #jitterMs: number;
  readonly #windowMicros: number;
  readonly #spread: number | undefined;
  readonly #instance = randomBytes(6).toString('hex');
  #sequence = 0;

  constructor(redis: RedisClient, keys: RedisKeys, options: RedisRateLimiterOptions = {}) {
    this.#redis = redis;
    this.#keys = keys;
    this.#jitterMs = Math.max(0, options.jitterMs ?? 5);
    this.#windowMicros = (1000 + Math.max(0, options.guardMs ?? 250)) * 1000;
    this.#spread = options.spread === undefined ? undefined : Math.min(1, Math.max(0.1, options.spread));
  }

  async acquire(key: string, limitPerSecond: number, signal?: AbortSignal): Promise<void> {
    await this.acquireAt(key, limitPerSecond, signal);
  }

  /** Like `acquire`, resolving to the grant time in ms on the Redis server's clock (for tests and metrics). */
  async acquireAt(key: string, limitPerSecond: number, signal?: AbortSignal): Promise<number> {
    if (!Number.isFinite(limitPerSecond) || limitPerSecond < 1) {
      throw new RangeError(`limitPerSecond must be at least 1, got ${limitPerSecond}`);
    }
    const limit = Math.floor(limitPerSecond);
    const redisKey = this.#keys.rateLimit(key);
    for (;;) {
      signal?.throwIfAborted();
      this.#sequence += 1;
      const member = `${this.#instance}:${this.#sequence}`;
      const spacing = this.#spread === undefined ? 0 : Math.floor(1_000_000 / (limit * this.#spread));
      const [granted, value] = await this.#run(redisKey, limit, member, spacing);
      if (granted === 1) return value / 1000;
      const waitMs = Math.max(1, Math.ceil(value / 1000)) + Math.floor(Math.random() * (this.#jitterMs + 1));
      await sleep(waitMs, undefined, signal ? { signal } : undefined);
    }
  }

  async close(): Promise<void> {}

  async #run(redisKey: string, limit: number, member: string, spacingMicros: number): Promise<[number, number]> {
    const args = [redisKey, `${redisKey}:due`, String(limit), String(this.#windowMicros), member, String(spacingMicros)] as const;
    let reply: unknown;
    try {
      reply = await this.#redis.evalsha(SCRIPT_SHA, 2, ...args);
    } catch (error) {
      // First use on this server, or after a SCRIPT FLUSH / restart: load it by sending it whole.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      reply = await this.#redis.eval(SCRIPT, 2, ...args);
    }
    if (!Array.isArray(reply) || reply.length !== 2) {
      throw new Error(`unexpected rate limiter reply from Redis: ${JSON.stringify(reply)}`);
    }
    return [Number(reply[0]), Number(reply[1])];
  }
}
