export { drainSource, DrainFailedError, type DrainDeps, type DrainResult, type DrainSignals, type DrainProgress } from './drain.js';
export { runSource, type RunOutcome } from './run-source.js';
export { RenderBuffers, renderEnvelopes } from './envelope.js';
export { BatchSpool } from './spool.js';
export { resolveSpoolDir } from './spool-dir.js';
