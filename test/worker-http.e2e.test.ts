import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OosSimulator } from '../simulators/index.js';
import { exited } from './helpers/children.js';
import { runCli, startCli } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';

const AUTH = { username: 'ops', password: 'dashboard-pass-Zq9' };

/** Polls `url` until `accept` passes; returns the last response body for the failure message. */
async function poll(
  url: string,
  accept: (status: number, body: string) => boolean,
  timeoutMs = 20_000,
  init?: RequestInit,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, init);
      const body = await response.text();
      if (accept(response.status, body)) return body;
      last = `${response.status} ${body}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`${url}: ${last}`);
}

describe('worker HTTP: metrics from the first scrape, health, readiness, dashboard', () => {
  let redis: RedisHandle;
  let sim: OosSimulator;
  let dir: string;

  beforeAll(async () => {
    [redis] = await Promise.all([startRedis()]);
    sim = new OosSimulator();
    sim.addExecution('exec-1');
    sim.appendLogs('exec-1', ['a', 'b', 'c']);
    await sim.start();
    dir = makeTempDir('worker-http');
  });
  afterAll(async () => {
    await sim.stop();
    await redis.stop();
    removeTempDir(dir);
  });

  it('serves per-source lag, last success and last error before it drains anything; /readyz turns 503 when Redis goes', async () => {
    const port = await freePort();
    const path = join(dir, 'config.yaml');
    const source = (id: string, secret?: string) => ({
      id,
      provider: 'aliyun-oos-execution-logs',
      endpoint: sim.url,
      // Once a year: the worker drains nothing during the test, so what it shows comes from the store.
      schedule: { cron: '0 0 1 1 *' },
      credentials: { ...sim.credentials, ...(secret ? { accessKeySecret: secret } : {}) },
      params: { regionId: 'cn-hangzhou', executionIds: ['exec-1'] },
    });
    writeFileSync(
      path,
      JSON.stringify({
        redis: { url: redis.url, prefix: 'http-test' },
        storage: { kind: 'file', path: join(dir, 'archive') },
        worker: { metricsPort: port, dashboard: { basicAuth: AUTH } },
        sources: [source('oos-good'), source('oos-bad', 'wrong-secret')],
      }),
    );
    // An earlier cron run left a success and a failure in the (Redis) run status.
    expect((await runCli(['run-once', '-c', path])).code).toBe(1);
    const started = Date.now() / 1000;
    const worker = startCli(['worker', '-c', path]);
    try {
      const base = `http://127.0.0.1:${port}`;
      const metrics = await poll(`${base}/metrics`, (status) => status === 200);
      const value = (name: string, source: string): number =>
        Number(new RegExp(`^${name}\\{source="${source}"\\} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN);
      expect(value('log_archiver_last_success_timestamp_seconds', 'oos-good')).toBeGreaterThan(started - 120);
      expect(value('log_archiver_last_success_timestamp_seconds', 'oos-bad')).toBe(0);
      expect(value('log_archiver_last_error_timestamp_seconds', 'oos-bad')).toBeGreaterThan(started - 120);
      expect(value('log_archiver_source_failing', 'oos-bad')).toBe(1);
      expect(value('log_archiver_source_failing', 'oos-good')).toBe(0);
      expect(value('log_archiver_source_lag_seconds', 'oos-good')).toBeLessThan(120);
      expect(metrics).toMatch(/^log_archiver_last_error_info\{source="oos-bad",code="ERR_PROVIDER_AUTH"\} 1$/m);
      expect(metrics).toMatch(/^log_archiver_drains_total\{source="oos-good",outcome="failed"\} 0$/m);

      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const ready = JSON.parse(await poll(`${base}/readyz`, (status) => status === 200)) as {
        ready: boolean;
        checks: Record<string, { ok: boolean }>;
      };
      expect(ready.ready).toBe(true);
      expect(Object.keys(ready.checks).sort()).toEqual(['redis', 'schedulers', 'storage']);

      // The dashboard: basic auth, read-only, the drain queue listed.
      expect((await fetch(`${base}/dashboard`)).status).toBe(401);
      const authorization = `Basic ${Buffer.from(`${AUTH.username}:wrong`).toString('base64')}`;
      expect((await fetch(`${base}/dashboard`, { headers: { authorization } })).status).toBe(401);
      const headers = { authorization: `Basic ${Buffer.from(`${AUTH.username}:${AUTH.password}`).toString('base64')}` };
      const page = await fetch(`${base}/dashboard`, { headers });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>');
      const queues = (await (await fetch(`${base}/dashboard/api/queues`, { headers })).json()) as {
        queues: { name: string; readOnlyMode: boolean }[];
      };
      expect(queues.queues.map((q) => [q.name, q.readOnlyMode])).toEqual([['drain', true]]);
      expect((await fetch(`${base}/nope`)).status).toBe(404);

      await redis.kill();
      const down = JSON.parse(await poll(`${base}/readyz`, (status) => status === 503)) as { checks: Record<string, { ok: boolean }> };
      expect(down.checks.redis!.ok).toBe(false);
      expect(down.checks.storage!.ok).toBe(true);
      // Alive all the same: a restart would not bring Redis back.
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      await redis.restart();
      await poll(`${base}/readyz`, (status) => status === 200);
    } finally {
      worker.child.kill('SIGTERM');
      await exited(worker.child);
    }
    expect(worker.child.exitCode, worker.output().slice(-2000)).toBe(0);
    expect(worker.output()).not.toContain(AUTH.password);
  });
});
