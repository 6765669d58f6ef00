import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../helpers/cli.js';
import { World } from './harness.js';

/**
 * Problem 4 of the arbiter issue: a file lease must not be taken from a live holder in another
 * pid namespace (a container, a Kubernetes CronJob sharing the state volume), where its pid means
 * nothing. The holder runs under `unshare --pid --fork` (its own pid namespace, pid 1 inside),
 * kept draining by a provider that answers slowly; run-once on the host tries again and again.
 */
describe('chaos: file leases across pid namespaces', () => {
  let world: World;

  beforeAll(async () => {
    world = await World.open({ storage: 'file', perGrow: 10 });
  });

  afterAll(async () => {
    await world?.close();
  });

  it('a live holder in another pid namespace keeps its lease: every attempt from the host is refused until it stops', async () => {
    const state = join(world.dir, 'shared-state');
    const config = world.config('ns', { fileState: state, leaseTtl: '3s', httpAttempts: 30 });
    world.grow();
    // Every provider call times out (2 s) and is retried: the holder drains for a long while, renewing its lease.
    world.fleet.setFaultRate(1, ['timeout']);
    const holder = spawn(
      'unshare',
      ['--pid', '--fork', '--kill-child', process.execPath, CLI, 'run-once', '-c', config, '--source', 'oos-exec'],
      {
        env: { ...process.env, ...world.env, LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let holderLog = '';
    holder.stdout.on('data', (c: Buffer) => (holderLog += c.toString()));
    holder.stderr.on('data', (c: Buffer) => (holderLog += c.toString()));
    const started = Date.now();
    while (!holderLog.includes('drain started') && Date.now() - started < 15_000) await sleep(100);
    expect(holderLog).toContain('drain started');
    const lock = JSON.parse((await import('node:fs')).readFileSync(join(state, 'leases', 'oos-exec.lock'), 'utf8')) as {
      pid: number;
      pidNamespace: string;
    };
    let refused = 0;
    let taken = 0;
    const attempts = 6;
    for (let i = 0; i < attempts && holder.exitCode === null; i += 1) {
      const run = await world.cli(['run-once', '-c', config, '--source', 'oos-exec']);
      if (run.stdout.includes('another drain holds its lease')) refused += 1;
      else taken += 1;
      // Longer than the TTL between attempts: only renewal keeps the holder's lease.
      await sleep(3_500);
    }
    const stillRunning = holder.exitCode === null;
    holder.kill('SIGKILL');
    await new Promise((resolve) => (holder.exitCode !== null ? resolve(undefined) : holder.once('exit', resolve)));
    world.fleet.setFaultRate(0);
    // The holder is gone: once its lease expires (TTL plus the clock-skew allowance), the host takes over.
    await sleep(6_000);
    const after = await world.cli(['run-once', '-c', config, '--source', 'oos-exec']);
    console.log(
      `chaos file lease namespaces: holder pid ${lock.pid} in ${lock.pidNamespace}, ${refused}/${refused + taken} attempts from the host refused, ` +
        `${taken} taken over while it lived; after it died: ${after.stdout.trim().split('\n').at(-1)}`,
    );
    expect(stillRunning, holderLog.slice(-2000)).toBe(true);
    expect(taken).toBe(0);
    expect(refused).toBeGreaterThanOrEqual(3);
    expect(after.code, after.stderr.slice(-2000)).toBe(0);
    expect(after.stdout).toMatch(/^ok +oos-exec/m);
  });
});
