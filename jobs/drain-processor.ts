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
  /** False when the drain yielded at `worker.maxDrainTime` and the source was queued again. */
  caughtUp?: boolean;
}

/** How the processor keeps drains fair: their time limit, and how the rest of a source is queued. */
export interface FairDrains {
  maxDrainMs: number;
  /** Queues another drain of the source behind the waiting ones. */
  requeue(sourceId: string): Promise<void>;
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
  fair?: FairDrains,
): (job: Job<DrainJobData>) => Promise<DrainJobResult> {
  return async (job) => {
    const source = sources.get(job.data.sourceId);
    if (!source) throw new UnrecoverableError(`source ${job.data.sourceId} is not in this worker's config`);
    const outcome = await runSource(deps, source, fair ? { ...signals, maxDrainMs: fair.maxDrainMs } : signals);
    metrics?.record(outcome);
    switch (outcome.status) {
      case 'ok': {
        const { records, objects, caughtUp } = outcome.result;
        // The rest of a backlog goes behind the sources already waiting, not ahead of them.
        if (!caughtUp && fair) await fair.requeue(source.id);
        return { source: source.id, status: 'ok', records, objects, caughtUp };
      }
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
