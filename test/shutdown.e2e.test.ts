import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataWorksSimulator } from '../simulators/index.js';
import { FileObjectStore } from '../src/storage/index.js';
import { verifyArchive } from '../src/archive/index.js';
import { exited } from './helpers/children.js';
import { runCli, startCli } from './helpers/cli.js';
import { compareIds, readArchive } from './helpers/read-archive.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';

describe('graceful shutdown', () => {
  let redis: RedisHandle;
  let sim: DataWorksSimulator;
  let dir: string;

  beforeAll(async () => {
    redis = await startRedis();
    // Slow, small segments: a drain takes seconds, so SIGTERM lands in the middle of one.
    sim = new DataWorksSimulator({ segmentBytes: 2048, latencyMs: 15 });
    let text = '';
    for (let i = 0; i < 6000; i += 1) text += `${i} check rule ${'r'.repeat(i % 50)} 通过\n`;
    sim.addRun(42, text);
    await sim.start();
    dir = makeTempDir('shutdown');
  });

  afterAll(async () => {
    await sim.stop();
    await redis.stop();
    removeTempDir(dir);
  });

  const config = (kind: 'redis' | 'file'): string => {
    const path = join(dir, `${kind}.yaml`);
    writeFileSync(
      path,
      JSON.stringify({
        redis: { url: redis.url, prefix: `sd-${kind}` },
        storage: { kind: 'file', path: join(dir, kind) },
        checkpoints: { kind, path: join(dir, `${kind}-state`) },
        batch: { maxRecords: 400 },
        worker: { shutdownTimeout: '10s' },
        sources: [
          {
            id: 'dq',
            provider: 'aliyun-dataworks-dq-scan-log',
            endpoint: sim.url,
            schedule: { every: '1s' },
            credentials: { ...sim.credentials },
            params: { runIds: [42] },
          },
        ],
      }),
    );
    return path;
  };

  async function expectComplete(kind: 'redis' | 'file'): Promise<void> {
    const store = new FileObjectStore({ path: join(dir, kind) });
    const { envelopes } = await readArchive(store);
    expect(
      compareIds(
        envelopes,
        sim.expectedRecords().map((r) => r.id),
      ),
    ).toEqual({ missing: [], duplicated: [], unexpected: [] });
    expect((await verifyArchive(store)).problems).toEqual([]);
  }

  /** A clean stop is no failure: nothing logged at error level, and `status` shows a success and no error. */
  async function expectCleanStop(path: string, output: string): Promise<void> {
    expect(output).not.toMatch(/"level":(50|60)/);
    const status = await runCli(['status', '-c', path, '--json']);
    expect(status.code, status.stderr).toBe(0);
    const [row] = (
      JSON.parse(status.stdout) as { sources: { lastSuccessAt: string | null; lastError: unknown; recordsArchived: number }[] }
    ).sources;
    expect(row!.lastSuccessAt).not.toBeNull();
    expect(row!.lastError).toBeNull();
    expect(row!.recordsArchived).toBeGreaterThan(0);
  }

  it('worker: SIGTERM mid-drain commits the batch in hand, exits 0, and the next start resumes exactly', async () => {
    const path = config('redis');
    const worker = startCli(['worker', '-c', path], { LOG_LEVEL: 'info' });
    const deadline = Date.now() + 20_000;
    while (!worker.output().includes('object committed') && Date.now() < deadline) await sleep(50);
    expect(worker.output()).toContain('object committed');
    const signalled = Date.now();
    worker.child.kill('SIGTERM');
    await exited(worker.child);
    expect(worker.child.exitCode, worker.output().slice(-2000)).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    const partial = (await readArchive(new FileObjectStore({ path: join(dir, 'redis') }))).envelopes.length;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(6000);
    await expectCleanStop(path, worker.output());

    const done = await runCli(['run-once', '-c', path]);
    expect(done.code, done.stderr).toBe(0);
    await expectComplete('redis');
  });

  it('worker: SIGTERM while it is still starting is an orderly stop too (exit 0, no drain started)', async () => {
    // Redis reached through a proxy that holds each connection for 1.5 s: the worker is inside its
    // start (connecting) when the first connection arrives, and SIGTERM lands then.
    let connections = 0;
    const proxy: Server = createServer((socket) => {
      connections += 1;
      setTimeout(() => {
        const upstream = connect(redis.port, '127.0.0.1');
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      }, 1_500);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const path = config('redis').replace(/redis\.yaml$/, 'starting.yaml');
      const port = (proxy.address() as { port: number }).port;
      writeFileSync(
        path,
        JSON.stringify({
          ...JSON.parse(readFileSync(config('redis'), 'utf8')),
          redis: { url: `redis://127.0.0.1:${port}`, prefix: 'sd-starting' },
          storage: { kind: 'file', path: join(dir, 'starting') },
          checkpoints: { kind: 'redis' },
        }),
      );
      const worker = startCli(['worker', '-c', path], { LOG_LEVEL: 'info' });
      const deadline = Date.now() + 20_000;
      while (connections === 0 && Date.now() < deadline) await sleep(20);
      expect(connections).toBeGreaterThan(0);
      worker.child.kill('SIGTERM');
      await exited(worker.child);
      expect(worker.child.signalCode, worker.output().slice(-2000)).toBeNull();
      expect(worker.child.exitCode, worker.output().slice(-2000)).toBe(0);
      expect(worker.output()).toContain('worker stopped');
      expect(worker.output()).not.toContain('worker started');
      expect(worker.output()).not.toContain('object committed');
    } finally {
      proxy.close();
    }
  });

  it('run-once: SIGTERM mid-drain exits cleanly and the next run resumes exactly', async () => {
    const path = config('file');
    const run = startCli(['run-once', '-c', path], { LOG_LEVEL: 'info' });
    const deadline = Date.now() + 20_000;
    while (!run.output().includes('object committed') && Date.now() < deadline) await sleep(50);
    run.child.kill('SIGTERM');
    await exited(run.child);
    // Stopped, not failed: an exit code of its own, and the output says so.
    expect(run.child.exitCode, run.output().slice(-2000)).toBe(5);
    expect(run.output()).toMatch(/stopped dq: by a signal; \d+ records in [1-9]\d* objects committed/);
    await expectCleanStop(path, run.output());
    const again = await runCli(['run-once', '-c', path]);
    expect(again.code, again.stderr).toBe(0);
    await expectComplete('file');
  });
});
