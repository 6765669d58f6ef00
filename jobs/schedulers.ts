import type { Queue } from 'bullmq';
import type { RedisClient } from '../src/redis/index.js';
import type { SourceConfig } from '../src/config/index.js';
import type { Logger } from '../src/observability/index.js';
import { createDrainQueue, DRAIN_JOB_OPTIONS, type DrainJobData } from './queue.js';

const SCHEDULER_PREFIX = 'source:';

/** Scheduler id of a source. */
export function schedulerId(sourceId: string): string {
  return `${SCHEDULER_PREFIX}${sourceId}`;
}

/**
 * Makes the queue's job schedulers match the config: one per enabled source (upsert is
 * idempotent, so this also re-creates schedulers lost with Redis data), none for sources that
 * are gone.
 */
export async function syncSchedulers(queue: Queue<DrainJobData>, sources: readonly SourceConfig[], logger: Logger): Promise<void> {
  const wanted = new Set<string>();
  for (const source of sources) {
    if (!source.enabled) continue;
    const id = schedulerId(source.id);
    wanted.add(id);
    const repeat =
      'every' in source.schedule
        ? { every: source.schedule.every }
        : { pattern: source.schedule.cron, ...(source.schedule.tz ? { tz: source.schedule.tz } : {}) };
    await queue.upsertJobScheduler(id, repeat, {
      name: 'drain',
      data: { sourceId: source.id },
      opts: DRAIN_JOB_OPTIONS,
    });
  }
  const existing = await queue.getJobSchedulers(0, -1);
  for (const scheduler of existing) {
    const id = scheduler.key ?? scheduler.id;
    if (id?.startsWith(SCHEDULER_PREFIX) && !wanted.has(id)) {
      await queue.removeJobScheduler(id);
      logger.info({ scheduler: id }, 'removed job scheduler of a source no longer configured');
    }
  }
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
