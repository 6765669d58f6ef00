import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCheckpointStore, FileCheckpointStore } from '../src/checkpoints/index.js';
import { LeaseBusyError, LeaseLostError } from '../src/errors/index.js';
import { FileLeaseManager, RedisLeaseManager } from '../src/leases/index.js';
import { silentLogger } from '../src/observability/index.js';
import { RedisKeys } from '../src/redis/index.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';

const state = (n: number) => ({ head: null, checkpoint: { n }, updatedAt: new Date().toISOString() });

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
    expect((await checkpoints.load('s'))?.checkpoint).toEqual({ n: 1 });
    await checkpoints.save('s', state(3), second);
    expect((await checkpoints.load('s'))?.checkpoint).toEqual({ n: 3 });
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
      expect((await checkpoints.load('s'))?.checkpoint).toEqual({ n: 1 });
      await second.release();
    } finally {
      removeTempDir(dir);
    }
  });
});

describe('file leases across containers and hosts', () => {
  const lockOf = (dir: string) => join(dir, 'leases', 's.lock');

  it('never takes a live lease of a holder in another pid namespace or host, however dead its pid looks here', async () => {
    const dir = makeTempDir('file-lease-ns');
    try {
      const leases = new FileLeaseManager(dir, { ttlMs: 3000, logger: silentLogger() });
      const held = await leases.acquire('s');
      // Make the lock look written from another pid namespace: its pid (1 inside a container) means nothing here.
      const body = JSON.parse(readFileSync(lockOf(dir), 'utf8')) as Record<string, unknown>;
      writeFileSync(lockOf(dir), JSON.stringify({ ...body, pid: 999_999, pidNamespace: 'pid:[1]' }).padEnd(512, ' '));
      for (let i = 0; i < 3; i += 1) {
        await expect(new FileLeaseManager(dir, { ttlMs: 3000, logger: silentLogger() }).acquire('s')).rejects.toBeInstanceOf(
          LeaseBusyError,
        );
        await sleep(400);
      }
      await held.release();
    } finally {
      removeTempDir(dir);
    }
  });

  it('renews in place: a renewal never overwrites a lock another process put there', async () => {
    const dir = makeTempDir('file-lease-renew');
    try {
      const leases = new FileLeaseManager(dir, { ttlMs: 600, logger: silentLogger() });
      const first = await leases.acquire('s');
      // Someone replaces the lock (a takeover); the old holder's next renewal must notice, not overwrite.
      const other = JSON.parse(readFileSync(lockOf(dir), 'utf8')) as Record<string, unknown>;
      rmSync(lockOf(dir));
      writeFileSync(lockOf(dir), JSON.stringify({ ...other, token: '9999999999999999' }).padEnd(512, ' '));
      await sleep(500);
      expect(first.signal.aborted).toBe(true);
      expect((JSON.parse(readFileSync(lockOf(dir), 'utf8')) as { token: string }).token).toBe('9999999999999999');
    } finally {
      removeTempDir(dir);
    }
  });

  it('takes an expired lease over, with a larger token, and above a floor from storage', async () => {
    const dir = makeTempDir('file-lease-floor');
    try {
      const leases = new FileLeaseManager(dir, { ttlMs: 3000, logger: silentLogger() });
      const lease = await leases.acquire('s', { above: '8000000000000000' });
      expect(lease.token > '8000000000000000').toBe(true);
      await lease.release();
    } finally {
      removeTempDir(dir);
    }
  });

  it('a stale holder cannot replace a newer holder’s checkpoint', async () => {
    const dir = makeTempDir('file-ckpt-fence');
    try {
      const leases = new FileLeaseManager(dir, { ttlMs: 300, logger: silentLogger() });
      const checkpoints = new FileCheckpointStore(dir);
      const first = await leases.acquire('s');
      await first.release();
      const second = await leases.acquire('s');
      await checkpoints.save('s', state(2), second);
      // The first holder, not knowing, saves after (its check is racing): the newer state stays.
      await expect(checkpoints.save('s', state(1), { ...first, check: async () => undefined })).rejects.toBeInstanceOf(LeaseLostError);
      expect((await checkpoints.load('s'))?.checkpoint).toEqual({ n: 2 });
      await second.release();
    } finally {
      removeTempDir(dir);
    }
  });
});

describe('redis leases above a floor', () => {
  it('issues a token above the one storage shows (Redis lost and the clock stepped back)', async () => {
    const own = await startRedis();
    try {
      const leases = new RedisLeaseManager(own.client(), { keys: new RedisKeys('f'), ttlMs: 3000, logger: silentLogger() });
      const lease = await leases.acquire('s', { above: '8000000000000000' });
      expect(lease.token > '8000000000000000').toBe(true);
      await lease.release();
    } finally {
      await own.stop();
    }
  });
});
