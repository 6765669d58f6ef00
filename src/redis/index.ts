export { RedisKeys } from './keys.js';
export { isCluster, type RedisClient } from './client.js';
export { adoptLegacyKeys } from './legacy-keys.js';
export { createRedisClient, describeRedis, leaseReplicas, type RedisRole, type RedisClientOptions } from './connect.js';
export { evalReplicated, type ReplicaWait } from './replicated-eval.js';
export { redisConfigSchema, type RedisConfig, type RedisTlsOptions } from './config.js';
