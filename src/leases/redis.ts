import { LeaseBusyError, LeaseLostError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import type { RedisClient, RedisKeys } from '../redis/index.js';
import { formatToken, type Lease, type LeaseManager } from './lease.js';

// A token is the larger of the incremented counter and Redis' own clock in microseconds, so
// tokens keep growing when Redis loses its data (FLUSHALL, a restart without persistence) and
// also when it comes back with an old counter (restart from an older RDB snapshot, a lagging
// replica promoted): a new token is always larger than any token already in storage.
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
local counter = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
if clock > counter then counter = clock end
-- %d, not tostring: Lua would print a 16-digit token in exponent notation.
local token = string.format('%d', counter)
redis.call('SET', KEYS[2], token)
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return token
`;

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export interface RedisLeaseOptions {
  /** The deployment's keys; the Redis checkpoint store fences on the same lease keys. */
  keys: RedisKeys;
  ttlMs: number;
  logger: Logger;
}

/** Leases held in Redis with a TTL, renewed every third of it while held. */
export class RedisLeaseManager implements LeaseManager {
  readonly #redis: RedisClient;
  readonly #options: RedisLeaseOptions;

  constructor(redis: RedisClient, options: RedisLeaseOptions) {
    this.#redis = redis;
    this.#options = options;
  }

  async acquire(source: string): Promise<Lease> {
    const key = this.#options.keys.lease(source);
    const raw = (await this.#redis.eval(ACQUIRE, 2, key, this.#options.keys.fence(), String(this.#options.ttlMs))) as string | null;
    if (raw === null) throw new LeaseBusyError(source);
    return new RedisLease(this.#redis, key, source, raw, this.#options);
  }

  async close(): Promise<void> {}
}

class RedisLease implements Lease {
  readonly token: string;
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  #released = false;
  /** When the lease was last known held (acquired or renewed). */
  #heldAt = Date.now();

  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    readonly source: string,
    private readonly raw: string,
    private readonly options: RedisLeaseOptions,
  ) {
    this.token = formatToken(raw);
    this.#timer = setInterval(() => void this.#renew(), Math.max(200, Math.floor(options.ttlMs / 3)));
    this.#timer.unref();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  async #renew(): Promise<void> {
    if (this.#released || this.#controller.signal.aborted) return;
    const attemptAt = Date.now();
    try {
      const ok = await this.redis.eval(RENEW, 1, this.key, this.raw, String(this.options.ttlMs));
      if (ok !== 1) this.#lose(undefined);
      else this.#heldAt = attemptAt;
    } catch (error) {
      // A failed renewal is not yet a lost lease while the TTL may still be running; once it
      // has surely run out, another worker may hold the source, so stop working on it.
      this.options.logger.warn({ source: this.source, err: { message: (error as Error).message } }, 'lease renewal failed');
      if (Date.now() - this.#heldAt >= this.options.ttlMs) this.#lose(error);
    }
  }

  #lose(cause: unknown): void {
    if (this.#controller.signal.aborted) return;
    clearInterval(this.#timer);
    this.options.logger.warn({ source: this.source, fencingToken: this.token }, 'lease lost');
    this.#controller.abort(new LeaseLostError(this.source, this.token, cause));
  }

  async check(): Promise<void> {
    if (this.#controller.signal.aborted) throw this.#controller.signal.reason;
    let current: string | null;
    try {
      current = await this.redis.get(this.key);
    } catch (cause) {
      // Without an answer we cannot prove we still hold it, so we must not commit.
      throw new LeaseLostError(this.source, this.token, cause);
    }
    if (current !== this.raw) {
      this.#lose(undefined);
      throw new LeaseLostError(this.source, this.token);
    }
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    try {
      await this.redis.eval(RELEASE, 1, this.key, this.raw);
    } catch (error) {
      this.options.logger.warn({ source: this.source, err: error }, 'lease release failed; it expires by itself');
    }
  }
}
