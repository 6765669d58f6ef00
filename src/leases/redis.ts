import { LeaseBusyError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { evalReplicated, type RedisClient, type RedisKeys, type ReplicaWait } from '../redis/index.js';
import { formatToken, type Lease, type LeaseManager } from './lease.js';
import { RenewedLease } from './renewed-lease.js';

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
-- Above the largest token storage shows (after Redis lost its data and the clock stepped back).
local floor = tonumber(ARGV[3]) + 1
if floor > counter then counter = floor end
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

  async acquire(source: string, options: { above?: string } = {}): Promise<Lease> {
    const key = this.#options.keys.lease(source);
    const floor = options.above !== undefined && /^\d+$/.test(options.above) ? options.above : '0';
    const { keys, ttlMs } = this.#options;
    const { reply, acknowledged } = await evalReplicated(
      this.#redis,
      ACQUIRE,
      [key, keys.fence(), keys.leaseEpoch()],
      [String(ttlMs), String(Math.ceil((ttlMs * 4) / 3)), floor],
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

class RedisLease extends RenewedLease {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    source: string,
    private readonly raw: string,
    options: RedisLeaseOptions,
  ) {
    super(source, formatToken(raw), options.ttlMs, options.logger);
    this.startRenewing();
  }

  protected async renewOnce(): Promise<boolean> {
    return (await this.redis.eval(RENEW, 1, this.key, this.raw, String(this.ttlMs))) === 1;
  }

  protected async holdsOnce(): Promise<boolean> {
    return (await this.redis.get(this.key)) === this.raw;
  }

  protected async releaseOnce(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.raw);
  }
}
