import { LeaseBusyError, LeaseLostError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { evalReplicated, type RedisClient, type RedisKeys, type ReplicaWait } from '../redis/index.js';
import { formatToken, type Lease, type LeaseManager } from './lease.js';

// A token is the larger of the incremented counter and Redis' own clock in microseconds, so
// tokens keep growing when Redis loses its data (FLUSHALL, a restart without persistence) and
// also when it comes back with an old counter (restart from an older RDB snapshot, a lagging
// replica promoted): a new token is always larger than any token already in storage.
//
// KEYS[3] records which master's replication history the leases were written in (its
// master_replid). When another master serves the data set (a Sentinel or Cluster failover), a
// lease written to the old master that had not reached the promoted replica is gone while its
// holder may still be draining; so after a change no lease is granted for ARGV[2] ms (a TTL and
// a renewal interval: by then every such holder has found its lease gone, or given it up after
// a TTL without renewal). Leases that did reach the new master are still held and renewed.
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ok, info = pcall(redis.call, 'INFO', 'replication')
local replid = ok and string.match(info, 'master_replid:(%w+)') or nil
if replid then
  local epoch = redis.call('HMGET', KEYS[3], 'replid', 'quietUntil')
  local quietUntil = tonumber(epoch[2] or '0')
  if epoch[1] and epoch[1] ~= replid then
    quietUntil = clock + tonumber(ARGV[2]) * 1000
    redis.call('HSET', KEYS[3], 'replid', replid, 'quietUntil', string.format('%d', quietUntil))
  elseif not epoch[1] then
    -- No record (a new deployment, or Redis lost its data): nothing to wait for that it knows of.
    redis.call('HSET', KEYS[3], 'replid', replid, 'quietUntil', '0')
  end
  if quietUntil > clock then return { 'quiet', string.format('%d', math.ceil((quietUntil - clock) / 1000)) } end
end
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
  /**
   * Replicas a new lease should reach (Redis WAIT) before its drain starts, so that a failover
   * keeps it rather than abandoning the drain. @defaultValue none (standalone)
   */
  replicaWait?: ReplicaWait;
}

const NO_WAIT: ReplicaWait = { replicas: 0, timeoutMs: 0 };

/**
 * A lease only on the master is lost if the master fails before replicating it: the promoted
 * replica has no lease and a second drain may start (storage still fences its commits). Held on
 * anyway, so that a missing replica slows nothing down; said, so that it is seen.
 */
function warnIfUnreplicated(options: RedisLeaseOptions, source: string, acknowledged: number | undefined): void {
  const wanted = options.replicaWait?.replicas ?? 0;
  if (acknowledged !== undefined && acknowledged < wanted) {
    options.logger.warn(
      { source, replicas: acknowledged, wanted },
      'lease write reached fewer replicas than redis.leaseReplicas: a failover now could let a second drain of this source start',
    );
  }
}

/** Leases held in Redis with a TTL, renewed every third of it while held. */
export class RedisLeaseManager implements LeaseManager {
  readonly #redis: RedisClient;
  readonly #options: RedisLeaseOptions;
  #quietLoggedUntil = 0;

  constructor(redis: RedisClient, options: RedisLeaseOptions) {
    this.#redis = redis;
    this.#options = options;
  }

  async acquire(source: string): Promise<Lease> {
    const key = this.#options.keys.lease(source);
    const { keys, ttlMs } = this.#options;
    const { reply, acknowledged } = await evalReplicated(
      this.#redis,
      ACQUIRE,
      [key, keys.fence(), keys.leaseEpoch()],
      [String(ttlMs), String(Math.ceil((ttlMs * 4) / 3))],
      this.#options.replicaWait ?? NO_WAIT,
    );
    if (Array.isArray(reply)) {
      this.#quiet(Number(reply[1]));
      throw new LeaseBusyError(source);
    }
    const raw = reply as string | null;
    if (raw === null) throw new LeaseBusyError(source);
    warnIfUnreplicated(this.#options, source, acknowledged);
    return new RedisLease(this.#redis, key, source, raw, this.#options);
  }

  /** Says once per quiet period why leases are refused after a master change. */
  #quiet(remainingMs: number): void {
    if (Date.now() < this.#quietLoggedUntil) return;
    this.#quietLoggedUntil = Date.now() + remainingMs;
    this.#options.logger.warn(
      { remainingMs },
      'redis is served by another master than the leases were written to (a failover): no new lease for a TTL and a renewal interval, ' +
        'so that no holder of a lease the failover lost is still draining when its source is taken again',
    );
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
