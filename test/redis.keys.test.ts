import { QueueKeys } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCheckpointStore } from '../src/checkpoints/index.js';
import { RedisLeaseManager } from '../src/leases/index.js';
import { silentLogger } from '../src/observability/index.js';
import { RedisKeys, adoptLegacyKeys } from '../src/redis/index.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';

/** What Redis Cluster hashes a key by (its hash tag), per the cluster specification's rule. */
function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('RedisKeys', () => {
  it('puts every archiver key and every BullMQ key of a deployment in one cluster slot, and other prefixes elsewhere', () => {
    const keys = new RedisKeys('log-archiver');
    const ours = [
      keys.lease('dq-run-10001'),
      keys.fence(),
      keys.leaseEpoch(),
      keys.state('dq-run-10001'),
      keys.status('dataservice-access'),
      keys.rateLimit('sddp:3f2a9c'),
    ];
    const bullmq = Object.values(new QueueKeys(keys.bullmqPrefix).getKeys('drain'));
    expect(bullmq.length).toBeGreaterThan(10);
    // Redis Cluster hashes the text between the first `{` and the next `}` (the Cluster test checks
    // the slots on a real cluster with CLUSTER KEYSLOT).
    expect(new Set([...ours, ...bullmq].map(hashTagOf))).toEqual(new Set(['log-archiver']));
    expect(keys.lease('a')).not.toBe(keys.lease('b'));
    expect(hashTagOf(new RedisKeys('tenant-b').lease('a'))).toBe('tenant-b');
  });

  it('refuses a prefix that carries its own braces (the hash tag is added, never nested)', () => {
    expect(() => new RedisKeys('{x}')).toThrow(RangeError);
  });
});

describe('keys of an older release (no hash tag)', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('carries the fence counter and run status over, so that tokens never go backwards across the rename', async () => {
    const client = redis.client();
    // Tokens of the old release, issued while the server clock was far ahead (a restored replica now runs behind it).
    const oldToken = '8000000000000000';
    await client.set('old:fence', oldToken);
    await client.set('old:status:s1', JSON.stringify({ lastSuccessAt: '2026-01-01T00:00:00.000Z' }));
    await client.set('old:state:s1', JSON.stringify({ head: null, position: { n: 1 }, updatedAt: 'x' }));
    const keys = new RedisKeys('old');
    await adoptLegacyKeys(client, keys, ['s1', 's2'], silentLogger());
    const lease = await new RedisLeaseManager(client, { keys, ttlMs: 5_000, logger: silentLogger() }).acquire('s1');
    expect(BigInt(lease.token)).toBeGreaterThan(BigInt(oldToken));
    await lease.release();
    const checkpoints = new RedisCheckpointStore(client, keys);
    expect((await checkpoints.loadStatus('s1'))?.lastSuccessAt).toBe('2026-01-01T00:00:00.000Z');
    expect(await checkpoints.loadStatus('s2')).toBeUndefined();
    // The cached checkpoint is not carried: the drain rebuilds it from the manifests in storage.
    expect(await checkpoints.load('s1')).toBeUndefined();
    // Adopting again (every start) neither lowers the new counter nor overwrites newer status.
    await checkpoints.saveStatus('s1', { lastSuccessAt: '2026-02-02T00:00:00.000Z' });
    await adoptLegacyKeys(client, keys, ['s1'], silentLogger());
    expect(BigInt((await client.get(keys.fence()))!)).toBeGreaterThan(BigInt(oldToken));
    expect((await checkpoints.loadStatus('s1'))?.lastSuccessAt).toBe('2026-02-02T00:00:00.000Z');
  });
});
