import { loadConfig } from '../config/index.js';
import { runSource, type RunOutcome } from '../drain/index.js';
import type { Logger } from '../observability/index.js';
import { openRuntime } from '../runtime.js';
import { onShutdownSignals } from '../shutdown.js';
import { EXIT_FAILED, EXIT_OK } from './exit-codes.js';
import type { Output } from './output.js';
import { selectSources } from './select-sources.js';

export interface RunOnceOptions {
  config: string;
  source?: string[];
}

/** Drains every (or each named) source until caught up; exit 0 all ok, 1 any failed. */
export async function runOnce(options: RunOnceOptions, output: Output, logger: Logger): Promise<number> {
  const config = await loadConfig(options.config);
  const sources = selectSources(config, options.source);
  const runtime = await openRuntime(config, { logger, needRedis: false });
  const stop = new AbortController();
  const abort = new AbortController();
  const detach = onShutdownSignals({
    logger,
    deadlineMs: config.worker.shutdownTimeoutMs,
    onStop: () => stop.abort(),
    onDeadline: () => abort.abort(),
  });
  const outcomes: RunOutcome[] = [];
  try {
    const queue = [...sources];
    const workers = Array.from({ length: Math.min(config.worker.concurrency, queue.length) }, async () => {
      for (let source = queue.shift(); source; source = queue.shift()) {
        if (stop.signal.aborted) break;
        const outcome = await runSource(runtime.deps, source, { stop: stop.signal, abort: abort.signal });
        outcomes.push(outcome);
        output.out(describe(outcome));
      }
    });
    await Promise.all(workers);
  } finally {
    detach();
    await runtime.close();
  }
  return outcomes.some((o) => o.status === 'failed') ? EXIT_FAILED : EXIT_OK;
}

function describe(outcome: RunOutcome): string {
  switch (outcome.status) {
    case 'ok': {
      const r = outcome.result;
      return `ok      ${r.source}: ${r.records} records in ${r.objects} objects (${r.pages} pages, ${r.durationMs} ms)`;
    }
    case 'busy':
      return `skipped ${outcome.source}: another drain holds its lease`;
    case 'failed': {
      const done = outcome.result ? ` after ${outcome.result.records} records in ${outcome.result.objects} objects` : '';
      return `FAILED  ${outcome.source}: ${outcome.error.message}${done}`;
    }
  }
}
