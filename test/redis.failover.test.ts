import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseBusyError, LeaseLostError } from '../src/errors/index.js';
import { RedisLeaseManager } from '../src/leases/index.js';
import { silentLogger } from '../src/observability/index.js';
import { RedisKeys } from '../src/redis/index.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';

async function waitForSync(replica: RedisHandle): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (/master_link_status:up/.test(await replica.client().info('replication'))) return;
    await sleep(20);
  }
  throw new Error('replica did not sync');
}

describe('leases when another master takes over (failover, promoted replica)', () => {
  let master: RedisHandle;
  let replica: RedisHandle;
  beforeAll(async () => {
    [master, replica] = await Promise.all([startRedis(), startRedis()]);
    await replica.client().replicaof('127.0.0.1', master.port);
    await waitForSync(replica);
  });
  afterAll(async () => {
    await master?.stop();
    await replica?.stop();
  });

  it('keeps leases the new master has, grants none for a TTL and a renewal interval, and fences the holder of a lease it lost', async () => {
    const keys = new RedisKeys('failover');
    const ttlMs = 3_000;
    const onMaster = new RedisLeaseManager(master.client(), {
      keys,
      ttlMs,
      logger: silentLogger(),
      replicaWait: { replicas: 1, timeoutMs: 1_000 },
    });
    const kept = await onMaster.acquire('kept');
    // The replica is promoted (as Sentinel does); the old master, not yet told, still takes writes
    // that the new master will never see.
    await replica.client().replicaof('NO', 'ONE');
    // A lease that reached the replica (the acquisition waited for it) is still held there.
    expect(BigInt((await replica.client().get(keys.lease('kept'))) ?? '0')).toBe(BigInt(kept.token));
    const lost = await onMaster.acquire('lost');
    const promoted = Date.now();

    const onNew = new RedisLeaseManager(replica.client(), { keys, ttlMs, logger: silentLogger() });
    await expect(onNew.acquire('lost')).rejects.toBeInstanceOf(LeaseBusyError);
    await expect(onNew.acquire('other')).rejects.toBeInstanceOf(LeaseBusyError);
    // Sentinel then turns the old master into a replica of the new one: its lost write is gone.
    await master.client().replicaof('127.0.0.1', replica.port);
    await waitForSync(master);
    // The holder of the lost lease learns it at its next check, before it could commit anything.
    await expect(lost.check()).rejects.toBeInstanceOf(LeaseLostError);

    // After the quiet period (4/3 of the TTL) leases are granted again, with larger tokens.
    await sleep(Math.max(0, promoted + (ttlMs * 4) / 3 + 100 - Date.now()));
    const again = await onNew.acquire('lost');
    expect(BigInt(again.token)).toBeGreaterThan(BigInt(lost.token));
    await again.release();
  });
});
