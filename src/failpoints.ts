import { writeSync } from 'node:fs';

/**
 * Failpoints: places in the commit path where a chaos test can make the process die as a
 * `kill -9` would — or freeze as a long GC pause, a frozen VM or a partition would — at that
 * exact point rather than at a random moment.
 *
 * Switched on by one environment variable, read once at start-up:
 *
 *   LOG_ARCHIVER_FAILPOINTS="after-intent:0.2,after-upload:0.3,after-manifest:0.3,before-manifest:0.5:stall=5000"
 *
 * Each entry is `<name>:<probability>[:stall=<ms>]`; each time the code passes a named point it
 * acts with that probability (a bare `<name>` means 1):
 * - by default the process SIGKILLs itself;
 * - with `stall=<ms>` the whole process blocks synchronously for that long (no timers, no lease
 *   renewal, no I/O), then carries on: a stale writer, if the lease expired meanwhile.
 * Before acting it writes one line to stderr (synchronously) — `failpoint <name>: SIGKILL` or
 * `failpoint <name>: stall <ms> ms` — so a test can count what it hit.
 *
 * Points, in commit order (see ManifestLedger.commit and drainSource):
 * - `after-intent`     the intent is durable; the data object is not written yet.
 * - `mid-upload`       the data object upload has started; the kill lands 0–10 ms later, while
 *                      the request is in flight (or just after it, before the lease check).
 *                      Kill only.
 * - `after-upload`     the data object is durable; no lease check, no manifest yet.
 * - `before-manifest`  the lease check passed; the manifest is not written yet (the window no
 *                      fencing closes: a stall here makes a stale writer write its manifest).
 * - `after-manifest`   the manifest is durable; the checkpoint cache does not know it yet.
 * - `after-checkpoint` the checkpoint is saved; the intent is not yet removed.
 *
 * Unset (production), `failpoint()` is one comparison against `undefined`: zero cost, no
 * behaviour. Never set it in production: it exists to prove crash recovery, not to tune it.
 */
export type FailpointName = 'after-intent' | 'mid-upload' | 'after-upload' | 'before-manifest' | 'after-manifest' | 'after-checkpoint';

export const FAILPOINTS: readonly FailpointName[] = [
  'after-intent',
  'mid-upload',
  'after-upload',
  'before-manifest',
  'after-manifest',
  'after-checkpoint',
];

export interface FailpointAction {
  probability: number;
  /** Block this long instead of dying. */
  stallMs?: number;
}

const table: Map<FailpointName, FailpointAction> | undefined = parseFailpoints(process.env.LOG_ARCHIVER_FAILPOINTS);

/** Parses the variable's value; unknown names, bad probabilities and bad actions are refused loudly. */
export function parseFailpoints(spec: string | undefined): Map<FailpointName, FailpointAction> | undefined {
  if (spec === undefined || spec.trim() === '') return undefined;
  const parsed = new Map<FailpointName, FailpointAction>();
  for (const entry of spec.split(',')) {
    const [rawName, rawProbability, rawAction] = entry.trim().split(':');
    const name = (rawName ?? '').trim() as FailpointName;
    const probability = rawProbability === undefined ? 1 : Number(rawProbability);
    const stall = rawAction === undefined ? undefined : /^stall=(\d+)$/.exec(rawAction.trim());
    const valid =
      FAILPOINTS.includes(name) &&
      Number.isFinite(probability) &&
      probability >= 0 &&
      probability <= 1 &&
      (rawAction === undefined || (stall !== null && stall !== undefined && name !== 'mid-upload'));
    if (!valid) {
      throw new Error(
        `LOG_ARCHIVER_FAILPOINTS: bad entry ${JSON.stringify(entry)}; expected <name>:<0..1>[:stall=<ms>] with name one of ${FAILPOINTS.join(', ')}`,
      );
    }
    parsed.set(name, stall ? { probability, stallMs: Number(stall[1]) } : { probability });
  }
  return parsed;
}

/** Dies (or stalls) here with the configured probability of `name`; nothing when failpoints are off. */
export function failpoint(name: FailpointName): void {
  if (table === undefined) return;
  const action = table.get(name);
  if (action === undefined || Math.random() >= action.probability) return;
  if (action.stallMs !== undefined) stall(name, action.stallMs);
  else die(name);
}

/**
 * Runs `operation`; when `name` fires, the process SIGKILLs itself 0–10 ms after the operation
 * started, so the kill lands while it is in flight (or right after, before anything else).
 */
export async function failpointDuring<T>(name: FailpointName, operation: () => Promise<T>): Promise<T> {
  if (table === undefined) return operation();
  const action = table.get(name);
  if (action === undefined || Math.random() >= action.probability) return operation();
  setTimeout(() => die(name), Math.floor(Math.random() * 11));
  const result = await operation();
  // Finished before the timer: die now, before the caller can act on the result.
  die(name);
  return result;
}

function say(line: string): void {
  try {
    writeSync(2, `${line}\n`);
  } catch {
    // stderr gone: act anyway
  }
}

function stall(name: FailpointName, ms: number): void {
  say(`failpoint ${name}: stall ${ms} ms`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function die(name: FailpointName): never {
  say(`failpoint ${name}: SIGKILL`);
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL is not delivered synchronously everywhere; never return into the commit path.
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
}
