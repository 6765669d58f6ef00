export { loadConfig, parseConfig } from './load.js';
export type { ArchiverConfig, SourceConfig } from './config.js';
export type { Schedule } from './schema.js';
export type { RedisConfig, RedisTlsOptions } from '../redis/index.js';
export { parseDuration } from '../duration.js';
export { SOURCE_ID } from './schema.js';
export { redactUrl } from './redact-url.js';
