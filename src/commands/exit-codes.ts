import { ArchiverError, ConfigError, DependencyUnavailableError, StorageError } from '../errors/index.js';
import type { RunOutcome } from '../drain/index.js';

/** Done: everything asked for succeeded (`verify`: the archive is intact). */
export const EXIT_OK = 0;
/** A source failed (the others still ran), or damage or a gap was found; the output names it. */
export const EXIT_FAILED = 1;
/** Usage or config error, every problem listed by path; nothing was started. */
export const EXIT_USAGE = 2;
/** A dependency (Redis, storage) could not be reached: nothing was judged. */
export const EXIT_UNAVAILABLE = 3;
/** `run-once`: nothing was done for a source because another drain holds its lease. */
export const EXIT_BUSY = 4;
/** `run-once`: stopped by SIGTERM/SIGINT; what was read is committed, the rest waits for the next run. */
export const EXIT_STOPPED = 5;

/**
 * The one table of exit codes, as `--help`, README.md and docs/operations.md show it (a test
 * keeps the documents in step with it). Codes mean the same in every command.
 */
export const EXIT_CODES: readonly { code: number; meaning: string }[] = [
  { code: EXIT_OK, meaning: 'done: everything asked for succeeded (verify: intact)' },
  { code: EXIT_FAILED, meaning: 'a source failed, or damage / a gap was found (named in the output)' },
  { code: EXIT_USAGE, meaning: 'usage or config error (every problem listed by path)' },
  { code: EXIT_UNAVAILABLE, meaning: 'a dependency (Redis, storage) could not be reached: nothing was judged' },
  { code: EXIT_BUSY, meaning: 'run-once: nothing done for a source because another drain holds its lease' },
  { code: EXIT_STOPPED, meaning: 'run-once: stopped by a signal (SIGTERM/SIGINT) before every source was caught up' },
];

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/**
 * Whether `error` (or a cause of it) says a dependency could not be reached, rather than that
 * something was judged wrong: an outage is never reported as damage.
 */
export function isDependencyUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth += 1) {
    if (e instanceof DependencyUnavailableError) return true;
    if (e instanceof StorageError) return e.retryable;
    // A provider that cannot be reached fails its source: providers are not dependencies here.
    if (e instanceof ArchiverError && e.code.startsWith('ERR_PROVIDER')) return false;
    if (e instanceof ArchiverError) continue;
    // ioredis: a command given up after maxRetriesPerRequest, or sent on a closed connection.
    if (e.name === 'MaxRetriesPerRequestError' || e.message === 'Connection is closed.') return true;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && NETWORK_CODES.has(code)) return true;
  }
  return false;
}

/** The exit code of a command that ended with `error` instead of a result. */
export function exitCodeForError(error: unknown): number {
  if (error instanceof ConfigError) return EXIT_USAGE;
  // A storage error that escapes a command (listing, reading) means storage could not answer.
  if (error instanceof StorageError || isDependencyUnavailable(error)) return EXIT_UNAVAILABLE;
  return EXIT_FAILED;
}

/**
 * The exit code of a run over several sources: a failure outranks an outage, an outage a stop,
 * a stop a source skipped because another drain holds its lease. Only all-ok is 0.
 */
export function exitCodeForOutcomes(outcomes: readonly RunOutcome[]): number {
  const failed = outcomes.filter((o) => o.status === 'failed');
  if (failed.some((o) => !isDependencyUnavailable(o.error))) return EXIT_FAILED;
  if (failed.length > 0) return EXIT_UNAVAILABLE;
  if (outcomes.some((o) => o.status === 'stopped')) return EXIT_STOPPED;
  if (outcomes.some((o) => o.status === 'busy')) return EXIT_BUSY;
  return EXIT_OK;
}
