import { completenessDifference, type CompletenessFigure } from '../completeness/index.js';
import type { SourceConfig } from '../config/index.js';
import { ArchiverError, LeaseBusyError, ShutdownError } from '../errors/index.js';
import { DrainFailedError, drainSource, type DrainDeps, type DrainResult, type DrainSignals } from './drain.js';

export type RunOutcome =
  | { status: 'ok'; result: DrainResult }
  | { status: 'busy'; source: string }
  | { status: 'failed'; source: string; error: ArchiverError | Error; result: DrainResult | undefined }
  /** Stopped by a shutdown signal: what was read is committed (`committed`), or was abandoned at the deadline. */
  | { status: 'stopped'; source: string; result: DrainResult | undefined; committed: boolean };

/** Drains one source and records the outcome for `status`; never throws for a source's own failure. */
export async function runSource(deps: DrainDeps, source: SourceConfig, signals: DrainSignals = {}): Promise<RunOutcome> {
  const at = new Date().toISOString();
  const previous = (await safe(() => deps.checkpoints.loadStatus(source.id))) ?? {};
  try {
    const result = await drainSource(deps, source, signals);
    await safe(() =>
      deps.checkpoints.saveStatus(source.id, {
        ...previous,
        lastRunAt: at,
        lastSuccessAt: new Date().toISOString(),
        lastDrain: drainSummary(result),
        completeness: mergeFigures(previous.completeness, result.completeness),
      }),
    );
    return { status: 'ok', result };
  } catch (error) {
    if (error instanceof LeaseBusyError) return { status: 'busy', source: source.id };
    const inner = error instanceof DrainFailedError ? (error.cause as Error) : (error as Error);
    const progress = error instanceof DrainFailedError ? error.progress : undefined;
    if (stoppedBySignal(inner, signals)) {
      // A stop is not a failure: no error is recorded, and a drain that committed all it read
      // before stopping counts as a success (the next run resumes from its checkpoint).
      const committed = !signals.abort?.aborted;
      if (committed) {
        await safe(() =>
          deps.checkpoints.saveStatus(source.id, {
            ...previous,
            lastRunAt: at,
            lastSuccessAt: new Date().toISOString(),
            ...(progress
              ? { lastDrain: drainSummary(progress), completeness: mergeFigures(previous.completeness, progress.completeness) }
              : {}),
          }),
        );
      }
      deps.logger.info({ source: source.id, committed, records: progress?.records ?? 0 }, 'drain stopped by shutdown');
      return { status: 'stopped', source: source.id, result: progress, committed };
    }
    const code = inner instanceof ArchiverError ? inner.code : 'ERR_INTERNAL';
    await safe(() =>
      deps.checkpoints.saveStatus(source.id, {
        ...previous,
        lastRunAt: at,
        lastError: { at: new Date().toISOString(), code, message: inner.message },
        ...(progress ? { completeness: mergeFigures(previous.completeness, progress.completeness) } : {}),
      }),
    );
    deps.logger.error(
      { source: source.id, code, err: { message: inner.message, hint: inner instanceof ArchiverError ? inner.hint : undefined } },
      'drain failed',
    );
    return {
      status: 'failed',
      source: source.id,
      error: inner,
      result: progress,
    };
  }
}

function drainSummary(result: DrainResult): {
  records: number;
  objects: number;
  pages: number;
  durationMs: number;
  guards?: Record<string, number>;
  stated?: number;
} {
  return {
    records: result.records,
    objects: result.objects,
    pages: result.pages,
    durationMs: result.durationMs,
    ...(Object.keys(result.guards).length > 0 ? { guards: { ...result.guards } } : {}),
    ...(result.completeness.length > 0 ? { stated: result.completeness.length } : {}),
  };
}

/** Figures the run status keeps per source: streams with a difference, and the others. */
const KEPT_GAPS = 200;
const KEPT_OTHERS = 300;

/** `figures` (this drain's, the latest per stream) laid over `previous`, bounded (see RunStatus.completeness). */
function mergeFigures(previous: readonly CompletenessFigure[] | undefined, figures: readonly CompletenessFigure[]): CompletenessFigure[] {
  const latest = new Map((previous ?? []).map((f) => [f.stream, f]));
  for (const figure of figures) {
    latest.delete(figure.stream);
    latest.set(figure.stream, figure);
  }
  const all = [...latest.values()];
  const gaps = all.filter((f) => completenessDifference(f) !== 0).slice(-KEPT_GAPS);
  const others = all.filter((f) => completenessDifference(f) === 0).slice(-KEPT_OTHERS);
  const kept = new Set([...gaps, ...others]);
  return all.filter((f) => kept.has(f));
}

/** A shutdown ended the drain: ShutdownError, or an abort raised by the stop/abort signals. */
function stoppedBySignal(error: Error, signals: DrainSignals): boolean {
  if (!signals.stop?.aborted && !signals.abort?.aborted) return false;
  return error instanceof ShutdownError || error.name === 'AbortError';
}

async function safe<T>(operation: () => Promise<T>): Promise<T | undefined> {
  try {
    return await operation();
  } catch {
    // Status is best effort: it must never turn a good drain into a failed one.
    return undefined;
  }
}
