/**
 * The provider simulators for the benchmark, in their own process so that the data they hold
 * (hundreds of MB of log in memory) and the CPU they spend answering never count against the
 * archiver being measured.
 *
 * Usage: node dist/bench/simulators-process.js '<SimulatorsSpec as JSON>'
 * Fills the simulators, then prints one line of JSON (SimulatorsReady) on stdout. Exits when its
 * stdin closes (the bench finished or died) or on SIGTERM.
 */
import { DataWorksSimulator } from '../simulators/index.js';
import { OosSimulator } from '../simulators/index.js';
import { dataWorksLog, oosEntries, type DataWorksLogStats } from './data.js';

export interface SimulatorsSpec {
  dataworks: { runId: number; bytes: number; seed: number }[];
  oos: { executionId: string; count: number; seed: number }[];
}

export interface SimulatorsReady {
  dataworks: string;
  oos: string;
  runs: Record<string, DataWorksLogStats>;
  executions: Record<string, { count: number; bytes: number }>;
  fillMs: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as SimulatorsSpec;
const started = performance.now();

// Default segment size: 512 KB a call, as the real API.
const dataworks = new DataWorksSimulator();
const oos = new OosSimulator();

const runs: Record<string, DataWorksLogStats> = {};
for (const run of spec.dataworks) {
  const stats: DataWorksLogStats = { lines: 0, bytes: 0 };
  dataworks.addRun(run.runId, '');
  // Appended in ~32 MB chunks: the simulator copies the log on every append, so fewer is faster.
  for (const chunk of dataWorksLog(run.runId, run.bytes, run.seed, stats, 32_000_000)) dataworks.appendLog(run.runId, chunk);
  runs[String(run.runId)] = stats;
}

const executions: Record<string, { count: number; bytes: number }> = {};
for (const execution of spec.oos) {
  const { entries, bytes } = oosEntries(execution.executionId, execution.count, execution.seed);
  oos.addExecution(execution.executionId);
  oos.appendLogs(execution.executionId, entries);
  executions[execution.executionId] = { count: entries.length, bytes };
}

await dataworks.start();
await oos.start();
const ready: SimulatorsReady = {
  dataworks: dataworks.url,
  oos: oos.url,
  runs,
  executions,
  fillMs: Math.round(performance.now() - started),
};
process.stdout.write(`${JSON.stringify(ready)}\n`);

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  setTimeout(() => process.exit(0), 1_000).unref();
  await Promise.allSettled([dataworks.stop(), oos.stop()]);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
process.stdin.on('end', () => void shutdown());
process.stdin.on('error', () => void shutdown());
process.stdin.resume();
