/**
 * The mixed case of `npm run bench` (`--only mixed`): all five providers' simulators, about a
 * million records (two large DataWorks logs, two large OOS executions, small sources of the other
 * three), archived once by the archiver (`run-once`, the config's two drains at a time, file store)
 * and once by the naive sequential archiver (bench/naive-archiver.ts) from the same simulators.
 * Both outputs are read back and compared with the records the simulators hold.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { SimulatorFleet } from '../simulators/index.js';

const here = dirname(fileURLToPath(import.meta.url));

export interface MixedOptions {
  /** DataWorks lines, split over the fleet's two runs. */
  dataworksLines: number;
  /** OOS entries, split over the fleet's two executions. */
  oosEntries: number;
  /** Rounds of the fleet's small growth (every provider). */
  grows: number;
}

export interface ArchiverRun {
  wallMs: number;
  cpuSec: number;
  maxRssBytes: number;
  recordsPerSec: number;
  /**
   * CPU seconds of the simulators during the run (they share this process, which does nothing
   * else meanwhile): near the run's wall seconds, they had a core to themselves and paced it.
   */
  simulatorCpuSec: number;
}

/** When one source's drain ran in the archiver's run, from its log: seconds after the run started. */
export interface SourceSpan {
  source: string;
  startSec: number;
  endSec: number;
  records: number;
}

export interface MixedFigures {
  records: number;
  perSource: Record<string, { expected: number; archiver: number; archiverDuplicated: number; naive: number }>;
  archiver: ArchiverRun;
  naive: ArchiverRun;
  /** The archiver's drains in the order they started (its `drain started` / `drain finished` log lines). */
  timeline: SourceSpan[];
  /** Archiver records/s over the naive archiver's. */
  speedup: number;
  ok: boolean;
}

export async function runMixedCase(options: MixedOptions): Promise<MixedFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'log-archiver-bench-mixed-'));
  const fleet = new SimulatorFleet({ perGrow: 40, segmentBytes: 512 * 1024, sddpWindowSeconds: 1 });
  await fleet.start();
  try {
    for (let i = 0; i < options.grows; i += 1) fleet.grow();
    const sources = fleet.sources();
    const runIds = sources.find((s) => s.id === 'dq-scan-log')!.params.runIds as number[];
    const executionIds = sources.find((s) => s.id === 'oos-exec')!.params.executionIds as string[];
    for (const runId of runIds) {
      const lines: string[] = [];
      for (let i = 0; i < options.dataworksLines / runIds.length; i += 1) {
        lines.push(
          `2026-12-01T00:00:${String(i % 60).padStart(2, '0')}.000Z run ${runId} rule ${i}: row count check passed (${i * 7} rows) ✓`,
        );
      }
      fleet.dataworks.appendLog(runId, `${lines.join('\n')}\n`);
    }
    for (const executionId of executionIds) {
      fleet.oos.appendLogs(
        executionId,
        Array.from(
          { length: options.oosEntries / executionIds.length },
          (_, i) => `task ACS::ECS::RunCommand step ${i} completed on i-bp1${i % 997}`,
        ),
      );
    }
    await sleep(Math.max(0, fleet.sddpSettledAt() - Date.now()));
    fleet.settle();
    const expected = fleet.expectedIds();

    const archive = join(dir, 'archive');
    const configPath = join(dir, 'config.yaml');
    const schedule = { every: '5m' };
    writeFileSync(
      configPath,
      stringify({
        storage: { kind: 'file', path: archive },
        checkpoints: { kind: 'file', path: join(dir, 'state') },
        sources: sources.map((s) => ({
          ...s,
          schedule,
          // The API's largest page (the fleet's 20 keeps its tests' pages small).
          ...(s.id === 'oos-exec' ? { params: { ...s.params, maxResults: 100 } } : {}),
        })),
      }),
    );

    const naiveOut = join(dir, 'naive');
    mkdirSync(naiveOut, { recursive: true });
    const naive = await timed(join(here, 'naive-archiver.js'), [configPath, naiveOut], (stdout) => stdout.trim().split('\n').at(-1)!);
    // At info level the archiver logs when each drain starts and finishes (a few lines a source).
    const archiver = await timed(
      join(here, 'cli-usage.js'),
      ['run-once', '-c', configPath, '--quiet'],
      (_stdout, stderr) => /BENCH-USAGE (.*)/.exec(stderr)?.[1] ?? '{}',
      'info',
    );

    const archived = countRecords(archive);
    const naiveCounted = countRecords(naiveOut);
    const perSource: MixedFigures['perSource'] = {};
    let records = 0;
    let ok = archiver.code === 0 && naive.code === 0;
    for (const [source, ids] of expected) {
      const mine = archived.get(source) ?? { unique: 0, duplicated: 0 };
      const theirs = naiveCounted.get(source) ?? { unique: 0, duplicated: 0 };
      perSource[source] = { expected: ids.length, archiver: mine.unique, archiverDuplicated: mine.duplicated, naive: theirs.unique };
      records += ids.length;
      if (mine.unique !== ids.length || mine.duplicated > 0) ok = false;
    }
    const figures = (run: Timed, count: number): ArchiverRun => ({
      wallMs: run.wallMs,
      cpuSec: (run.usage.cpuUserMs + run.usage.cpuSystemMs) / 1000,
      maxRssBytes: run.usage.maxRssBytes,
      recordsPerSec: count / (run.wallMs / 1000),
      simulatorCpuSec: run.hostCpuSec,
    });
    const archiverFigures = figures(archiver, records);
    const naiveFigures = figures(naive, records);
    return {
      records,
      perSource,
      archiver: archiverFigures,
      naive: naiveFigures,
      timeline: drainTimeline(archiver.stderr, archiver.startedAt),
      speedup: archiverFigures.recordsPerSec / naiveFigures.recordsPerSec,
      ok,
    };
  } finally {
    await fleet.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Timed {
  code: number | null;
  wallMs: number;
  usage: { cpuUserMs: number; cpuSystemMs: number; maxRssBytes: number };
  /** CPU of this process (the simulators) while the child ran. */
  hostCpuSec: number;
  stderr: string;
  /** Epoch ms of the spawn. */
  startedAt: number;
}

async function timed(
  script: string,
  args: string[],
  usageLine: (stdout: string, stderr: string) => string,
  logLevel = 'warn',
): Promise<Timed> {
  const startedAt = Date.now();
  const started = performance.now();
  const hostCpu = process.cpuUsage();
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: logLevel },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 1_000_000) stderr += c.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const wallMs = performance.now() - started;
  const host = process.cpuUsage(hostCpu);
  const usage = JSON.parse(usageLine(stdout, stderr)) as Timed['usage'];
  if (code !== 0) process.stderr.write(`${script} exited ${code}: ${stderr.slice(-2000)}\n`);
  return { code, wallMs, usage, hostCpuSec: (host.user + host.system) / 1e6, stderr, startedAt };
}

/** Each source's drain, from the archiver's `drain started` and `drain finished` log lines. */
function drainTimeline(log: string, startedAt: number): SourceSpan[] {
  const spans = new Map<string, SourceSpan>();
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { msg?: string; source?: string; time?: string; records?: number };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue;
    }
    const time = Date.parse(entry.time ?? '');
    if (!entry.source || !Number.isFinite(time)) continue;
    const at = (time - startedAt) / 1000;
    if (entry.msg === 'drain started' && !spans.has(entry.source))
      spans.set(entry.source, { source: entry.source, startSec: at, endSec: at, records: 0 });
    const span = spans.get(entry.source);
    if (entry.msg === 'drain finished' && span) {
      span.endSec = at;
      span.records += entry.records ?? 0;
    }
  }
  return [...spans.values()].sort((a, b) => a.startSec - b.startSec);
}

/** Unique record ids and repeats per source, from every `.ndjson.gz` file under `root`. */
function countRecords(root: string): Map<string, { unique: number; duplicated: number }> {
  const seen = new Map<string, Set<string>>();
  const duplicated = new Map<string, number>();
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ndjson.gz')) {
        for (const line of gunzipSync(readFileSync(path)).toString('utf8').split('\n')) {
          if (line === '') continue;
          const { source, id } = JSON.parse(line) as { source: string; id: string };
          let ids = seen.get(source);
          if (!ids) {
            ids = new Set();
            seen.set(source, ids);
          }
          if (ids.has(id)) duplicated.set(source, (duplicated.get(source) ?? 0) + 1);
          else ids.add(id);
        }
      }
    }
  };
  walk(root);
  return new Map([...seen].map(([source, ids]) => [source, { unique: ids.size, duplicated: duplicated.get(source) ?? 0 }]));
}
