import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../src/commands/exit-codes.js';
import { DataWorksSimulator } from '../simulators/index.js';
import { exited } from './helpers/children.js';
import { CLI, runCli, startCli } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

/**
 * One table of exit codes, the same in every command: each code each command can give is
 * produced here by the built CLI, the way an operator would meet it.
 */
describe('exit codes', () => {
  let dir: string;
  let sim: DataWorksSimulator;
  let slow: DataWorksSimulator;
  let deadPort: number;

  beforeAll(async () => {
    dir = makeTempDir('exit-codes');
    sim = new DataWorksSimulator();
    sim.addRun(7, 'one\ntwo\nthree\n');
    // Small slow segments: a drain takes seconds, long enough to signal it or to collide with it.
    slow = new DataWorksSimulator({ segmentBytes: 1024, latencyMs: 20 });
    let text = '';
    for (let i = 0; i < 3000; i += 1) text += `${i} rule passed ${'x'.repeat(i % 40)}\n`;
    slow.addRun(8, text);
    await Promise.all([sim.start(), slow.start()]);
    deadPort = await freePort();
  });

  afterAll(async () => {
    await Promise.all([sim.stop(), slow.stop()]);
    removeTempDir(dir);
  });

  const source = (s: DataWorksSimulator, runId: number, secret?: string) => ({
    id: `dq-${runId}`,
    provider: 'aliyun-dataworks-dq-scan-log',
    endpoint: s.url,
    credentials: { ...s.credentials, ...(secret ? { accessKeySecret: secret } : {}) },
    params: { runIds: [runId] },
  });

  function config(name: string, sections: Record<string, unknown>): string {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(
      path,
      JSON.stringify({
        storage: { kind: 'file', path: join(dir, `${name}-archive`) },
        checkpoints: { kind: 'file', path: join(dir, `${name}-state`) },
        batch: { maxRecords: 300 },
        sources: [source(sim, 7)],
        ...sections,
      }),
    );
    return path;
  }

  const badConfig = (): string => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'storage: { kind: s3 }\nsources: []\n');
    return path;
  };
  const deadRedis = () => ({ redis: { url: `redis://archiver:pa55w0rd@127.0.0.1:${deadPort}/0` }, checkpoints: { kind: 'redis' } });

  it('documents each code once, in the same words, in README.md and docs/operations.md', () => {
    expect(EXIT_CODES.map((e) => e.code)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const doc of ['README.md', 'docs/operations.md']) {
      const text = readFileSync(join(import.meta.dirname, '..', doc), 'utf8');
      for (const { code, meaning } of EXIT_CODES) expect(text, `${doc}: exit ${code}`).toContain(`| ${code} | ${meaning} |`);
    }
  });

  it('usage and config errors exit 2 in every command, listing the problems', async () => {
    for (const command of ['worker', 'run-once', 'status', 'verify']) {
      const result = await runCli([command, '-c', badConfig()]);
      expect(result.code, `${command}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toContain('storage.bucket: required');
      // An auditor's verify needs no sources (it finds them in storage): DESIGN.md, "Auditor's verify".
      if (command !== 'verify') expect(result.stderr).toContain('sources: expected at least one source');
    }
    expect((await runCli(['run-once'])).code).toBe(2);
    expect((await runCli(['status', '-c', join(dir, 'missing.yaml')])).code).toBe(2);
    expect((await runCli(['run-once', '-c', config('usage', {}), '--source', 'nope'])).code).toBe(2);
    expect((await runCli(['frobnicate'])).code).toBe(2);
    // The test directory holds other files: demo refuses to start over in it.
    const demo = await runCli(['demo', '--dir', dir]);
    expect(demo.code, demo.stderr).toBe(2);
    expect(demo.stderr).toContain('is not a demo archive');
  });

  it('a bad LOG_LEVEL is a usage error (exit 2) with the levels to choose from, not a stack trace', async () => {
    for (const command of [['run-once', '-c', config('level', {})], ['status', '-c', config('level', {})], ['demo']]) {
      const result = await runCli(command, { LOG_LEVEL: 'verbose' });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain('LOG_LEVEL="verbose" is not a log level; expected one of fatal, error, warn, info');
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('run-once: 0 all ok, 1 a source failed (an unreachable provider too), 3 Redis unreachable', async () => {
    const ok = await runCli(['run-once', '-c', config('ok', {})]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/ok\s+dq-7: 3 records in 1 objects/);

    const failed = await runCli([
      'run-once',
      '-c',
      config('failed', { sources: [source(sim, 7), source(sim, 7, 'wrong')].map((s, i) => ({ ...s, id: `s${i}` })) }),
    ]);
    expect(failed.code, failed.stdout).toBe(1);
    expect(failed.stdout).toMatch(/ok\s+s0: 3 records/);
    expect(failed.stdout).toMatch(/FAILED\s+s1: /);
    const offline = { ...source(sim, 7), endpoint: `http://127.0.0.1:${deadPort}` };
    const providerDown = await runCli(['run-once', '-c', config('provider-down', { sources: [offline], http: { maxAttempts: 1 } })]);
    expect(providerDown.code, providerDown.stdout).toBe(1);

    const unreachable = await runCli(['run-once', '-c', config('no-redis', deadRedis())]);
    expect(unreachable.code, unreachable.stderr).toBe(3);
    expect(unreachable.stderr).toContain(`cannot reach redis at redis://127.0.0.1:${deadPort}/0`);
    expect(unreachable.stderr).not.toContain('pa55w0rd');
  });

  it('run-once: 4 when another drain holds the lease, never 0', async () => {
    const path = config('busy', { sources: [source(slow, 8)] });
    const first = startCli(['run-once', '-c', path], { LOG_LEVEL: 'info' });
    try {
      const deadline = Date.now() + 20_000;
      while (!first.output().includes('drain started') && Date.now() < deadline) await sleep(50);
      const second = await runCli(['run-once', '-c', path]);
      expect(second.code, second.stdout + second.stderr).toBe(4);
      expect(second.stdout).toMatch(/skipped dq-8: another drain holds its lease; nothing archived/);
    } finally {
      await exited(first.child);
    }
    expect(first.child.exitCode).toBe(0);
  });

  it('status: 0, and 3 when Redis is unreachable', async () => {
    const ok = await runCli(['status', '-c', config('ok', {})]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/schedule:\s+every 5m, next run \d{4}-/);
    expect(ok.stdout).toMatch(/last success: \d{4}-.* ago\)/);
    expect(ok.stdout).toMatch(/last object:\s+dq-7\/\d{4}\/\d\d\/\d\d\/.*\.ndjson\.gz/);
    const json = JSON.parse((await runCli(['status', '-c', config('ok', {}), '--json'])).stdout) as {
      sources: { schedule: string; nextRunAt: string; lagSeconds: number; lastObject: string }[];
    };
    expect(json.sources[0]).toMatchObject({
      schedule: 'every 5m',
      lagSeconds: expect.any(Number),
      lastObject: expect.stringMatching(/\.ndjson\.gz$/),
    });

    const unreachable = await runCli(['status', '-c', config('no-redis', deadRedis())]);
    expect(unreachable.code, unreachable.stderr).toBe(3);
    expect(unreachable.stderr).toContain('cannot reach redis');
  });

  it('verify: 0 intact, 1 damage named, 3 storage unreachable (an outage is never damage)', async () => {
    const path = config('verify', {});
    expect((await runCli(['run-once', '-c', path])).code).toBe(0);
    const intact = await runCli(['verify', '-c', path]);
    expect(intact.code, intact.stdout).toBe(0);

    const day = join(dir, 'verify-archive', 'dq-7');
    const object = (readdirSync(day, { recursive: true }) as string[]).find((f) => f.endsWith('.ndjson.gz'))!;
    writeFileSync(join(day, object), 'not gzip');
    const damaged = await runCli(['verify', '-c', path]);
    expect(damaged.code, damaged.stdout).toBe(1);
    expect(damaged.stdout).toContain('DAMAGE');

    const s3 = config('verify-s3', {
      storage: {
        kind: 's3',
        bucket: 'archive-bucket',
        region: 'us-east-1',
        endpoint: `http://127.0.0.1:${deadPort}`,
        forcePathStyle: true,
      },
    });
    const unreachable = await runCli(['verify', '-c', s3], { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_MAX_ATTEMPTS: '1' });
    expect(unreachable.code, unreachable.stdout + unreachable.stderr).toBe(3);
    expect(unreachable.stdout).not.toContain('DAMAGE');
  });

  it('verify | head -1: the closed pipe ends nothing badly (no EPIPE crash), and the exit code is still the verdict', async () => {
    const path = config('epipe', { sources: Array.from({ length: 12 }, (_, i) => ({ ...source(sim, 7), id: `p${i}` })) });
    expect((await runCli(['run-once', '-c', path, '--quiet'])).code).toBe(0);
    const day = join(dir, 'epipe-archive', 'p3');
    const object = (readdirSync(day, { recursive: true }) as string[]).find((f) => f.endsWith('.ndjson.gz'))!;
    writeFileSync(join(day, object), 'altered');
    const child = spawn(process.execPath, [CLI, 'verify', '-c', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // The reader is gone before verify prints its report, as when `head -1` has had its line.
    child.stdout.destroy();
    await exited(child);
    expect(child.exitCode, stderr).toBe(1);
    expect(stderr).not.toContain('EPIPE');
  });

  it('worker: 3 naming the Redis URL without credentials when Redis is down (0 on SIGTERM: shutdown.e2e)', async () => {
    const down = await runCli(['worker', '-c', config('worker-down', deadRedis())]);
    expect(down.code, down.stderr).toBe(3);
    expect(down.stderr).toContain(`cannot reach redis at redis://127.0.0.1:${deadPort}/0: connect ECONNREFUSED`);
    expect(down.stderr).not.toContain('pa55w0rd');
    expect(down.stderr).not.toContain('Connection is closed.');
  });
});
