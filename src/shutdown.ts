import type { Logger } from './observability/index.js';

export interface ShutdownHooks {
  logger: Logger;
  /** Time between the first signal and `onDeadline`. */
  deadlineMs: number;
  /** First SIGTERM/SIGINT: stop taking work, finish the batch in hand, commit. */
  onStop: () => void;
  /** Deadline passed or a second signal: abandon whatever is still running, uncommitted. */
  onDeadline: () => void;
}

/**
 * Signal handling in one place. Kubernetes sends SIGTERM and waits `terminationGracePeriodSeconds`
 * before SIGKILL; the deadline should be shorter than that so a flush either completes or is
 * abandoned before the kill. Abandoning is safe: nothing uncommitted is ever half-visible.
 */
export function onShutdownSignals(hooks: ShutdownHooks): () => void {
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) {
      hooks.logger.warn({ signal }, 'second signal: abandoning work in flight');
      hooks.onDeadline();
      return;
    }
    stopping = true;
    hooks.logger.info({ signal, deadlineMs: hooks.deadlineMs }, 'shutting down: finishing the batch in hand');
    hooks.onStop();
    timer = setTimeout(() => {
      hooks.logger.warn('shutdown deadline passed: abandoning work in flight');
      hooks.onDeadline();
    }, hooks.deadlineMs);
    timer.unref();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
    if (timer) clearTimeout(timer);
  };
}

/** The two signals a drain command hands its drains, and how to stop listening. */
export interface ShutdownSignals {
  /** Aborted at the first SIGTERM/SIGINT: stop taking work, commit the batch in hand. */
  stop: AbortSignal;
  /** Aborted at the deadline or a second signal: abandon what is still running. */
  abort: AbortSignal;
  detach: () => void;
}

/** onShutdownSignals as the two abort signals drains take; install it before anything opens. */
export function shutdownSignals(logger: Logger, deadlineMs: number): ShutdownSignals {
  const stop = new AbortController();
  const abort = new AbortController();
  const detach = onShutdownSignals({ logger, deadlineMs, onStop: () => stop.abort(), onDeadline: () => abort.abort() });
  return { stop: stop.signal, abort: abort.signal, detach };
}
