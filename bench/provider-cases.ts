/**
 * Provider cost cases, in a process of their own: what a drain costs in provider calls and time,
 * not in CPU. Prints a table and, last, one JSON line with the figures.
 *
 *   sddp-backlog    Data Security Center: 5,000 masking runs spread over one week, the source
 *                   starting 11 months earlier, pageSize 100, against the simulator's real quota
 *                   (10 calls/s per AccessKey) through the Redis limiter as the worker builds it,
 *                   and through run-once's in-process one. Target: calls within 10 % of
 *                   ceil(items / pageSize), ≥ 9.5 calls/s sustained, 0 throttled.
 *   streams-20      DataWorks: 20 runs of 10 segments each, 50 ms per call, read with
 *                   params.concurrency 20 and with 1. Target: ≥ 8× faster concurrently.
 *
 *   node dist/bench/provider-cases.js [--quick]
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { HttpClient } from '../src/http/index.js';
import { silentLogger } from '../src/observability/index.js';
import { getProvider, providerContext, readPages } from '../src/providers/index.js';
import type { ProviderServices, SourceSpec } from '../src/providers/provider.js';
import { LocalRateLimiter, RedisRateLimiter, type RateLimiter } from '../src/ratelimit/index.js';
import { RedisKeys } from '../src/redis/index.js';
import { DataWorksSimulator, SddpSimulator } from '../simulators/index.js';
import { freePort } from './free-port.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Figures of one case. */
export interface ProviderCaseFigures {
  name: string;
  records: number;
  calls: number;
  seconds: number;
  callsPerSecond: number;
  throttled?: number;
  /** What the case is measured against, and whether it was met. */
  target: string;
  met: boolean;
}

function services(rateLimiter: RateLimiter, http: HttpClient, now: () => number = Date.now): ProviderServices {
  return {
    http,
    rateLimiter,
    logger: silentLogger(),
    signal: new AbortController().signal,
    retry: { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 2_000, maxElapsedMs: 60_000 },
    now,
  };
}

/** Reads a source to its end as a drain does; returns the records read. */
async function drain(providerId: string, source: SourceSpec<unknown, unknown>, svc: ProviderServices): Promise<number> {
  const provider = getProvider(providerId);
  const params = provider.paramsSchema.parse(source.params);
  const spec = { ...source, params };
  let records = 0;
  for await (const page of readPages(provider, spec, provider.initialCheckpoint(params, svc.now()), providerContext(svc, spec))) {
    records += page.records.length;
  }
  return records;
}

async function sddpBacklog(limiter: RateLimiter, label: string): Promise<ProviderCaseFigures> {
  const items = 5_000;
  const pageSize = 100;
  // No tolerance: more than 10 calls arriving within any 1,000 ms are throttled.
  const sim = new SddpSimulator({ throttleToleranceMs: 0 });
  await sim.start();
  const http = new HttpClient({ timeoutMs: 10_000 });
  try {
    const now = Date.now();
    const start = now - 335 * DAY;
    const weekStart = now - 8 * DAY;
    for (let i = 0; i < items; i += 1) sim.addRun({ StartTime: weekStart + Math.floor((i * 7 * DAY) / items) });
    const source = {
      id: 'bench-sddp',
      provider: 'aliyun-sddp-masking-history',
      endpoint: sim.url,
      credentials: { ...sim.credentials },
      params: { startTime: start, pageSize },
      timeoutMs: 10_000,
    };
    const records = await drain(source.provider, source, services(limiter, http));
    const times = [...sim.callTimes].sort((a, b) => a - b);
    const seconds = (times.at(-1)! - times[0]!) / 1000;
    // Quick calls come in bursts of the quota (10): the rate is over whole bursts, from the first
    // call to the first of the last whole burst ((n - 1) / span would overrate it).
    const whole = Math.floor((times.length - 1) / 10) * 10;
    const callsPerSecond = whole > 0 ? (whole * 1000) / (times[whole]! - times[0]!) : (times.length - 1) / seconds;
    const bound = Math.ceil(items / pageSize);
    const met = records === items && times.length <= Math.ceil(bound * 1.1) && callsPerSecond >= 9.5 && sim.throttled === 0;
    return {
      name: `sddp-backlog (${label})`,
      records,
      calls: times.length,
      seconds,
      callsPerSecond,
      throttled: sim.throttled,
      target: `≤ ${Math.ceil(bound * 1.1)} calls (ceil(${items}/${pageSize}) + 10 %), ≥ 9.5 calls/s, 0 throttled`,
      met,
    };
  } finally {
    await sim.stop();
    await http.close();
  }
}

async function streams(concurrency: number, runs: number, segments: number): Promise<{ seconds: number; records: number; calls: number }> {
  const segmentBytes = 256;
  const sim = new DataWorksSimulator({ segmentBytes, latencyMs: 50 });
  await sim.start();
  const http = new HttpClient({ timeoutMs: 10_000 });
  try {
    const runIds = Array.from({ length: runs }, (_, i) => 20_001 + i);
    const line = `${'x'.repeat(segmentBytes / 4 - 1)}\n`;
    for (const id of runIds) sim.addRun(id, line.repeat(segments * 4 - 1));
    const source = {
      id: `bench-streams-${concurrency}`,
      provider: 'aliyun-dataworks-dq-scan-log',
      endpoint: sim.url,
      credentials: { ...sim.credentials },
      params: { runIds, concurrency },
      timeoutMs: 10_000,
    };
    const started = performance.now();
    const records = await drain(source.provider, source, services(new LocalRateLimiter(), http));
    return { seconds: (performance.now() - started) / 1000, records, calls: sim.callTimes.length };
  } finally {
    await sim.stop();
    await http.close();
  }
}

async function main(): Promise<void> {
  const figures: ProviderCaseFigures[] = [];
  const port = await freePort();
  const redisServer = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 3 });
  // Refused while redis-server starts: the loop below tries again.
  redis.on('error', () => undefined);
  try {
    for (let i = 0; i < 50; i += 1) {
      try {
        await redis.connect();
        break;
      } catch {
        await sleep(100);
      }
    }
    const keys = new RedisKeys(`bench-${Date.now()}`);
    figures.push(await sddpBacklog(new RedisRateLimiter(redis, keys), 'worker limiter'));
    figures.push(await sddpBacklog(new LocalRateLimiter(), 'run-once limiter'));
  } finally {
    redis.disconnect();
    redisServer.kill('SIGTERM');
  }
  const runs = 20;
  const segments = 10;
  const sequential = await streams(1, runs, segments);
  const concurrent = await streams(20, runs, segments);
  const speedup = sequential.seconds / concurrent.seconds;
  for (const [label, r] of [
    ['concurrency 1', sequential],
    ['concurrency 20', concurrent],
  ] as const) {
    figures.push({
      name: `streams-20 (${label})`,
      records: r.records,
      calls: r.calls,
      seconds: r.seconds,
      callsPerSecond: r.calls / r.seconds,
      target: `concurrency 20 ≥ 8× faster than 1 (${speedup.toFixed(1)}×)`,
      met: speedup >= 8 && sequential.records === concurrent.records,
    });
  }
  const rows = figures.map((f) =>
    [
      f.name.padEnd(26),
      String(f.records).padStart(6),
      String(f.calls).padStart(6),
      f.seconds.toFixed(2).padStart(7),
      f.callsPerSecond.toFixed(2).padStart(7),
      String(f.throttled ?? '-').padStart(4),
      `${f.met ? 'met' : 'NOT MET'}: ${f.target}`,
    ].join('  '),
  );
  process.stdout.write(
    `${['provider case                records  calls       s  calls/s  thr  target', ...rows].join('\n')}\n${JSON.stringify({ providerCases: figures })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`provider-cases: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
