import { ManifestLedger } from './archive/index.js';
import { FileCheckpointStore, RedisCheckpointStore, type CheckpointStore } from './checkpoints/index.js';
import { CredentialRegistry } from './credentials/index.js';
import type { ArchiverConfig } from './config/index.js';
import { BatchSpool, resolveSpoolDir, type DrainDeps } from './drain/index.js';
import { DependencyUnavailableError } from './errors/index.js';
import { HttpClient, defaultRetryPolicy } from './http/index.js';
import { FileLeaseManager, RedisLeaseManager, type LeaseManager } from './leases/index.js';
import type { Logger } from './observability/index.js';
import { LocalRateLimiter, RedisRateLimiter, type RateLimiter } from './ratelimit/index.js';
import { RedisKeys, adoptLegacyKeys, createRedisClient, describeRedis, leaseReplicas, type RedisClient } from './redis/index.js';
import { createObjectStore, type ObjectStore } from './storage/index.js';
import { VERSION } from './version.js';

/** Everything opened for one process, with one `close()` that releases it all in order. */
export interface Runtime {
  config: ArchiverConfig;
  deps: DrainDeps;
  store: ObjectStore;
  redis: RedisClient | undefined;
  /** The deployment's Redis keys (`redis.prefix`, hash-tagged); undefined without redis. */
  keys: RedisKeys | undefined;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger: Logger;
  /** Whether a Redis connection is required (worker) or only used when configured (run-once). */
  needRedis: boolean;
}

/** Opens storage, checkpoints, leases, HTTP and rate limiting as the config says. */
export async function openRuntime(config: ArchiverConfig, options: RuntimeOptions): Promise<Runtime> {
  const { logger } = options;
  // Before anything is opened: a spool directory that cannot be used is a setup error (exit 2).
  const spoolDir = await resolveSpoolDir();
  const useRedis = options.needRedis || config.checkpoints.kind === 'redis';
  let redis: RedisClient | undefined;
  const keys = config.redis ? new RedisKeys(config.redis.prefix) : undefined;
  if (useRedis) {
    if (!config.redis) throw new Error('redis is not configured');
    redis = createRedisClient(config.redis, { role: 'commands', logger });
    let firstError: Error | undefined;
    redis.on('error', (error: Error) => {
      firstError ??= error;
    });
    try {
      await redis.connect();
    } catch (cause) {
      redis.disconnect();
      // ioredis rejects with "Connection is closed."; the first socket error says why.
      throw new DependencyUnavailableError('redis', describeRedis(config.redis), firstError ?? cause);
    }
    await adoptLegacyKeys(
      redis,
      keys!,
      config.sources.map((s) => s.id),
      logger,
    );
  }
  const store = createObjectStore(config.storage);
  const checkpoints: CheckpointStore =
    config.checkpoints.kind === 'redis' && redis
      ? new RedisCheckpointStore(redis, keys!)
      : new FileCheckpointStore(config.checkpoints.path);
  const leases: LeaseManager = redis
    ? new RedisLeaseManager(redis, { keys: keys!, ttlMs: config.worker.leaseTtlMs, logger, replicaWait: leaseReplicas(config.redis!) })
    : new FileLeaseManager(config.checkpoints.path, { ttlMs: config.worker.leaseTtlMs, logger });
  const rateLimiter: RateLimiter = redis ? new RedisRateLimiter(redis, keys!) : new LocalRateLimiter();
  const http = new HttpClient({ timeoutMs: config.http.timeoutMs, maxBodyBytes: config.http.maxBodyBytes });
  const ledger = new ManifestLedger(store, {
    hmacKey: config.manifests.hmacKey,
    logger,
    retry: { maxAttempts: 40, baseDelayMs: 500, maxDelayMs: 15_000, maxElapsedMs: 15 * 60_000 },
    writer: `log-archiver/${VERSION}`,
  });
  const swept = await BatchSpool.sweep(spoolDir);
  if (swept > 0) logger.info({ spoolDir, files: swept }, 'removed spool files of processes that died mid-batch');
  const providerRetry = { ...defaultRetryPolicy, maxAttempts: config.http.maxAttempts };
  const deps: DrainDeps = {
    ledger,
    checkpoints,
    leases,
    http,
    rateLimiter,
    logger,
    batch: config.batch,
    spoolDir,
    providerRetry,
    credentials: new CredentialRegistry().services({ http, retry: providerRetry, logger }),
  };
  return {
    config,
    deps,
    store,
    redis,
    keys,
    async close() {
      await rateLimiter.close();
      await leases.close();
      await checkpoints.close();
      await http.close();
      await store.close();
      if (redis) await redis.quit().catch(() => redis?.disconnect());
    },
  };
}
