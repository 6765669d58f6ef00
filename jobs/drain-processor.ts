import { UnrecoverableError, type Job } from 'bullmq';
import type { SourceConfig } from '../src/config/index.js';
import { runSource, type DrainDeps, type DrainSignals } from '../src/drain/index.js';
import { ArchiverError } from '../src/errors/index.js';
import type { ArchiverMetrics } from './metrics.js';
import type { DrainJobData } from './queue.js';

/** What a drain job returns (kept in BullMQ for inspection). */
export interface DrainJobResult {
  source: string;
  status: 'ok' | 'busy' | 'stopped';
  records: number;
  objects: number;
}

/**
 * The drain job's processor. The one place where archiver errors map to BullMQ's: errors a
 * retry cannot fix (credentials, bad parameters) become UnrecoverableError; the rest fail the
 * job, and the source's next scheduled run resumes from its checkpoint.
 */
export function createDrainProcessor(
  deps: DrainDeps,
  sources: ReadonlyMap<string, SourceConfig>,
  signals: DrainSignals,
  metrics?: ArchiverMetrics,
): (job: Job<DrainJobData>) => Promise<DrainJobResult> {
  return async (job) => {
    const source = sources.get(job.data.sourceId);
    if (!source) throw new UnrecoverableError(`source ${job.data.sourceId} is not in this worker's config`);
    const outcome = await runSource(deps, source, signals);
    metrics?.record(outcome);
    switch (outcome.status) {
      case 'ok':
        return { source: source.id, status: 'ok', records: outcome.result.records, objects: outcome.result.objects };
      case 'busy':
        return { source: source.id, status: 'busy', records: 0, objects: 0 };
      case 'stopped':
        // A shutdown is not a failure: the job completes, and the next run resumes from the checkpoint.
        return { source: source.id, status: 'stopped', records: outcome.result?.records ?? 0, objects: outcome.result?.objects ?? 0 };
      case 'failed': {
        const { error } = outcome;
        if (error instanceof ArchiverError && !error.retryable) throw new UnrecoverableError(`${source.id}: ${error.message}`);
        throw new Error(`${source.id}: ${error.message}`);
      }
    }
  };
}
