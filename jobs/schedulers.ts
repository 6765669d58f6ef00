import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { RedisClient } from '../src/redis/index.js';
import type { SourceConfig } from '../src/config/index.js';
import type { Logger } from '../src/observability/index.js';
import { createDrainQueue, DRAIN_JOB_OPTIONS, type DrainJobData } from './queue.js';

const SCHEDULER_PREFIX = 'source:';
/** Bumped whenever what a scheduler holds changes shape, so older workers' digests never match. */
const DIGEST_VERSION = 1;

/** Scheduler id of a source. */
export function schedulerId(sourceId: string): string {
  return `${SCHEDULER_PREFIX}${sourceId}`;
}

interface WantedScheduler {
  id: string;
  repeat: { every: number } | { pattern: string; tz?: string };
  sourceId: string;
}

function wantedSchedulers(sources: readonly SourceConfig[]): WantedScheduler[] {
  return sources
    .filter((s) => s.enabled)
    .map((source) => ({
      id: schedulerId(source.id),
      repeat:
        'every' in source.schedule
          ? { every: source.schedule.every }
          : { pattern: source.schedule.cron, ...(source.schedule.tz ? { tz: source.schedule.tz } : {}) },
      sourceId: source.id,
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** One digest of every scheduler the config asks for (ids, schedules, job options): what is stored beside them in Redis. */
export function schedulerDigest(sources: readonly SourceConfig[]): string {
  const wanted = wantedSchedulers(sources).map((w) => [w.id, w.repeat, w.sourceId]);
  return createHash('sha256')
    .update(JSON.stringify([DIGEST_VERSION, DRAIN_JOB_OPTIONS, wanted]))
    .digest('hex');
}

/** Where the digest of the schedulers last brought in line is kept (a key of the one key module). */
export interface SchedulerSyncState {
  redis: RedisClient;
  /** `RedisKeys.schedulers()`. */
  key: string;
}

/** How many upserts are in flight at once during a full sync: pipelined on the one connection, not one round trip each. */
const UPSERT_WINDOW = 64;

/**
 * Makes the queue's job schedulers match the config: one per enabled source, none for sources
 * that are gone. When Redis already holds this config's digest, as many schedulers as there
 * were after that sync and each one's next job waiting, nothing is written: three round trips
 * (GET + ZCARD, ZRANGE, pipelined HMGET) instead of an upsert per source and a full listing, so a worker
 * with 10,000 sources costs Redis next to nothing while nothing changes. A scheduler without a
 * next job waiting (lost in a failover, taken by a worker that died) gets the full sync too. A Redis that lost its data (no digest), a scheduler removed by hand (a count that
 * differs) or another config (another digest: a source added or removed, a schedule changed) gets
 * the full upsert and clean-up, then the new digest.
 */
export async function syncSchedulers(
  queue: Queue<DrainJobData>,
  sources: readonly SourceConfig[],
  logger: Logger,
  state: SchedulerSyncState,
): Promise<'unchanged' | 'synced'> {
  const wanted = wantedSchedulers(sources);
  const digest = schedulerDigest(sources);
  const repeatKey = queue.keys.repeat!;
  const [stored, count] = await readSyncState(state, repeatKey);
  const recorded = parseRecord(stored);
  let orphaned = 0;
  if (recorded?.digest === digest && recorded.count === count) {
    orphaned = await schedulersWithoutNextJob(queue, state.redis, repeatKey);
    if (orphaned === 0) return 'unchanged';
  }

  const ids = new Set(wanted.map((w) => w.id));
  for (let i = 0; i < wanted.length; i += UPSERT_WINDOW) {
    await Promise.all(
      wanted
        .slice(i, i + UPSERT_WINDOW)
        .map((w) => queue.upsertJobScheduler(w.id, w.repeat, { name: 'drain', data: { sourceId: w.sourceId }, opts: DRAIN_JOB_OPTIONS })),
    );
  }
  let removed = 0;
  for (const scheduler of await queue.getJobSchedulers(0, -1)) {
    const id = scheduler.key ?? scheduler.id;
    if (id?.startsWith(SCHEDULER_PREFIX) && !ids.has(id)) {
      await queue.removeJobScheduler(id);
      removed += 1;
      logger.info({ scheduler: id }, 'removed job scheduler of a source no longer configured');
    }
  }
  // The count as it is now, not wanted.length: a scheduler that is not a source's (added by hand) must not force a full sync every time.
  const after = await state.redis.zcard(repeatKey);
  await state.redis.set(state.key, `${digest} ${after}`);
  logger.info(
    {
      schedulers: wanted.length,
      removed,
      reason:
        recorded === undefined
          ? 'none recorded'
          : recorded.digest !== digest
            ? 'config changed'
            : orphaned > 0
              ? `${orphaned} without a next job to fire`
              : 'count differs',
    },
    'job schedulers brought in line with the config',
  );
  return 'synced';
}

/**
 * Schedulers that would not fire again by themselves. A scheduler lives on through its next job,
 * the one its score names: a worker takes that job, then (a second round trip) adds the one after
 * and moves the score on. So a next job that is gone (a failover that lost the latest writes),
 * finished, or taken without a successor (a worker killed between the two steps) leaves the source
 * undrained until BullMQ's stalled-job check, a minute or more later, or for good. One ZRANGE and
 * one pipelined HMGET per scheduler; a job just taken by a live worker may count too, which costs
 * one full sync and nothing else.
 */
async function schedulersWithoutNextJob(queue: Queue<DrainJobData>, redis: RedisClient, repeatKey: string): Promise<number> {
  const entries = await redis.zrange(repeatKey, 0, -1, 'WITHSCORES');
  if (entries.length === 0) return 0;
  const pipeline = redis.pipeline();
  for (let i = 0; i < entries.length; i += 2) {
    pipeline.hmget(queue.toKey(`repeat:${entries[i]}:${entries[i + 1]}`), 'timestamp', 'processedOn', 'finishedOn');
  }
  const replies = (await pipeline.exec()) ?? [];
  let stuck = 0;
  for (const [error, fields] of replies) {
    if (error) throw error;
    const [timestamp, processedOn, finishedOn] = fields as (string | null)[];
    if (timestamp === null || processedOn !== null || finishedOn !== null) stuck += 1;
  }
  return stuck;
}

/** `<digest> <count>` as stored; anything else (an older worker's record, a value set by hand) counts as none. */
function parseRecord(stored: string | null): { digest: string; count: number } | undefined {
  const match = stored === null ? null : /^([0-9a-f]{64}) (\d+)$/.exec(stored);
  return match ? { digest: match[1]!, count: Number(match[2]) } : undefined;
}

/** The stored record and the number of schedulers in one round trip (both keys share the deployment's hash slot, so this holds on Cluster too). */
async function readSyncState(state: SchedulerSyncState, repeatKey: string): Promise<[string | null, number]> {
  const replies = await state.redis.pipeline().get(state.key).zcard(repeatKey).exec();
  if (!replies) throw new Error('Redis pipeline answered nothing');
  for (const [error] of replies) if (error) throw error;
  return [replies[0]![1] as string | null, replies[1]![1] as number];
}

/** When each source's job scheduler fires next (ms), as the workers' Redis holds it; `prefix` is RedisKeys.bullmqPrefix. */
export async function schedulerNextRuns(connection: RedisClient, prefix: string): Promise<Map<string, number>> {
  const queue = createDrainQueue(connection, prefix);
  try {
    const next = new Map<string, number>();
    for (const scheduler of await queue.getJobSchedulers(0, -1)) {
      const id = scheduler.key ?? scheduler.id;
      if (id?.startsWith(SCHEDULER_PREFIX) && scheduler.next !== undefined) next.set(id.slice(SCHEDULER_PREFIX.length), scheduler.next);
    }
    return next;
  } finally {
    await queue.close();
  }
}
