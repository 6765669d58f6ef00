import type { Cluster, Redis } from 'ioredis';

/** A connection to one deployment's Redis, whatever its topology (standalone, Sentinel, Cluster). */
export type RedisClient = Redis | Cluster;

/** True for a Redis Cluster client, whose multi-key commands must stay in one slot. */
export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}
