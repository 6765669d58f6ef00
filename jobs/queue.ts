import { Queue } from 'bullmq';
import type { RedisClient } from '../src/redis/index.js';

/** Name of the one queue every drain job goes through; `redis.prefix` namespaces it. */
export const DRAIN_QUEUE = 'drain';

/** Options of every drain job, scheduled or queued again: no BullMQ retry (the next run resumes), bounded history. */
export const DRAIN_JOB_OPTIONS = { attempts: 1, removeOnComplete: { count: 200 }, removeOnFail: { count: 1000 } } as const;

/** Payload of a drain job: which source to drain. Everything else comes from the worker's config. */
export interface DrainJobData {
  sourceId: string;
}

/** Opens the drain queue on `connection` (BullMQ needs `maxRetriesPerRequest: null`); `prefix` is RedisKeys.bullmqPrefix. */
export function createDrainQueue(connection: RedisClient, prefix: string): Queue<DrainJobData> {
  return new Queue<DrainJobData>(DRAIN_QUEUE, { connection, prefix });
}
