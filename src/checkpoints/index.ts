export type { CheckpointStore, SourceState, HeadRef, RunStatus } from './checkpoint-store.js';
export { RedisCheckpointStore } from './redis.js';
export { FileCheckpointStore } from './file.js';
