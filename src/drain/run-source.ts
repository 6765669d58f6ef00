import type { SourceConfig } from '../config/index.js';
import { ArchiverError, LeaseBusyError } from '../errors/index.js';
import { DrainFailedError, drainSource, type DrainDeps, type DrainResult, type DrainSignals } from './drain.js';

export type RunOutcome =
  | { status: 'ok'; result: DrainResult }
  | { status: 'busy'; source: string }
  | { status: 'failed'; source: string; error: ArchiverError | Error; result: DrainResult | undefined };

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
        lastDrain: { records: result.records, objects: result.objects, pages: result.pages, durationMs: result.durationMs },
      }),
    );
    return { status: 'ok', result };
  } catch (error) {
    if (error instanceof LeaseBusyError) return { status: 'busy', source: source.id };
    const inner = error instanceof DrainFailedError ? (error.cause as Error) : (error as Error);
    const code = inner instanceof ArchiverError ? inner.code : 'ERR_INTERNAL';
    await safe(() =>
      deps.checkpoints.saveStatus(source.id, {
        ...previous,
        lastRunAt: at,
        lastError: { at: new Date().toISOString(), code, message: inner.message },
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
      result: error instanceof DrainFailedError ? error.progress : undefined,
    };
  }
}

async function safe<T>(operation: () => Promise<T>): Promise<T | undefined> {
  try {
    return await operation();
  } catch {
    // Status is best effort: it must never turn a good drain into a failed one.
    return undefined;
  }
}
