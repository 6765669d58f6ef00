import { resolve } from 'node:path';
import { ManifestLedger, OwnerGuard } from './archive/index.js';
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
  owner: OwnerGuard;
  redis: RedisClient | undefined;
  /** The deployment's Redis keys (`redis.prefix`, hash-tagged); undefined without redis. */
  keys: RedisKeys | undefined;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger: Logger;
  /** Whether a Redis connection is required (worker) or only used when configured (run-once). */
  needRedis: boolean;
  /**
   * Whether this process writes the archive: then storage must show it can arbitrate create-only
   * writes (probed, fail closed) and this deployment must own the prefix. @defaultValue true
   */
  write?: boolean;
}

/**
 * The name this deployment's coordination state goes by in the archive's owner record: the
 * lease coordinator (Redis server and prefix, or the state directory), unless configured.
 */
export function ownerIdentity(config: ArchiverConfig): string {
  if (config.checkpoints.deployment) return config.checkpoints.deployment;
  if (config.redis) return `${describeRedis(config.redis)}#${config.redis.prefix}`;
  return `file://${resolve(config.checkpoints.path)}`;
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
  const store = createObjectStore(config.storage, { proxy: config.http.proxy });
  const checkpoints: CheckpointStore =
    config.checkpoints.kind === 'redis' && redis
      ? new RedisCheckpointStore(redis, keys!)
      : new FileCheckpointStore(config.checkpoints.path);
  const leases: LeaseManager = redis
    ? new RedisLeaseManager(redis, { keys: keys!, ttlMs: config.worker.leaseTtlMs, logger, replicaWait: leaseReplicas(config.redis!) })
    : new FileLeaseManager(config.checkpoints.path, { ttlMs: config.worker.leaseTtlMs, logger });
  const rateLimiter: RateLimiter = redis ? new RedisRateLimiter(redis, keys!) : new LocalRateLimiter();
  const http = new HttpClient({ timeoutMs: config.http.timeoutMs, maxBodyBytes: config.http.maxBodyBytes, proxy: config.http.proxy });
  const writer = `log-archiver/${VERSION}`;
  const owner = new OwnerGuard(store, { deployment: ownerIdentity(config), writer, keys: config.manifests.keys });
  if (options.write !== false) {
    try {
      const arbitration = await store.prepare();
      if (arbitration === 'emulate') {
        logger.warn(
          { storage: store.describe() },
          'storage.conditionalWrites is "emulate": create-only writes are HEAD-then-PUT, so two deployments writing this prefix at once can lose records',
        );
      }
      await owner.assert();
    } catch (error) {
      await store.close();
      if (redis) redis.disconnect();
      throw error;
    }
  }
  const ledger = new ManifestLedger(store, {
    keys: config.manifests.keys,
    owner,
    digestIntervalMs: config.manifests.digestIntervalMs,
    logger,
    retry: { maxAttempts: 40, baseDelayMs: 500, maxDelayMs: 15_000, maxElapsedMs: 15 * 60_000 },
    writer,
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
    owner,
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
