/**
 * The scheduler case of `npm run bench` (`--only schedulers`): one worker process with 10,000
 * sources on one redis-server. It reports how long the worker takes to start on an empty Redis
 * (every job scheduler created) and on a Redis that already holds them (the digest matches:
 * nothing written), then the idle CPU of the worker and of redis-server over a window in which no
 * source is due, from /proc, with the number of commands Redis ran meanwhile.
 *
 * Every source has a daily cron schedule whose time is at least two hours away, so the window
 * measures what scheduling itself costs; a source that is due costs its drain on top.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { processCpuSeconds, processPeakRss } from './proc.js';
import { freePort } from './free-port.js';

const here = dirname(fileURLToPath(import.meta.url));
const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';
/** Idle CPU of the worker and redis-server together, in cores, that the case aims below. */
export const SCHEDULER_IDLE_GOAL = 0.05;

export interface SchedulerCaseOptions {
  sources: number;
  idleSeconds: number;
}

export interface SchedulerFigures {
  sources: number;
  /** Spawn to "worker started" on an empty Redis: config load, connections, every scheduler created. */
  coldStartMs: number;
  /** redis-server CPU seconds while the cold start created the schedulers. */
  coldStartRedisCpuSec: number;
  /** Spawn to "worker started" with the schedulers and their digest already in Redis. */
  warmStartMs: number;
  warmStartRedisCpuSec: number;
  schedulersInRedis: number;
  idleSeconds: number;
  /** CPU seconds per wall second over the idle window (1.0 = one core busy). */
  workerIdleCores: number;
  redisIdleCores: number;
  totalIdleCores: number;
  /** Commands redis-server ran per second over the idle window, every client's. */
  redisCommandsPerSec: number;
  workerPeakRssBytes: number | undefined;
  ok: boolean;
}

/** Runs the case in a temp dir, always stopping what it started. */
export async function runSchedulerCase(options: SchedulerCaseOptions): Promise<SchedulerFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'log-archiver-bench-schedulers-'));
  const children: ChildProcess[] = [];
  try {
    const port = await freePort();
    const redis = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'],
      { stdio: 'ignore' },
    );
    children.push(redis);
    await waitForPort(port);
    const configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, configYaml(`redis://127.0.0.1:${port}`, join(dir, 'archive'), options.sources));

    const start = async (): Promise<{ worker: Worker; ms: number; redisCpuSec: number }> => {
      const redisCpu0 = processCpuSeconds(redis.pid) ?? 0;
      const started = performance.now();
      const worker = startWorker(configPath, dir);
      children.push(worker.child);
      await worker.started;
      return { worker, ms: performance.now() - started, redisCpuSec: (processCpuSeconds(redis.pid) ?? 0) - redisCpu0 };
    };
    const cold = await start();
    await cold.worker.stop();
    const warm = await start();
    const schedulersInRedis = Number(await redisCommand(port, ['ZCARD', '{bench-schedulers}:drain:repeat']));

    // Let start-up settle (connections, first blocking reads), then measure a quiet window.
    await sleep(2_000);
    const commands0 = await totalCommands(port);
    const worker0 = processCpuSeconds(warm.worker.child.pid) ?? 0;
    const redis0 = processCpuSeconds(redis.pid) ?? 0;
    const t0 = performance.now();
    await sleep(options.idleSeconds * 1000);
    const wall = (performance.now() - t0) / 1000;
    const workerCores = ((processCpuSeconds(warm.worker.child.pid) ?? 0) - worker0) / wall;
    const redisCores = ((processCpuSeconds(redis.pid) ?? 0) - redis0) / wall;
    // The INFO call itself is one command: not the worker's.
    const commandsPerSec = ((await totalCommands(port)) - commands0 - 1) / wall;
    const workerPeakRssBytes = processPeakRss(warm.worker.child.pid);
    await warm.worker.stop();
    const total = workerCores + redisCores;
    return {
      sources: options.sources,
      coldStartMs: cold.ms,
      coldStartRedisCpuSec: cold.redisCpuSec,
      warmStartMs: warm.ms,
      warmStartRedisCpuSec: warm.redisCpuSec,
      schedulersInRedis,
      idleSeconds: wall,
      workerIdleCores: workerCores,
      redisIdleCores: redisCores,
      totalIdleCores: total,
      redisCommandsPerSec: commandsPerSec,
      workerPeakRssBytes,
      ok: schedulersInRedis === options.sources && warm.worker.output().includes('job schedulers brought in line') === false,
    };
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 10,000 sources of one provider, each due once a day at a time two or more hours from now. */
function configYaml(redisUrl: string, archive: string, count: number): string {
  const hour = new Date().getHours();
  const lines = [
    `redis: { url: "${redisUrl}", prefix: bench-schedulers }`,
    `storage: { kind: file, path: "${archive}" }`,
    'worker: { concurrency: 2 }',
    'sources:',
  ];
  for (let i = 0; i < count; i += 1) {
    const cron = `${i % 60} ${(hour + 2 + (i % 20)) % 24} * * *`;
    lines.push(
      `  - id: oos-${String(i).padStart(5, '0')}`,
      '    provider: aliyun-oos-execution-logs',
      '    endpoint: http://127.0.0.1:9',
      '    credentials: { accessKeyId: LTAIbench, accessKeySecret: bench-secret }',
      `    schedule: { cron: "${cron}" }`,
      `    params: { regionId: cn-hangzhou, executionIds: [exec-${i}] }`,
    );
  }
  return `${lines.join('\n')}\n`;
}

interface Worker {
  child: ChildProcess;
  started: Promise<void>;
  output(): string;
  stop(): Promise<void>;
}

function startWorker(configPath: string, cwd: string): Worker {
  const child = spawn(process.execPath, [join(here, 'schedulers-worker.js'), 'worker', '-c', configPath], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'info' },
  });
  let text = '';
  const started = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      if (text.length < 200_000) text += chunk.toString('utf8');
      if (text.includes('"worker started"')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it started: ${text.slice(-2000)}`)));
  });
  return {
    child,
    started,
    output: () => text,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function totalCommands(port: number): Promise<number> {
  const info = await redisCommand(port, ['INFO', 'stats']);
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN);
}

/** One command over RESP on a fresh socket; the reply as text (bulk string or integer). */
async function redisCommand(port: number, args: string[]): Promise<string> {
  const request = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return await new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.on('error', reject);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      const kind = reply[0];
      if ((kind === ':' || kind === '+') && reply.endsWith('\r\n')) done(reply.slice(1, -2));
      if (kind === '-' && reply.endsWith('\r\n')) fail(reply.slice(1, -2));
      if (kind === '$') {
        const header = reply.indexOf('\r\n');
        const length = Number(reply.slice(1, header));
        if (Buffer.byteLength(reply) >= header + 2 + length + 2) done(reply.slice(header + 2, header + 2 + length));
      }
    });
    function done(text: string): void {
      socket.destroy();
      resolve(text);
    }
    function fail(text: string): void {
      socket.destroy();
      reject(new Error(`redis: ${text}`));
    }
  });
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      if ((await redisCommand(port, ['PING'])) === 'PONG') return;
    } catch {
      await sleep(25);
    }
  }
  throw new Error(`redis-server did not answer on port ${port}`);
}
