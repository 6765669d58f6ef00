import { writeSync } from 'node:fs';

/**
 * Failpoints: places in the commit path where a chaos test can make the process die as a
 * `kill -9` would, deterministically at that point rather than at a random moment.
 *
 * Switched on by one environment variable, read once at start-up:
 *
 *   LOG_ARCHIVER_FAILPOINTS="after-intent:0.2,mid-upload:0.1,after-upload:0.3,after-manifest:0.3,after-checkpoint:0.2"
 *
 * Each entry is `<name>:<probability>`; each time the code passes a named point, the process
 * SIGKILLs itself with that probability (a bare `<name>` means 1). Before dying it writes one
 * line `failpoint <name>: SIGKILL` to stderr (synchronously), so a test can count what it hit.
 *
 * Points, in commit order (see ManifestLedger.commit and drainSource):
 * - `after-intent`     the intent is durable; the data object is not written yet.
 * - `mid-upload`       the data object upload has started; the kill lands 0–10 ms later, while
 *                      the request is in flight (or just after it, before the lease check).
 * - `after-upload`     the data object is durable; no lease check, no manifest yet.
 * - `after-manifest`   the manifest is durable; the checkpoint cache does not know it yet.
 * - `after-checkpoint` the checkpoint is saved; the intent is not yet removed.
 *
 * Unset (production), `failpoint()` is one comparison against `undefined`: zero cost, no
 * behaviour. Never set it in production: it exists to prove crash recovery, not to tune it.
 */
export type FailpointName = 'after-intent' | 'mid-upload' | 'after-upload' | 'after-manifest' | 'after-checkpoint';

const NAMES: readonly FailpointName[] = ['after-intent', 'mid-upload', 'after-upload', 'after-manifest', 'after-checkpoint'];

const table: Map<FailpointName, number> | undefined = parseFailpoints(process.env.LOG_ARCHIVER_FAILPOINTS);

/** Parses the variable's value; unknown names and bad probabilities are refused loudly. */
export function parseFailpoints(spec: string | undefined): Map<FailpointName, number> | undefined {
  if (spec === undefined || spec.trim() === '') return undefined;
  const parsed = new Map<FailpointName, number>();
  for (const entry of spec.split(',')) {
    const [rawName, rawProbability] = entry.trim().split(':');
    const name = (rawName ?? '').trim() as FailpointName;
    const probability = rawProbability === undefined ? 1 : Number(rawProbability);
    if (!NAMES.includes(name) || !Number.isFinite(probability) || probability < 0 || probability > 1) {
      throw new Error(`LOG_ARCHIVER_FAILPOINTS: bad entry ${JSON.stringify(entry)}; expected <name>:<0..1> with name one of ${NAMES.join(', ')}`);
    }
    parsed.set(name, probability);
  }
  return parsed;
}

/** Dies here (SIGKILL) with the configured probability of `name`; nothing when failpoints are off. */
export function failpoint(name: FailpointName): void {
  if (table === undefined) return;
  const probability = table.get(name);
  if (probability !== undefined && Math.random() < probability) die(name);
}

/**
 * Runs `operation`; when `name` fires, the process SIGKILLs itself 0–10 ms after the operation
 * started, so the kill lands while it is in flight (or right after, before anything else).
 */
export async function failpointDuring<T>(name: FailpointName, operation: () => Promise<T>): Promise<T> {
  if (table === undefined) return operation();
  const probability = table.get(name);
  if (probability === undefined || Math.random() >= probability) return operation();
  setTimeout(() => die(name), Math.floor(Math.random() * 11));
  const result = await operation();
  // Finished before the timer: die now, before the caller can act on the result.
  die(name);
  return result;
}

function die(name: FailpointName): never {
  try {
    writeSync(2, `failpoint ${name}: SIGKILL\n`);
  } catch {
    // stderr gone: die anyway
  }
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL is not delivered synchronously everywhere; never return into the commit path.
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
}
