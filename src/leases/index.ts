export type { Lease, LeaseManager } from './lease.js';
export { formatToken } from './lease.js';
export { RedisLeaseManager } from './redis.js';
export { FileLeaseManager } from './file.js';
