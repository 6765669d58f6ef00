export type { RateLimiter } from './rate-limiter.js';
export { LocalRateLimiter } from './local.js';
export { RedisRateLimiter, type RedisRateLimiterOptions } from './redis.js';
