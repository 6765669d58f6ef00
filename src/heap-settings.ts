/**
 * V8 heap settings of the commands that move data (drain, verify, export).
 *
 * A drain's live heap is small (~45 MB on a 200 MB DataWorks log), but it allocates a few MB per
 * page that die young. With V8's defaults on a 64-bit machine with gigabytes of memory the young
 * generation grows to 2 × 64 MB and the old one is collected only at about four times its live
 * size: 330–360 MB of RSS. Semi-spaces of 4 MB keep the young generation at 8 MB (scavenges stay
 * cheap: what survives one is small), and an old-space limit of 1 GB makes V8 grow the old
 * generation by at most ~1.6× between collections instead of 4× (a limit under 2 GB selects V8's
 * smaller growing factor). The limit itself is far above what any drain keeps alive.
 */
export const HEAP_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--max-old-space-size=1024'];

/** Heap flags of the user's own, which are kept as given (NODE_OPTIONS, or `node <flags> cli.js`). */
const OWN_HEAP_FLAG = /^--max-(?:semi-space|old-space|heap)-size(?:=|$)/;

/**
 * Replaces this process (exec(2): same pid, same stdio, nothing left behind) by itself started
 * with HEAP_FLAGS, unless it already runs with them or with heap flags of the user's own. Returns
 * when nothing is to be done: also on Node releases without `process.execve` (before 22.15), in
 * worker threads, and under an inspector (a debugger would lose its process). Call it before the
 * process does anything observable: whatever it did is done again.
 */
export function restartWithHeapSettings(): void {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (given.some((flag) => OWN_HEAP_FLAG.test(flag) || flag.startsWith('--inspect'))) return;
  if (typeof process.execve !== 'function') return;
  const script = process.argv[1];
  if (script === undefined) return;
  try {
    process.execve(process.execPath, [process.execPath, ...HEAP_FLAGS, ...process.execArgv, script, ...process.argv.slice(2)], process.env);
  } catch {
    // Not allowed here (a worker thread, a platform without execve): run with V8's defaults.
  }
}
