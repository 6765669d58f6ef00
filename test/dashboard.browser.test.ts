import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OosSimulator } from '../simulators/index.js';
import { exited } from './helpers/children.js';
import { startCli } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';

/** Debian's chromium; `.ci/run` installs it (playwright's own browser download cannot work here). */
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
/** Kept as a test artefact (not committed): what an operator sees. */
const SCREENSHOTS = join(import.meta.dirname, '..', '.tmp', 'screenshots');
// Without the background-networking flags Chromium keeps dialling out, and this network refuses it.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('the worker dashboard in a browser', () => {
  let redis: RedisHandle;
  let sim: OosSimulator;
  let dir: string;

  beforeAll(async () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install --no-install-recommends chromium`).toBe(true);
    redis = await startRedis();
    sim = new OosSimulator();
    sim.addExecution('exec-1');
    sim.appendLogs('exec-1', ['a', 'b']);
    await sim.start();
    dir = makeTempDir('dashboard');
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await sim.stop();
    await redis.stop();
    removeTempDir(dir);
  });

  it("loads behind basic auth, lists the drain queue, and shows a source's jobs", async () => {
    const port = await freePort();
    const path = join(dir, 'config.yaml');
    writeFileSync(
      path,
      JSON.stringify({
        redis: { url: redis.url, prefix: 'board' },
        storage: { kind: 'file', path: join(dir, 'archive') },
        worker: { metricsPort: port, dashboard: { basicAuth: { username: 'ops', password: 'board-pass' } } },
        sources: [
          {
            id: 'oos-exec',
            provider: 'aliyun-oos-execution-logs',
            endpoint: sim.url,
            schedule: { every: '1s' },
            credentials: sim.credentials,
            params: { regionId: 'cn-hangzhou', executionIds: ['exec-1'] },
          },
        ],
      }),
    );
    const worker = startCli(['worker', '-c', path], { LOG_LEVEL: 'info' });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
    try {
      const deadline = Date.now() + 20_000;
      while (!worker.output().includes('"status":"ok"') && !worker.output().includes('object committed') && Date.now() < deadline)
        await sleep(100);
      const context = await browser.newContext({
        httpCredentials: { username: 'ops', password: 'board-pass' },
        viewport: { width: 1280, height: 800 },
      });
      const page = await context.newPage();
      const response = await page.goto(`http://127.0.0.1:${port}/dashboard`);
      expect(response?.status()).toBe(200);
      await page.getByText('drain', { exact: true }).first().waitFor({ timeout: 15_000 });
      await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-overview.png'), fullPage: true });

      await page.goto(`http://127.0.0.1:${port}/dashboard/queue/drain?status=completed`);
      // Scheduled drain jobs are named after their scheduler: source:<id>.
      await page
        .getByText(/source:oos-exec/)
        .first()
        .waitFor({ timeout: 15_000 });
      const shot = join(SCREENSHOTS, 'dashboard-queue.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);
      // Read-only: no buttons that change the queue.
      expect(await page.getByRole('button', { name: /clean|retry|promote|add job/i }).count()).toBe(0);
      // Without the password (a browser would prompt).
      expect((await fetch(`http://127.0.0.1:${port}/dashboard`)).status).toBe(401);
    } finally {
      await browser.close();
      worker.child.kill('SIGTERM');
      await exited(worker.child);
    }
    expect(worker.child.exitCode).toBe(0);
  });
});
