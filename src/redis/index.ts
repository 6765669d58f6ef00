export { RedisKeys } from './keys.js';
export { isCluster, type RedisClient } from './client.js';
export { adoptLegacyKeys } from './legacy-keys.js';
