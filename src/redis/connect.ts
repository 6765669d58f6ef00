import type { ConnectionOptions } from 'node:tls';
import type * as IoRedis from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { RedisConfig, RedisTlsOptions } from './config.js';
import type { Logger } from '../observability/index.js';
import type { RedisClient } from './client.js';
import { lazyModule } from '../lazy-module.js';

/**
 * What a connection is for. `commands`: leases, checkpoints, status, rate limits — a command
 * fails after a few reconnection attempts, so a drain notices an outage. `bullmq`: BullMQ's queue
 * and worker connections, which block and must wait out outages (`maxRetriesPerRequest: null`,
 * which BullMQ requires of its workers).
 */
export type RedisRole = 'commands' | 'bullmq';

export interface RedisClientOptions {
  role: RedisRole;
  logger: Logger;
  /** Connect on the first command instead of at once. @defaultValue true */
  lazyConnect?: boolean;
  /** One attempt, no reconnection: for a check that must answer now (`validate --connect`). @defaultValue false */
  failFast?: boolean;
}

/** ioredis, loaded with the first client: a run without Redis (file checkpoints) never pays its memory. */
const loadIoRedis = lazyModule<typeof IoRedis>('ioredis');

interface Address {
  host: string;
  port: number;
}

/**
 * Opens a client for the configured topology: one URL (`redis://`, `rediss://`), a Sentinel
 * master set, or a Cluster. Every part of the archiver gets its connections here, so TLS, ACL
 * users and failover handling are the same everywhere. Connection errors are logged (without
 * credentials: ioredis' messages name hosts only).
 */
export function createRedisClient(config: RedisConfig, options: RedisClientOptions): RedisClient {
  const { Cluster, Redis } = loadIoRedis();
  const common = commonOptions(config, options);
  let client: RedisClient;
  if (config.cluster) {
    const clusterOptions: ClusterOptions = {
      redisOptions: { ...common, ...overrides(config) },
      lazyConnect: common.lazyConnect,
      enableOfflineQueue: true,
      // Every key of a deployment is in one slot; reads go to its master, never to a lagging replica.
      scaleReads: 'master',
      ...(options.failFast ? { clusterRetryStrategy: () => null } : {}),
      ...(config.cluster.natMap ? { natMap: natMap(config.cluster.natMap) } : {}),
      // With TLS, certificates name the hosts given, not the IPs the cluster announces.
      ...(common.tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
    };
    client = new Cluster(
      config.cluster.nodes.map((node) => parseAddress(node, 6379)),
      clusterOptions,
    );
  } else if (config.sentinel) {
    const { sentinel } = config;
    const sentinelTls = sentinel.tls === true ? (common.tls ?? {}) : sentinel.tls ? tlsOptions(sentinel.tls) : undefined;
    client = new Redis({
      ...common,
      ...overrides(config),
      name: sentinel.name,
      role: 'master',
      sentinels: sentinel.nodes.map((node) => parseAddress(node, 26379)),
      ...(sentinel.username ? { sentinelUsername: sentinel.username } : {}),
      ...(sentinel.password ? { sentinelPassword: sentinel.password } : {}),
      ...(sentinelTls ? { sentinelTLS: sentinelTls } : {}),
      ...(sentinel.natMap ? { natMap: natMap(sentinel.natMap) } : {}),
      enableTLSForSentinelMode: common.tls !== undefined,
      // Sentinels announce a failover (+switch-master); without this a client notices only when
      // the old master stops answering or turns read-only.
      failoverDetector: true,
    });
  } else {
    client = new Redis({ ...common, ...urlOptions(config.url!), ...overrides(config) });
  }
  client.on('error', (error: Error) =>
    options.logger.warn({ err: { message: error.message }, redis: describeRedis(config) }, 'redis connection error'),
  );
  return client;
}

/** The topology and hosts of a config, fit for logs: never a user name or password. */
export function describeRedis(config: RedisConfig): string {
  if (config.cluster) return `cluster ${config.cluster.nodes.join(',')}`;
  if (config.sentinel) return `sentinel ${config.sentinel.name}@${config.sentinel.nodes.join(',')}`;
  const url = new URL(config.url!);
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

/** How many replicas a lease write waits for (Redis WAIT) and for how long, as configured or by topology. */
export function leaseReplicas(config: RedisConfig): { replicas: number; timeoutMs: number } {
  return { replicas: config.leaseReplicas ?? (config.sentinel ? 1 : 0), timeoutMs: config.leaseReplicaTimeout ?? 1_000 };
}

function commonOptions(config: RedisConfig, options: RedisClientOptions): RedisOptions {
  const tls = config.tls ? tlsOptions(config.tls) : config.url?.startsWith('rediss://') ? {} : undefined;
  return {
    ...(tls ? { tls } : {}),
    connectTimeout: config.connectTimeout ?? 10_000,
    lazyConnect: options.lazyConnect ?? true,
    maxRetriesPerRequest: options.role === 'bullmq' ? null : options.failFast ? 1 : 3,
    ...(options.failFast ? { retryStrategy: () => null } : {}),
    enableOfflineQueue: true,
    // A master demoted by a failover answers writes with READONLY: reconnect (Sentinel then
    // names the new master) and send the command again; nothing was written.
    reconnectOnError: (error: Error) => (error.message.startsWith('READONLY') ? 2 : false),
  };
}

/** The fields of the section that override what a URL says. */
function overrides(config: RedisConfig): RedisOptions {
  return {
    ...(config.username ? { username: config.username } : {}),
    ...(config.password ? { password: config.password } : {}),
    ...(config.db !== undefined ? { db: config.db } : {}),
  };
}

function urlOptions(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.slice(1);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
  };
}

function tlsOptions(tls: RedisTlsOptions): ConnectionOptions {
  return {
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert ? { cert: tls.cert } : {}),
    ...(tls.key ? { key: tls.key } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
  };
}

function parseAddress(node: string, defaultPort: number): Address {
  const match = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(node);
  if (!match) throw new RangeError(`not a host:port: ${node}`);
  return { host: match[1] ?? match[2]!, port: match[3] ? Number(match[3]) : defaultPort };
}

function natMap(map: Record<string, string>): Record<string, Address> {
  return Object.fromEntries(Object.entries(map).map(([from, to]) => [from, parseAddress(to, 6379)]));
}
