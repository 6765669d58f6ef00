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

/**
 * Makes the queue's job schedulers match the config: one per enabled source, none for sources
 * that are gone. When Redis already holds this config's digest and as many schedulers as it asks
 * for, nothing is written: one round trip (GET + ZCARD) instead of an upsert per source and a
 * full listing, so a worker with 10,000 sources costs Redis nothing while nothing changes. A Redis
 * that lost its data (no digest), a scheduler removed by hand (a count that differs) or another
 * config (another digest) gets the full upsert and clean-up, then the new digest.
 */
export async function syncSchedulers(
  queue: Queue<DrainJobData>,
  sources: readonly SourceConfig[],
  logger: Logger,
  state: SchedulerSyncState,
): Promise<'unchanged' | 'synced'> {
  const wanted = wantedSchedulers(sources);
  const digest = schedulerDigest(sources);
  const [stored, count] = await readSyncState(state, queue.keys.repeat!);
  if (stored === digest && count === wanted.length) return 'unchanged';

  const ids = new Set<string>();
  for (const w of wanted) {
    ids.add(w.id);
    await queue.upsertJobScheduler(w.id, w.repeat, { name: 'drain', data: { sourceId: w.sourceId }, opts: DRAIN_JOB_OPTIONS });
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
  await state.redis.set(state.key, digest);
  logger.info(
    {
      schedulers: wanted.length,
      removed,
      reason: stored === null ? 'none recorded' : stored !== digest ? 'config changed' : 'count differs',
    },
    'job schedulers brought in line with the config',
  );
  return 'synced';
}

/** The stored digest and the number of schedulers in one round trip (both keys share the deployment's slot). */
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
