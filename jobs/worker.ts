import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'bullmq';
import type { ArchiverConfig } from '../src/config/index.js';
import type { Logger } from '../src/observability/index.js';
import { createRedisClient, type RedisClient } from '../src/redis/index.js';
import { ArchiverMetrics } from './metrics.js';
import { openRuntime } from '../src/runtime.js';
import { shutdownSignals } from '../src/shutdown.js';
import { createDrainProcessor, type DrainJobResult } from './drain-processor.js';
import { createDrainQueue, DRAIN_JOB_OPTIONS, DRAIN_QUEUE, type DrainJobData } from './queue.js';
import { DASHBOARD_PATH, serveWorkerHttp } from './http-server.js';
import { Readiness } from './readiness.js';
import { syncSchedulers } from './schedulers.js';
import { registerSourceMetrics } from './source-metrics.js';

/**
 * How often the schedulers are checked against the config (one GET + ZCARD; re-asserted only when
 * they differ); covers Redis losing its data under a running worker.
 */
const RESYNC_MS = 30_000;

/**
 * Runs the worker until SIGTERM/SIGINT: schedulers per source, drain jobs with the configured
 * concurrency, then an orderly shutdown (stop fetching, commit the batch in hand, close).
 */
export async function runWorker(config: ArchiverConfig, logger: Logger): Promise<void> {
  // Installed before anything starts: a SIGTERM while the worker starts (a rollout that changes its
  // mind) is an orderly stop like any other, not a kill by Node's default handler.
  const signals = shutdownSignals(logger, config.worker.shutdownTimeoutMs);
  try {
    await runUntilStopped(config, logger, signals.stop, signals.abort);
  } finally {
    signals.detach();
  }
}

async function runUntilStopped(config: ArchiverConfig, logger: Logger, stopSignal: AbortSignal, abortSignal: AbortSignal): Promise<void> {
  const runtime = await openRuntime(config, { logger, needRedis: true });
  const prefix = runtime.keys!.bullmqPrefix;
  await warnOnEvictionPolicy(runtime.redis!, logger);
  // BullMQ blocks on its own connections and requires maxRetriesPerRequest: null on them.
  const queueConnection = createRedisClient(config.redis!, { role: 'bullmq', logger, lazyConnect: false });
  const workerConnection = createRedisClient(config.redis!, { role: 'bullmq', logger, lazyConnect: false });
  const queue = createDrainQueue(queueConnection, prefix);
  const sources = new Map(config.sources.map((s) => [s.id, s]));
  const metrics = new ArchiverMetrics();
  metrics.declareSources(config.sources.map((s) => s.id));
  registerSourceMetrics(metrics.registry, config.sources, runtime.deps.checkpoints);
  const readiness = new Readiness(runtime.redis!, runtime.store, RESYNC_MS);
  let stopping = false;
  const worker = new Worker<DrainJobData, DrainJobResult>(
    DRAIN_QUEUE,
    createDrainProcessor(runtime.deps, sources, { stop: stopSignal, abort: abortSignal }, metrics, {
      maxDrainMs: config.worker.maxDrainMs,
      requeue: async (sourceId) => {
        // One continuation at a time per source: a second yield while one waits adds nothing.
        await queue.add('drain', { sourceId }, { ...DRAIN_JOB_OPTIONS, deduplication: { id: `continue:${sourceId}` } });
      },
    }),
    { connection: workerConnection, prefix, concurrency: config.worker.concurrency, autorun: false },
  );
  worker.on('completed', (job, result) => {
    if (result.status === 'ok' && result.records > 0) logger.info({ job: job.id, ...result }, 'drain finished');
  });
  worker.on('failed', (job, error) =>
    logger.warn({ job: job?.id, source: job?.data.sourceId, err: { message: error.message } }, 'drain job failed'),
  );
  worker.on('error', (error) => logger.warn({ err: { message: error.message } }, 'worker error'));

  const schedulerState = { redis: runtime.redis!, key: runtime.keys!.schedulers() };
  const resync = async (): Promise<void> => {
    try {
      await syncSchedulers(queue, config.sources, logger, schedulerState);
      readiness.synced();
    } catch (error) {
      readiness.synced(error as Error);
      logger.warn({ err: { message: (error as Error).message } }, 'could not sync job schedulers; retrying later');
    }
  };
  await syncSchedulers(queue, config.sources, logger, schedulerState);
  readiness.synced();
  const endpoint =
    config.worker.metricsPort === undefined
      ? undefined
      : await serveWorkerHttp({
          port: config.worker.metricsPort,
          host: config.worker.metricsHost,
          registry: metrics.registry,
          healthy: () => stopping || worker.isRunning(),
          readiness: () => readiness.check(),
          dashboard: config.worker.dashboard,
          queue,
          logger,
        });
  if (endpoint) {
    const paths = ['/metrics', '/healthz', '/readyz', ...(config.worker.dashboard.enabled ? [DASHBOARD_PATH] : [])];
    logger.info({ port: endpoint.port, paths, dashboardReadOnly: config.worker.dashboard.readOnly }, 'serving HTTP');
  }
  const timer = setInterval(() => void resync(), RESYNC_MS);
  // A reconnect may be to a Redis that lost writes (a failover, a restart from a snapshot): check
  // the schedulers then, not up to RESYNC_MS later.
  const onReconnected = (): void => void resync();
  runtime.redis!.on('ready', onReconnected);

  if (!stopSignal.aborted) {
    void worker.run();
    logger.info(
      { sources: config.sources.length, concurrency: config.worker.concurrency, storage: runtime.store.describe() },
      'worker started',
    );
  }
  await aborted(stopSignal);
  stopping = true;
  readiness.stopping();
  clearInterval(timer);
  runtime.redis!.off('ready', onReconnected);
  const closing = worker.close();
  // Past the deadline, abandon: drains stop at their next await and commit nothing more.
  // worker.close(true) would only return the close already in progress, so stop waiting for it
  // after a moment; whatever is left uncommitted is cleaned up by the next drain's recovery.
  await Promise.race([
    closing,
    aborted(abortSignal).then(async () => {
      void worker.close(true);
      await sleep(2_000);
    }),
  ]);
  await endpoint?.close();
  await queue.close();
  await runtime.close();
  queueConnection.disconnect();
  workerConnection.disconnect();
  logger.info('worker stopped');
}

async function warnOnEvictionPolicy(redis: RedisClient, logger: Logger): Promise<void> {
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy && policy !== 'noeviction') {
      logger.warn(
        { policy },
        'redis maxmemory-policy is not noeviction: Redis may evict queue and lease keys under memory pressure; set maxmemory-policy noeviction',
      );
    }
  } catch {
    // CONFIG may be disabled on managed Redis; nothing to check then.
  }
}

/** Resolves once `signal` is aborted (at once if it already is). */
function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
