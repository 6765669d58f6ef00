import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCheckpointStore, FileCheckpointStore } from '../src/checkpoints/index.js';
import { LeaseBusyError, LeaseLostError } from '../src/errors/index.js';
import { FileLeaseManager, RedisLeaseManager } from '../src/leases/index.js';
import { silentLogger } from '../src/observability/index.js';
import { RedisKeys } from '../src/redis/index.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';

const state = (n: number) => ({ head: null, position: { n }, updatedAt: new Date().toISOString() });

describe('redis leases and fenced checkpoints', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it("grants one holder at a time and rejects a stale holder's commit after the lease moved on", async () => {
    const client = redis.client();
    const leases = new RedisLeaseManager(client, { keys: new RedisKeys('t1'), ttlMs: 400, logger: silentLogger() });
    const checkpoints = new RedisCheckpointStore(client, new RedisKeys('t1'));
    const first = await leases.acquire('s');
    await expect(leases.acquire('s')).rejects.toBeInstanceOf(LeaseBusyError);
    await checkpoints.save('s', state(1), first);
    // A stalled holder: renewal stops (as in a long GC pause or a partition) and the TTL runs out.
    await first.release();
    const second = await leases.acquire('s');
    expect(BigInt(second.token)).toBeGreaterThan(BigInt(first.token));
    await expect(first.check()).rejects.toBeInstanceOf(LeaseLostError);
    await expect(checkpoints.save('s', state(2), first)).rejects.toBeInstanceOf(LeaseLostError);
    expect((await checkpoints.load('s'))?.position).toEqual({ n: 1 });
    await checkpoints.save('s', state(3), second);
    expect((await checkpoints.load('s'))?.position).toEqual({ n: 3 });
    await second.release();
  });

  it('keeps a lease alive by renewal while held, and loses it when someone else takes the key', async () => {
    const client = redis.client();
    const leases = new RedisLeaseManager(client, { keys: new RedisKeys('t2'), ttlMs: 300, logger: silentLogger() });
    const lease = await leases.acquire('s');
    await sleep(900);
    await expect(lease.check()).resolves.toBeUndefined();
    await client.set(new RedisKeys('t2').lease('s'), '1');
    await expect(lease.check()).rejects.toBeInstanceOf(LeaseLostError);
    expect(lease.signal.aborted).toBe(true);
  });

  it('issues larger tokens when Redis comes back with an old counter (restored snapshot, promoted replica)', async () => {
    const client = redis.client();
    const leases = new RedisLeaseManager(client, { keys: new RedisKeys('t4'), ttlMs: 5000, logger: silentLogger() });
    const before = await leases.acquire('s');
    await before.release();
    await client.set(new RedisKeys('t4').fence(), '5');
    const after = await leases.acquire('s');
    expect(BigInt(after.token)).toBeGreaterThan(BigInt(before.token));
  });

  it('gives the lease up once renewals have failed for a whole TTL (cut off from Redis)', async () => {
    const own = await startRedis();
    try {
      const client = own.client();
      const leases = new RedisLeaseManager(client, { keys: new RedisKeys('t5'), ttlMs: 3000, logger: silentLogger() });
      const lease = await leases.acquire('s');
      await own.kill();
      await sleep(4500);
      expect(lease.signal.aborted).toBe(true);
      expect(lease.signal.reason).toBeInstanceOf(LeaseLostError);
    } finally {
      await own.stop();
    }
  });

  it('issues larger tokens even after Redis lost every key', async () => {
    const client = redis.client();
    const leases = new RedisLeaseManager(client, { keys: new RedisKeys('t3'), ttlMs: 5000, logger: silentLogger() });
    const before = await leases.acquire('s');
    await redis.flushAll();
    const after = await leases.acquire('s');
    expect(BigInt(after.token)).toBeGreaterThan(BigInt(before.token));
    await expect(before.check()).rejects.toBeInstanceOf(LeaseLostError);
  });
});

describe('file leases', () => {
  it('grants one holder at a time, takes over an expired lock, and fences the old holder', async () => {
    const dir = makeTempDir('file-lease');
    try {
      const leases = new FileLeaseManager(dir, { ttlMs: 300, logger: silentLogger() });
      const checkpoints = new FileCheckpointStore(dir);
      const first = await leases.acquire('s');
      await expect(new FileLeaseManager(dir, { ttlMs: 300, logger: silentLogger() }).acquire('s')).rejects.toBeInstanceOf(LeaseBusyError);
      await checkpoints.save('s', state(1), first);
      // The holder "dies": its lock is left behind, unrenewed, with a pid that no longer runs.
      await first.release();
      const second = await leases.acquire('s');
      expect(BigInt(second.token)).toBeGreaterThan(BigInt(first.token));
      await expect(checkpoints.save('s', state(2), first)).rejects.toBeInstanceOf(LeaseLostError);
      expect((await checkpoints.load('s'))?.position).toEqual({ n: 1 });
      await second.release();
    } finally {
      removeTempDir(dir);
    }
  });
});
