import { loadConfig, parseDuration } from '../config/index.js';
import { runSource, type RunOutcome } from '../drain/index.js';
import { ConfigError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { shutdownSignals } from '../shutdown.js';
import { exitCodeForOutcomes } from './exit-codes.js';
import type { Output } from './output.js';
import { ProgressBoard } from './progress.js';
import { selectSources } from './select-sources.js';

export interface RunOnceOptions {
  config: string;
  source?: string[];
  /** No progress, and a line only for sources that did not succeed. */
  quiet?: boolean;
  /** Interval of the plain progress lines when stdout is not a terminal (`30s`). */
  progressEvery?: string;
}

/**
 * Drains every (or each named) source until caught up. Exit code per the one table: 0 all ok,
 * 1 a source failed, 3 only outages, 5 stopped by a signal, 4 a source skipped (lease held).
 */
export async function runOnce(options: RunOnceOptions, output: Output, logger: Logger): Promise<number> {
  const everyMs = parseDuration(options.progressEvery ?? '30s');
  if (everyMs === undefined || everyMs < 1) {
    throw new ConfigError('invalid option', [{ path: '--progress-every', message: 'expected a duration like 10s or 1m' }]);
  }
  const config = await loadConfig(options.config);
  const sources = selectSources(config, options.source);
  // Before anything opens: a signal while the run starts stops it in order, with exit code 5.
  const { stop, abort, detach } = shutdownSignals(logger, config.worker.shutdownTimeoutMs);
  let runtime: Runtime;
  try {
    runtime = await openRuntime(config, { logger, needRedis: false });
  } catch (error) {
    detach();
    throw error;
  }
  const board = options.quiet
    ? undefined
    : new ProgressBoard({
        live: output.isTTY === true,
        everyMs,
        write: (text) => (output.write ? void output.write(text) : output.out(text.replace(/\n$/, ''))),
        columns: () => process.stdout.columns || 100,
      });
  // On a terminal the live block is the news; info logs (a line per object) would scroll it away.
  if (board && output.isTTY && !process.env.LOG_LEVEL) logger.level = 'warn';
  const outcomes: RunOutcome[] = [];
  const notStarted: string[] = [];
  try {
    const queue = [...sources];
    const workers = Array.from({ length: Math.min(config.worker.concurrency, queue.length) }, async () => {
      for (let source = queue.shift(); source; source = queue.shift()) {
        if (stop.aborted) {
          outcomes.push({ status: 'stopped', source: source.id, result: undefined, committed: true });
          notStarted.push(source.id);
          continue;
        }
        const onProgress = board?.track(source.id);
        const outcome = await runSource(runtime.deps, source, {
          stop,
          abort,
          ...(onProgress ? { onProgress } : {}),
        });
        outcomes.push(outcome);
        const line = options.quiet && outcome.status === 'ok' ? undefined : describe(outcome);
        if (board) board.finish(source.id, line);
        else if (line !== undefined) output.out(line);
      }
    });
    await Promise.all(workers);
  } finally {
    board?.close();
    detach();
    await runtime.close();
  }
  if (notStarted.length > 0) output.out(`stopped before starting: ${notStarted.join(', ')} (the next run drains them)`);
  return exitCodeForOutcomes(outcomes);
}

function describe(outcome: RunOutcome): string {
  switch (outcome.status) {
    case 'ok': {
      const r = outcome.result;
      return `ok      ${r.source}: ${r.records} records in ${r.objects} objects (${r.pages} pages, ${r.durationMs} ms)`;
    }
    case 'busy':
      return `skipped ${outcome.source}: another drain holds its lease; nothing archived by this run`;
    case 'failed': {
      const done = outcome.result ? ` after ${outcome.result.records} records in ${outcome.result.objects} objects` : '';
      return `FAILED  ${outcome.source}: ${outcome.error.message}${done}`;
    }
    case 'stopped': {
      const r = outcome.result;
      const done = r ? `${r.records} records in ${r.objects} objects committed` : 'nothing committed';
      return outcome.committed
        ? `stopped ${outcome.source}: by a signal; ${done}, the next run resumes from there`
        : `stopped ${outcome.source}: shutdown deadline passed; the batch in hand was abandoned, the next run reads it again`;
    }
  }
}
