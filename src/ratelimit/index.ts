export type { RateLimiter, RateLimiterOptions, RateLimitPermit } from './rate-limiter.js';
export { LocalRateLimiter } from './local.js';
export { RedisRateLimiter } from './redis.js';
