import { LeaseLostError } from '../errors/index.js';
import type { Lease } from '../leases/index.js';
import type { RedisClient, RedisKeys } from '../redis/index.js';
import { parseState, parseStatus, type CheckpointStore, type RunStatus, type SourceState } from './checkpoint-store.js';

// The write and the fencing check are one atomic step: no stale holder can slip in between.
const FENCED_SET = `
local holder = redis.call('GET', KEYS[1])
if holder == false or string.format('%016d', tonumber(holder)) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1
`;

/** Checkpoint cache in Redis, fenced by the lease keys of RedisLeaseManager. */
export class RedisCheckpointStore implements CheckpointStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async load(source: string): Promise<SourceState | undefined> {
    return parseState(await this.redis.get(this.keys.state(source)));
  }

  async save(source: string, state: SourceState, lease: Lease): Promise<void> {
    const ok = await this.redis.eval(FENCED_SET, 2, this.keys.lease(source), this.keys.state(source), lease.token, JSON.stringify(state));
    if (ok !== 1) throw new LeaseLostError(source, lease.token);
  }

  async loadStatus(source: string): Promise<RunStatus | undefined> {
    return parseStatus(await this.redis.get(this.keys.status(source)));
  }

  async saveStatus(source: string, status: RunStatus): Promise<void> {
    await this.redis.set(this.keys.status(source), JSON.stringify(status));
  }

  async close(): Promise<void> {}
}
