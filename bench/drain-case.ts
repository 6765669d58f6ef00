/**
 * One benchmark case in its own process, so that `process.resourceUsage()` (CPU time, maxRSS)
 * describes this drain alone: builds a config, opens the real runtime, drains one source until
 * caught up with `runSource`, records the figures, then checks the archive it wrote.
 *
 * Usage: node dist/bench/drain-case.js <spec.json>   (writes the CaseResult to spec.resultPath)
 *
 * The check runs after the figures are taken (it reads every object back, which costs memory and
 * CPU the drain itself does not) and fails the case unless the archive holds exactly the expected
 * records: every object listed by a manifest and intact (`verifyArchive`), manifest totals equal
 * to the expected count, and every line read back in order with no gap and no repeat.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { verifyArchive } from '../src/archive/index.js';
import { parseConfig } from '../src/config/index.js';
import { runSource, type RunOutcome } from '../src/drain/index.js';
import { silentLogger } from '../src/observability/index.js';
import { openRuntime } from '../src/runtime.js';
import { createObjectStore, type ObjectStore } from '../src/storage/index.js';
import { restartWithHeapSettings } from '../src/heap-settings.js';
import { instrument, type Phases } from './phases.js';

// The heap settings the CLI's data commands run with (src/cli.ts): the drain is measured as the
// product runs it. Flags of the bench's own (BENCH_CASE_NODE_OPTIONS) are kept instead.
restartWithHeapSettings();

export type CaseStorage = { kind: 'file'; path: string } | { kind: 's3'; endpoint: string; bucket: string; prefix: string };

export interface CaseSpec {
  name: string;
  storage: CaseStorage;
  stateDir: string;
  sourceYaml: string;
  sourceId: string;
  /** Records the archive must hold, and per stream (run Id or execution id) what its last record is. */
  expected: { records: number; streams: Record<string, ExpectedStream> };
  batch: { maxRecords: number; maxBytes: number; gzipLevel: number };
  resultPath: string;
  sampleMs: number;
  /** S3 endpoint the check after the drain uses (the drain's goes through the bench's request counter). */
  checkEndpoint?: string;
  /** When set, a V8 CPU profile of the drain alone (not the check) is written here. */
  cpuProfilePath?: string;
}

/** DataWorks: lines, and the byte offset the next line would start at (= log size). OOS: entries. */
export type ExpectedStream = { kind: 'dataworks'; lines: number; endOffset: number } | { kind: 'oos'; entries: number };

export interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
  records: number;
  objects: number;
  pages: number;
  wallMs: number;
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Process peak RSS (getrusage ru_maxrss), bytes; includes the runtime's baseline. */
  maxRssBytes: number;
  /** RSS just before the drain started (modules loaded, nothing opened). */
  baselineRssBytes: number;
  /** Highest sampled RSS / V8 heap in use / external+arrayBuffers during the drain. */
  sampledPeakRssBytes: number;
  sampledPeakHeapBytes: number;
  sampledPeakExternalBytes: number;
  /** Sum of compressed object sizes (from the manifests). */
  archiveBytes: number;
  /** Uncompressed NDJSON bytes read back. */
  ndjsonBytes: number;
  verifyMs: number;
  /** Time each stage of the drain took (see phases.ts). */
  phases?: Phases;
  /** Time the JS thread was busy during the drain (event loop utilisation), ms. */
  loopBusyMs?: number;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as CaseSpec;

function storageYaml(storage: CaseStorage): string {
  if (storage.kind === 'file') return `  kind: file\n  path: ${JSON.stringify(storage.path)}`;
  return `  kind: s3\n  bucket: ${storage.bucket}\n  region: us-east-1\n  endpoint: ${storage.endpoint}\n  forcePathStyle: true\n  prefix: ${storage.prefix}`;
}

const configText = `
storage:
${storageYaml(spec.storage)}
checkpoints: { kind: file, path: ${JSON.stringify(spec.stateDir)} }
batch: { maxRecords: ${spec.batch.maxRecords}, maxBytes: ${spec.batch.maxBytes}, gzipLevel: ${spec.batch.gzipLevel} }
sources:
${spec.sourceYaml}
`;

// The simulators' access key comes in the environment (ALIBABA_CLOUD_ACCESS_KEY_*): importing the
// simulators here would count their modules in the baseline RSS of the archiver.
const env = process.env;

const result: CaseResult = {
  name: spec.name,
  ok: false,
  records: 0,
  objects: 0,
  pages: 0,
  wallMs: 0,
  cpuUserMs: 0,
  cpuSystemMs: 0,
  maxRssBytes: 0,
  baselineRssBytes: 0,
  sampledPeakRssBytes: 0,
  sampledPeakHeapBytes: 0,
  sampledPeakExternalBytes: 0,
  archiveBytes: 0,
  ndjsonBytes: 0,
  verifyMs: 0,
};

try {
  const config = parseConfig(configText, env, 'bench config');
  const source = config.sources.find((s) => s.id === spec.sourceId);
  if (!source) throw new Error(`bench config has no source ${spec.sourceId}`);

  result.phases = instrument(source.provider);
  // Settle what module loading left behind, so the baseline is the runtime's, not the loader's.
  (globalThis as { gc?: () => void }).gc?.();
  result.baselineRssBytes = process.memoryUsage.rss();
  const profiler = spec.cpuProfilePath ? await startProfiler() : undefined;
  const sampler = setInterval(sample, spec.sampleMs);
  const before = process.resourceUsage();
  const loopBefore = performance.eventLoopUtilization();
  const started = performance.now();

  const runtime = await openRuntime(config, { logger: silentLogger(), needRedis: false });
  let outcome: RunOutcome;
  try {
    outcome = await runSource(runtime.deps, source);
  } finally {
    await runtime.close();
  }

  result.wallMs = performance.now() - started;
  result.loopBusyMs = performance.eventLoopUtilization(loopBefore).active;
  const after = process.resourceUsage();
  clearInterval(sampler);
  sample();
  result.cpuUserMs = (after.userCPUTime - before.userCPUTime) / 1000;
  result.cpuSystemMs = (after.systemCPUTime - before.systemCPUTime) / 1000;
  result.maxRssBytes = after.maxRSS * 1024;
  if (profiler) await profiler.stop(spec.cpuProfilePath!);

  if (outcome.status !== 'ok') {
    throw new Error(outcome.status === 'failed' ? `drain failed: ${outcome.error.message}` : 'source was busy (lease held)');
  }
  result.records = outcome.result.records;
  result.objects = outcome.result.objects;
  result.pages = outcome.result.pages;

  const verifyStarted = performance.now();
  const store = createObjectStore(
    spec.checkEndpoint && config.storage.kind === 's3' ? { ...config.storage, endpoint: spec.checkEndpoint } : config.storage,
  );
  try {
    await check(store, source.id);
  } finally {
    await store.close();
  }
  result.verifyMs = performance.now() - verifyStarted;
  result.ok = true;
} catch (error) {
  result.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
}

writeFileSync(spec.resultPath, JSON.stringify(result, null, 2));
process.exit(result.ok ? 0 : 1);

async function startProfiler(): Promise<{ stop(path: string): Promise<void> }> {
  // Loaded only for --cpu-prof: the inspector (~3 MB of RSS) is no part of what the product loads.
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(path) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(path, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

function sample(): void {
  const m = process.memoryUsage();
  result.sampledPeakRssBytes = Math.max(result.sampledPeakRssBytes, m.rss);
  result.sampledPeakHeapBytes = Math.max(result.sampledPeakHeapBytes, m.heapUsed);
  result.sampledPeakExternalBytes = Math.max(result.sampledPeakExternalBytes, m.external + m.arrayBuffers);
}

async function check(store: ObjectStore, sourceId: string): Promise<void> {
  const want = spec.expected.records;
  if (result.records !== want) throw new Error(`drain reports ${result.records} records archived, expected ${want}`);

  const report = await verifyArchive(store, { sources: [sourceId] });
  if (report.problems.length > 0) {
    throw new Error(
      `verify found ${report.problems.length} problem(s): ${report.problems
        .slice(0, 5)
        .map((p) => `${p.kind} ${p.key}: ${p.detail}`)
        .join('; ')}`,
    );
  }
  const summary = report.sources.find((s) => s.source === sourceId);
  if (!summary || summary.records !== want)
    throw new Error(`manifests of ${sourceId} total ${summary?.records ?? 0} records, expected ${want}`);
  if (summary.objects !== result.objects) throw new Error(`manifests list ${summary.objects} objects, the drain wrote ${result.objects}`);
  result.archiveBytes = summary.bytes;

  // Read every line back, objects in sequence order, and check each stream is contiguous.
  const keys: { key: string; seq: number }[] = [];
  for await (const item of store.list(`${sourceId}/`)) {
    const match = /-(\d{10})-\d{16}\.ndjson\.gz$/.exec(item.key);
    if (match) keys.push({ key: item.key, seq: Number(match[1]) });
  }
  keys.sort((a, b) => a.seq - b.seq);
  const { createInterface } = await import('node:readline');
  const next = new Map<string, number>();
  const seen = new Map<string, number>();
  let lines = 0;
  for (const { key } of keys) {
    const body = await store.getStream(key);
    if (!body) throw new Error(`listed object ${key} is gone`);
    const gunzip = createGunzip();
    gunzip.on('data', (chunk: Buffer) => {
      result.ndjsonBytes += chunk.length;
    });
    body.pipe(gunzip);
    for await (const line of createInterface({ input: gunzip, crlfDelay: Infinity })) {
      lines += 1;
      const envelope = JSON.parse(line) as {
        source: string;
        id: string;
        context: Record<string, unknown>;
        record: Record<string, unknown>;
      };
      if (envelope.source !== sourceId) throw new Error(`${key}: line ${lines} names source ${envelope.source}`);
      const stream = String(envelope.context.runId ?? envelope.context.executionId);
      const expected = spec.expected.streams[stream];
      if (!expected) throw new Error(`${key}: unexpected stream ${stream}`);
      const at = next.get(stream) ?? 0;
      if (expected.kind === 'dataworks') {
        const record = envelope.record as { offset: number; line: string };
        if (record.offset !== at || envelope.id !== `${stream}:${at}`)
          throw new Error(`${key}: run ${stream} line at ${record.offset} (id ${envelope.id}), expected ${at}: a gap or a repeat`);
        next.set(stream, at + Buffer.byteLength(record.line, 'utf8') + 1);
      } else {
        if (envelope.id !== `${stream}:${at}`)
          throw new Error(`${key}: execution ${stream} entry ${envelope.id}, expected ${stream}:${at}: a gap or a repeat`);
        next.set(stream, at + 1);
      }
      seen.set(stream, (seen.get(stream) ?? 0) + 1);
    }
  }
  if (lines !== want) throw new Error(`archive holds ${lines} lines, expected ${want}`);
  for (const [stream, expected] of Object.entries(spec.expected.streams)) {
    const count = seen.get(stream) ?? 0;
    if (expected.kind === 'dataworks') {
      if (count !== expected.lines || (next.get(stream) ?? 0) !== expected.endOffset) {
        throw new Error(
          `run ${stream}: ${count} lines ending at byte ${next.get(stream) ?? 0}, expected ${expected.lines} ending at ${expected.endOffset}`,
        );
      }
    } else if (count !== expected.entries) {
      throw new Error(`execution ${stream}: ${count} entries, expected ${expected.entries}`);
    }
  }
}
