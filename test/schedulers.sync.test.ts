import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig, type SourceConfig } from '../src/config/index.js';
import { silentLogger } from '../src/observability/index.js';
import { RedisKeys } from '../src/redis/index.js';
import { createDrainQueue, type DrainJobData } from '../jobs/queue.js';
import { syncSchedulers, type SchedulerSyncState } from '../jobs/schedulers.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';

const keys = new RedisKeys('sync-test');

/** Sources of a config: id → schedule (`every` text or `{ cron }`); a leading `-` disables one. */
function sources(spec: Record<string, string | { cron: string }>): SourceConfig[] {
  const list = Object.entries(spec).map(([id, schedule]) => ({
    id: id.replace(/^-/, ''),
    enabled: !id.startsWith('-'),
    provider: 'aliyun-oos-execution-logs',
    endpoint: 'http://127.0.0.1:1',
    credentials: { accessKeyId: 'LTAItest', accessKeySecret: 'test-secret' },
    schedule: typeof schedule === 'string' ? { every: schedule } : schedule,
    params: { regionId: 'cn-hangzhou', executionIds: ['exec-1'] },
  }));
  return parseConfig(JSON.stringify({ storage: { kind: 'file', path: './a' }, sources: list }), {}).sources;
}

describe('scheduler sync: writes nothing while the config and Redis agree, repairs whatever differs', () => {
  let redis: RedisHandle;
  let client: Redis;
  let queue: Queue<DrainJobData>;
  let state: SchedulerSyncState;

  beforeAll(async () => {
    redis = await startRedis();
    client = redis.client();
    queue = createDrainQueue(redis.client(), keys.bullmqPrefix);
    state = { redis: client, key: keys.schedulers() };
  });
  afterAll(async () => {
    await queue.close();
    await redis.stop();
  });
  beforeEach(async () => {
    await client.flushall();
  });

  const sync = (config: SourceConfig[]): Promise<'unchanged' | 'synced'> => syncSchedulers(queue, config, silentLogger(), state);

  /** Each scheduler in Redis as `id → every | pattern`. */
  async function schedulers(): Promise<Record<string, string>> {
    const found: Record<string, string> = {};
    for (const s of await queue.getJobSchedulers(0, -1)) found[s.key] = String(s.every ?? s.pattern);
    return found;
  }

  /** Keys Redis changed and the commands it ran while `fn` ran (from INFO, after a stats reset). */
  async function watched(fn: () => Promise<unknown>): Promise<{ writes: number; commands: string[] }> {
    const dirty = async (): Promise<number> => Number(/rdb_changes_since_last_save:(\d+)/.exec(await client.info('persistence'))![1]);
    const before = await dirty();
    await client.config('RESETSTAT');
    await fn();
    const stats = await client.info('commandstats');
    const writes = (await dirty()) - before;
    const commands = [...stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)]
      .map(([, name]) => name!)
      .filter((name) => name !== 'config|resetstat' && name !== 'info');
    return { writes, commands: commands.sort() };
  }

  it('creates every scheduler once, then a second sync only reads (GET, ZCARD, ZRANGE, HMGET) and changes no key', async () => {
    const config = sources({ a: '1h', b: '2h', c: { cron: '0 3 * * *' } });
    expect(await sync(config)).toBe('synced');
    expect(await schedulers()).toEqual({ 'source:a': '3600000', 'source:b': '7200000', 'source:c': '0 3 * * *' });
    expect(await client.get(keys.schedulers())).toMatch(/^[0-9a-f]{64} 3$/);

    const second = await watched(async () => {
      expect(await sync(config)).toBe('unchanged');
      expect(await sync(config)).toBe('unchanged');
    });
    expect(second).toEqual({ writes: 0, commands: ['get', 'hmget', 'zcard', 'zrange'] });
  });

  it('re-creates every scheduler after FLUSHALL, and restores one removed by hand', async () => {
    const config = sources({ a: '1h', b: '2h', c: '3h' });
    await sync(config);
    await redis.flushAll();
    expect(await schedulers()).toEqual({});
    expect(await sync(config)).toBe('synced');
    expect(await schedulers()).toEqual({ 'source:a': '3600000', 'source:b': '7200000', 'source:c': '10800000' });
    // Each one has its next drain job again, not only its entry.
    const counts = await queue.getJobCounts('delayed', 'waiting');
    expect((counts.delayed ?? 0) + (counts.waiting ?? 0)).toBe(3);

    await queue.removeJobScheduler('source:b');
    expect(Object.keys(await schedulers()).sort()).toEqual(['source:a', 'source:c']);
    expect(await sync(config)).toBe('synced');
    expect(await schedulers()).toEqual({ 'source:a': '3600000', 'source:b': '7200000', 'source:c': '10800000' });
    expect(await sync(config)).toBe('unchanged');
  });

  it('gives a scheduler that lost its next job (a failover losing the latest writes) a next job again', async () => {
    const config = sources({ a: '1h', b: '2h' });
    await sync(config);
    const pending = async (): Promise<string[]> => (await queue.getJobs(['delayed', 'waiting'])).map((j) => j.repeatJobKey ?? '').sort();
    expect(await pending()).toEqual(['source:a', 'source:b']);
    const next = (await queue.getJobs(['delayed', 'waiting'])).find((j) => j.repeatJobKey === 'source:a')!;
    // What a failover that lost the latest writes leaves: the scheduler, without the job it fires
    // next (BullMQ refuses to remove it, so it goes the way a lost write does: from Redis itself).
    await client.multi().del(queue.toKey(next.id!)).lrem(queue.keys.wait!, 0, next.id!).zrem(queue.keys.delayed!, next.id!).exec();
    expect(await pending()).toEqual(['source:b']);
    expect(await sync(config)).toBe('synced');
    expect(await pending()).toEqual(['source:a', 'source:b']);
    expect(await sync(config)).toBe('unchanged');
  });

  it('gives a scheduler whose next job a worker took and died with (before adding the one after) a next job at once', async () => {
    const config = sources({ a: '1h', b: '2h' });
    await sync(config);
    const pending = async (): Promise<string[]> => (await queue.getJobs(['delayed', 'waiting'])).map((j) => j.repeatJobKey ?? '').sort();
    const next = (await queue.getJobs(['delayed', 'waiting'])).find((j) => j.repeatJobKey === 'source:a')!;
    // What moveToActive leaves when the worker is SIGKILLed before its second step: the job active
    // (processedOn set, its lock to expire), no job after it, the scheduler's score unchanged.
    await client
      .multi()
      .lrem(queue.keys.wait!, 0, next.id!)
      .zrem(queue.keys.delayed!, next.id!)
      .lpush(queue.keys.active!, next.id!)
      .hset(queue.toKey(next.id!), 'processedOn', String(Date.now()))
      .exec();
    expect(await pending()).toEqual(['source:b']);
    expect(await sync(config)).toBe('synced');
    expect(await pending()).toEqual(['source:a', 'source:b']);
    expect(await sync(config)).toBe('unchanged');
  });

  it('follows a changed config: a schedule changed with the count unchanged, sources added, removed or disabled', async () => {
    await sync(sources({ a: '1h', b: '2h', c: '3h' }));
    // Same three sources, one schedule changed: the count alone would not tell.
    expect(await sync(sources({ a: '1h', b: '5m', c: '3h' }))).toBe('synced');
    expect(await schedulers()).toEqual({ 'source:a': '3600000', 'source:b': '300000', 'source:c': '10800000' });
    const next = (await queue.getJobScheduler('source:b'))!.next!;
    expect(next - Date.now()).toBeLessThanOrEqual(300_000);

    expect(await sync(sources({ a: '1h', '-b': '5m', d: { cron: '*/10 * * * *' } }))).toBe('synced');
    expect(await schedulers()).toEqual({ 'source:a': '3600000', 'source:d': '*/10 * * * *' });
    expect(await sync(sources({ a: '1h', '-b': '5m', d: { cron: '*/10 * * * *' } }))).toBe('unchanged');
  });

  it('a scheduler that is no source’s does not force a full sync every time', async () => {
    const config = sources({ a: '1h' });
    await queue.upsertJobScheduler('maintenance', { every: 86_400_000 }, { name: 'other', data: { sourceId: 'none' } });
    expect(await sync(config)).toBe('synced');
    expect(Object.keys(await schedulers()).sort()).toEqual(['maintenance', 'source:a']);
    expect((await watched(() => sync(config))).writes).toBe(0);
    expect(await sync(config)).toBe('unchanged');
  });

  it('takes a record it cannot read (an older worker’s, one set by hand) as none', async () => {
    const config = sources({ a: '1h' });
    await sync(config);
    await client.set(keys.schedulers(), 'garbage');
    expect(await sync(config)).toBe('synced');
    expect(await sync(config)).toBe('unchanged');
  });
});
