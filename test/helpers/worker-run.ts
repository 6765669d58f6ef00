import { type ArchiveDiff, keepGrowing, overlappingDrains, type WorkerProcess, type World } from '../chaos/harness.js';

export interface WorkerRun {
  diff: ArchiveDiff;
  exitCodes: (number | null)[];
  /** Pairs of drains of one source that ran at the same time (should be none). */
  overlaps: string[];
  drains: number;
}

/**
 * Grows the fleet while `during` runs (once every worker has drained), then stops faults, lets
 * the last growth settle, waits for a complete archive and stops the workers with SIGTERM.
 */
export async function runWorkers(
  world: World,
  workers: WorkerProcess[],
  during: () => Promise<void>,
  growEveryMs = 700,
): Promise<WorkerRun> {
  const stopGrowing = keepGrowing(world, growEveryMs);
  try {
    await Promise.all(workers.map((w) => w.firstDrain(20_000)));
    await during();
  } finally {
    stopGrowing();
  }
  world.fleet.setFaultRate(0);
  world.grow();
  await world.settle();
  const diff = await world.waitComplete(40_000, workers);
  const exitCodes: (number | null)[] = [];
  for (const worker of workers) exitCodes.push(await worker.terminate());
  return { diff, exitCodes, ...overlappingDrains(workers) };
}
