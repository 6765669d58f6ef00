import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FAILPOINTS } from '../../src/failpoints.js';
import { FileObjectStore } from '../../src/storage/index.js';
import { DataWorksSimulator, OosSimulator, SIMULATOR_ACCESS_KEY } from '../../simulators/index.js';
import { runCli } from '../helpers/cli.js';
import { compareIds, readArchive } from '../helpers/read-archive.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { startRedis, type RedisHandle } from '../helpers/with-redis.js';
import { randomBetween, WorkerProcess } from './harness.js';

/**
 * Discovery under chaos: two sources find their streams by listing (DataWorks
 * ListDataQualityScanRuns, OOS ListExecutions) while the simulators keep starting runs and
 * executions (some while a listing is being paged), write their logs over several rounds, and end
 * them in every outcome; workers are SIGKILLed at failpoints and at random moments meanwhile.
 * Every line and entry must be archived exactly once, and the checkpoint must hold only streams
 * still in progress and those retired within the lookback.
 */

const PROJECT = 10086;
const TEMPLATE = 'ACS-ECS-BulkyRunCommand';
const KILL_PHASE_MS = 60_000;
const MIN_KILLS = 12;
const LOOKBACK_SECONDS = 3;
const RUN_OUTCOMES = ['Pass', 'Fail', 'Error', 'Warn'];
const EXECUTION_OUTCOMES = ['Success', 'Failed', 'Cancelled'];

interface Discovered {
  from: number;
  retired: [number, string][];
  active: Record<string, unknown>;
}

/** Streams of one kind the test drives: started, written to over rounds, then ended. */
interface Driven {
  /** Rounds each running stream still has before it ends. */
  running: Map<string, number>;
  started: number;
  /** Start time (ms) of each stream, to bound what `retired` may hold. */
  startedAt: Map<string, number>;
}

describe('chaos: discovery', () => {
  const dataworks = new DataWorksSimulator({ segmentBytes: 512 });
  const oos = new OosSimulator();
  let redis: RedisHandle;
  let dir: string;
  const runs: Driven = { running: new Map(), started: 0, startedAt: new Map() };
  const executions: Driven = { running: new Map(), started: 0, startedAt: new Map() };
  let nextRun = 50_000;
  let nextExecution = 0;
  let line = 0;

  const lines = (id: string, count: number): string =>
    Array.from({ length: count }, () => `${new Date().toISOString()} run ${id} rule ${++line} 校验通过 ✓\n`).join('');

  /** A new run: running for 1–4 rounds, or (one in four) already final with its whole log. */
  const startRun = (): void => {
    const id = nextRun++;
    const now = Date.now();
    const finished = Math.random() < 0.25;
    const status = finished ? RUN_OUTCOMES[id % RUN_OUTCOMES.length]! : 'Running';
    dataworks.addRun(id, lines(String(id), randomBetween(1, 6)), { projectId: PROJECT, createTime: now, status });
    runs.started += 1;
    runs.startedAt.set(String(id), now);
    if (!finished) runs.running.set(String(id), randomBetween(1, 5));
  };

  const startExecution = (): void => {
    const id = `exec-chaos-${String(nextExecution++).padStart(5, '0')}`;
    const now = Date.now();
    oos.addExecution(id, { TemplateName: TEMPLATE });
    oos.appendLogs(
      id,
      Array.from({ length: randomBetween(1, 6) }, (_, i) => `${id} step ${i} started`),
    );
    executions.started += 1;
    executions.startedAt.set(id, Math.floor(now / 1000) * 1000);
    executions.running.set(id, randomBetween(1, 5));
  };

  /** One round: running streams log more, some end (every outcome), new ones start. */
  const grow = (): void => {
    for (const [id, left] of runs.running) {
      dataworks.appendLog(Number(id), lines(id, randomBetween(1, 8)));
      if (left <= 1) {
        dataworks.setRunStatus(Number(id), RUN_OUTCOMES[Number(id) % RUN_OUTCOMES.length]!);
        runs.running.delete(id);
      } else runs.running.set(id, left - 1);
    }
    for (const [id, left] of executions.running) {
      oos.appendLogs(
        id,
        Array.from({ length: randomBetween(1, 8) }, (_, i) => `${id} task ${left}.${i} completed`),
      );
      if (left <= 1) {
        oos.setExecutionStatus(id, EXECUTION_OUTCOMES[executions.started % EXECUTION_OUTCOMES.length]!);
        executions.running.delete(id);
      } else executions.running.set(id, left - 1);
    }
    for (let i = randomBetween(1, 3); i > 0; i -= 1) startRun();
    for (let i = randomBetween(1, 3); i > 0; i -= 1) startExecution();
  };

  /** Ends every stream still running (their last lines first). */
  const finishAll = (): void => {
    for (const id of runs.running.keys()) {
      dataworks.appendLog(Number(id), lines(id, 2));
      dataworks.setRunStatus(Number(id), 'Pass');
    }
    runs.running.clear();
    for (const id of executions.running.keys()) {
      oos.appendLogs(id, [`${id} finished`]);
      oos.setExecutionStatus(id, 'Success');
    }
    executions.running.clear();
  };

  beforeAll(async () => {
    await Promise.all([dataworks.start(), oos.start()]);
    redis = await startRedis();
    dir = makeTempDir('chaos-discovery');
    // Streams that started before the first drain, and streams starting while a listing is paged.
    for (let i = 0; i < 8; i += 1) {
      startRun();
      startExecution();
    }
    dataworks.beforeList = () => {
      if (Math.random() < 0.2) startRun();
    };
    oos.beforeList = () => {
      if (Math.random() < 0.2) startExecution();
    };
  });
  afterAll(async () => {
    await Promise.all([dataworks.stop(), oos.stop()]);
    await redis?.stop();
    removeTempDir(dir);
  });

  it('archives every run and execution the listings bring over the run, each once, with a bounded checkpoint, across kills', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    const timing = { since, lookbackSeconds: LOOKBACK_SECONDS, settleSeconds: 1, pageSize: 10 };
    const credentials = { ...SIMULATOR_ACCESS_KEY };
    const schedule = { every: '300ms' };
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      stringify({
        redis: { url: redis.url, prefix: 'chaos-discovery' },
        storage: { kind: 'file', path: join(dir, 'archive') },
        checkpoints: { kind: 'redis' },
        batch: { maxRecords: 25, gzipLevel: 1 },
        worker: { concurrency: 2, leaseTtl: '3s', shutdownTimeout: '10s' },
        http: { timeout: '2s', maxAttempts: 6 },
        sources: [
          {
            id: 'dq-discovered',
            provider: 'aliyun-dataworks-dq-scan-log',
            schedule,
            endpoint: dataworks.url,
            credentials,
            params: { discover: { projectId: PROJECT, ...timing }, concurrency: 4 },
          },
          {
            id: 'oos-discovered',
            provider: 'aliyun-oos-execution-logs',
            schedule,
            endpoint: oos.url,
            credentials,
            params: { regionId: 'cn-hangzhou', maxResults: 10, discover: { templateName: TEMPLATE, ...timing }, concurrency: 4 },
          },
        ],
      }),
    );
    const discovered = async (): Promise<Map<string, Discovered>> => {
      const result = await runCli(['status', '-c', config, '--json']);
      expect(result.code, result.stderr).toBe(0);
      const body = JSON.parse(result.stdout) as { sources: { source: string; checkpoint: { discovered?: Discovered } | null }[] };
      return new Map(body.sources.flatMap((s) => (s.checkpoint?.discovered ? [[s.source, s.checkpoint.discovered] as const] : [])));
    };

    for (const sim of [dataworks, oos]) sim.faults.setRandom(0.05, ['throttle', 'server', 'reset', 'truncated', 'malformed', 'html']);
    const growth = setInterval(grow, 700);
    const workers: WorkerProcess[] = [];
    const sizes: number[] = [];
    let external = 0;
    let atFailpoints = 0;
    const deadline = Date.now() + KILL_PHASE_MS;
    const slot = async (id: number): Promise<void> => {
      for (let round = 0; Date.now() < deadline || external + atFailpoints < MIN_KILLS; round += 1) {
        const failpoint = round % 3 === 2;
        const env: Record<string, string> = failpoint ? { LOG_ARCHIVER_FAILPOINTS: FAILPOINTS.map((p) => `${p}:0.08`).join(',') } : {};
        const worker = new WorkerProcess(`s${id}r${round}${failpoint ? '-failpoint' : ''}`, config, env);
        workers.push(worker);
        if (failpoint) await worker.waitExit(8_000);
        else {
          await worker.firstDrain();
          await sleep(randomBetween(500, 4_000));
        }
        if (worker.alive) {
          await worker.kill();
          external += 1;
        } else if (worker.failpoints.length > 0) atFailpoints += 1;
        else throw new Error(`worker ${worker.label} died on its own (exit ${worker.child.exitCode}):\n${worker.tail()}`);
      }
    };
    const sampler = (async () => {
      while (Date.now() < deadline) {
        await sleep(12_000);
        for (const state of (await discovered()).values()) sizes.push(JSON.stringify(state).length);
      }
    })();
    try {
      await Promise.all([slot(0), slot(1), sampler]);
    } finally {
      clearInterval(growth);
    }
    for (const worker of workers) expect(worker.crashes, `${worker.label}:\n${worker.tail()}`).toEqual([]);

    // Everything ends; one last worker, no faults, nobody kills it: it must finish every stream
    // and retire it.
    dataworks.beforeList = undefined;
    oos.beforeList = undefined;
    for (const sim of [dataworks, oos]) sim.faults.setRandom(0);
    finishAll();
    const final = new WorkerProcess('final', config, {});
    const store = new FileObjectStore({ path: join(dir, 'archive') });
    const expected = new Map([
      ['dq-discovered', dataworks.expectedRecords().map((r) => r.id)],
      ['oos-discovered', oos.expectedRecords().map((r) => r.id)],
    ]);
    const diff = async () => {
      const { envelopes } = await readArchive(store);
      return [...expected].map(([source, ids]) => ({
        source,
        ids: ids.length,
        ...compareIds(
          envelopes.filter((e) => e.source === source),
          ids,
        ),
      }));
    };
    let last = await diff();
    let states = new Map<string, Discovered>();
    const until = Date.now() + 120_000;
    while (Date.now() < until && final.alive) {
      last = await diff();
      if (last.some((d) => d.duplicated.length + d.unexpected.length > 0)) break;
      if (last.every((d) => d.missing.length === 0)) {
        states = await discovered();
        if ([...states.values()].every((s) => Object.keys(s.active).length === 0)) break;
      }
      await sleep(1_000);
    }
    const exitCode = await final.terminate();
    await store.close();
    const verify = await runCli(['verify', '-c', config], {}, 180_000);
    states = await discovered();
    for (const state of states.values()) sizes.push(JSON.stringify(state).length);

    const figures = last.map((d) => `${d.source} ${d.ids} records, ${d.missing.length} missing, ${d.duplicated.length} duplicated`);
    const dq = states.get('dq-discovered');
    const ex = states.get('oos-discovered');
    console.log(
      `chaos discovery: ${runs.started} runs and ${executions.started} executions started over the run; ` +
        `${external + atFailpoints} kills (${atFailpoints} at failpoints, ${external} external); ${figures.join('; ')}; ` +
        `checkpoint discovery state ${Math.min(...sizes)}–${Math.max(...sizes)} bytes over ${sizes.length} samples, ` +
        `at the end ${Object.keys(dq?.active ?? {}).length}+${Object.keys(ex?.active ?? {}).length} active, ` +
        `${dq?.retired.length}+${ex?.retired.length} retired; verify ${verify.code === 0 ? 'ok' : `exit ${verify.code}`}`,
    );
    for (const d of last) {
      expect(d.missing.slice(0, 5), `${d.source} missing`).toEqual([]);
      expect(d.duplicated.slice(0, 5), `${d.source} duplicated`).toEqual([]);
      expect(d.unexpected.slice(0, 5), `${d.source} unexpected`).toEqual([]);
    }
    expect(runs.started).toBeGreaterThan(80);
    expect(executions.started).toBeGreaterThan(80);
    expect(external + atFailpoints).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(atFailpoints).toBeGreaterThan(0);
    expect(exitCode, final.tail()).toBe(0);
    expect(final.crashes).toEqual([]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    // Bounded: nothing active once all is final and read; retired only streams that started
    // within the lookback of the newest listed start, whatever the run brought.
    for (const [source, state, driven] of [
      ['dq-discovered', dq, runs],
      ['oos-discovered', ex, executions],
    ] as const) {
      expect(state, source).toBeDefined();
      expect(state!.active, source).toEqual({});
      const recent = [...driven.startedAt.values()].filter((t) => t >= state!.from - LOOKBACK_SECONDS * 1000).length;
      expect(state!.retired.length, source).toBeLessThanOrEqual(recent);
      expect(state!.retired.length, source).toBeLessThan(driven.started / 4);
    }
    expect(Math.max(...sizes)).toBeLessThan(8_000);
  });
});
