import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient, RedisKeys } from '../redis/index.js';
import { checkedLimit, limiterSettings, type RateLimiter, type RateLimiterOptions, type RateLimitPermit } from './rate-limiter.js';

/**
 * One quota in two sorted sets, times in µs from Redis `TIME`: KEYS[1] calls answered (score: when
 * released), KEYS[2] calls still out (score: when granted). A grant is made while fewer than
 * `limit` calls were answered in the last window or are still out. Atomic in Redis, so any number
 * of processes share one quota; the clock is the server's, so skew between worker hosts cannot let
 * two of them both believe a slot is free. A call out for longer than `inFlight` (its worker died)
 * is moved to the answered set as if answered then.
 *
 * ARGV[1] limit; ARGV[2] window µs; ARGV[3] a unique member; ARGV[4] inFlight µs.
 * Returns { 1, now } when granted, { 0, waitMicros } when the caller must wait.
 */
const ACQUIRE = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local inflight = tonumber(ARGV[4])
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', now - inflight), 'WITHSCORES')
for i = 1, #stale, 2 do
  redis.call('ZREM', KEYS[2], stale[i])
  redis.call('ZADD', KEYS[1], tonumber(stale[i + 1]) + inflight, stale[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', now - window))
local answered = redis.call('ZCARD', KEYS[1])
local count = answered + redis.call('ZCARD', KEYS[2])
if count < limit then
  local ttl = math.ceil((window + inflight) / 1000) + 1000
  redis.call('ZADD', KEYS[2], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ttl)
  if answered > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
  return { 1, now }
end
-- The k-th earliest answer leaving the window frees a slot; calls still out leave it a window after
-- their answer at the earliest.
local k = count - limit + 1
if k <= answered then
  local kth = redis.call('ZRANGE', KEYS[1], k - 1, k - 1, 'WITHSCORES')
  return { 0, tonumber(kth[2]) + window - now + 1 }
end
return { 0, window }
`;

/**
 * KEYS as above; ARGV[1] the member; ARGV[2] window µs; ARGV[3] inFlight µs. Moves the call from
 * "out" to "answered now"; a call already moved (out for too long) is left as it is.
 */
const RELEASE = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.ceil((tonumber(ARGV[2]) + tonumber(ARGV[3])) / 1000) + 1000)
  return 1
end
return 0
`;

interface Script {
  text: string;
  sha: string;
}
const script = (text: string): Script => ({ text, sha: createHash('sha1').update(text).digest('hex') });
const ACQUIRE_SCRIPT = script(ACQUIRE);
const RELEASE_SCRIPT = script(RELEASE);

/**
 * RateLimiter shared by every worker through Redis: together their calls never arrive more than
 * `limitPerSecond` times in any one-second window, whatever the delays between grant, send and
 * answer (see RateLimiter for why releases make that exact).
 *
 * The ioredis client belongs to the caller: `close()` leaves it open.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #redis: RedisClient;
  readonly #keys: RedisKeys;
  readonly #settings: ReturnType<typeof limiterSettings>;
  readonly #instance = randomBytes(6).toString('hex');
  readonly #releasing = new Set<Promise<unknown>>();
  #sequence = 0;

  constructor(redis: RedisClient, keys: RedisKeys, options: RateLimiterOptions = {}) {
    this.#redis = redis;
    this.#keys = keys;
    this.#settings = limiterSettings(options);
  }

  async acquire(key: string, limitPerSecond: number, signal?: AbortSignal): Promise<RateLimitPermit> {
    const limit = checkedLimit(limitPerSecond);
    const { windowMs, inFlightMs, jitterMs } = this.#settings;
    const keys = this.#quotaKeys(key);
    const window = String(windowMs * 1000);
    const inFlight = String(inFlightMs * 1000);
    for (;;) {
      signal?.throwIfAborted();
      this.#sequence += 1;
      const member = `${this.#instance}:${this.#sequence}`;
      const reply = await this.#run(ACQUIRE_SCRIPT, keys, [String(limit), window, member, inFlight]);
      if (!Array.isArray(reply) || reply.length !== 2) {
        throw new Error(`unexpected rate limiter reply from Redis: ${JSON.stringify(reply)}`);
      }
      const [granted, value] = [Number(reply[0]), Number(reply[1])];
      if (granted === 1) return this.#permit(keys, value / 1000, [member, window, inFlight]);
      const waitMs = Math.max(1, Math.ceil(value / 1000)) + Math.floor(Math.random() * (jitterMs + 1));
      await sleep(waitMs, undefined, signal ? { signal } : undefined);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#releasing]);
  }

  #quotaKeys(key: string): [string, string] {
    const base = this.#keys.rateLimit(key);
    return [`${base}:answered`, `${base}:out`];
  }

  #permit(keys: [string, string], grantedAt: number, releaseArgs: string[]): RateLimitPermit {
    let released = false;
    return {
      grantedAt,
      release: () => {
        if (released) return;
        released = true;
        // Not awaited by the call: its answer is in. A release lost with Redis only costs the
        // slot until `inFlightMs`, never the bound.
        const pending = this.#run(RELEASE_SCRIPT, keys, releaseArgs).catch(() => undefined);
        this.#releasing.add(pending);
        void pending.finally(() => this.#releasing.delete(pending));
      },
    };
  }

  async #run(s: Script, keys: [string, string], args: string[]): Promise<unknown> {
    try {
      return await this.#redis.evalsha(s.sha, 2, ...keys, ...args);
    } catch (error) {
      // First use on this server, or after a SCRIPT FLUSH / restart: load it by sending it whole.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await this.#redis.eval(s.text, 2, ...keys, ...args);
    }
  }
}
