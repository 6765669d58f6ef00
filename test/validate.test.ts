import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OosSimulator } from '../simulators/index.js';
import { BAD_CONFIGS, PLANTED_SECRET } from './helpers/bad-configs.js';
import { runCli } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';

describe('validate', () => {
  let dir: string;
  let sim: OosSimulator;
  let redis: RedisHandle;
  // A listener that counts connections: `validate` without --connect must make none.
  let tripwire: Server;
  let tripwirePort: number;
  let connections = 0;

  beforeAll(async () => {
    dir = makeTempDir('validate');
    sim = new OosSimulator();
    sim.addExecution('exec-1');
    sim.appendLogs('exec-1', ['a']);
    tripwire = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    tripwirePort = await freePort();
    await new Promise<void>((resolve) => tripwire.listen(tripwirePort, '127.0.0.1', resolve));
    [redis] = await Promise.all([startRedis(), sim.start()]);
  });
  afterAll(async () => {
    await sim.stop();
    await redis.stop();
    await new Promise((resolve) => tripwire.close(resolve));
    removeTempDir(dir);
  });

  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const tripwireUrl = (): string => `http://127.0.0.1:${tripwirePort}`;

  it('catches each bad-config case of the config tests (exit 2, every problem by path) without touching the network', async () => {
    for (const [index, bad] of BAD_CONFIGS.entries()) {
      // Every endpoint in the case points at the tripwire.
      const text = bad.text.replaceAll('http://127.0.0.1:1', tripwireUrl());
      const result = await runCli(['validate', '-c', write(`bad-${index}.yaml`, text)]);
      expect(result.code, `${bad.name}: ${result.stderr}`).toBe(2);
      const reported = result.stderr.split('\n').map((line) => line.trim());
      for (const pattern of bad.expected) expect(reported, bad.name).toEqual(expect.arrayContaining([expect.stringMatching(pattern)]));
      for (const line of bad.exact ?? []) expect(reported).toContain(line);
      expect(result.stderr).not.toContain(PLANTED_SECRET);
    }
    expect(connections).toBe(0);
  });

  const good = (sections: Record<string, unknown> = {}, secret?: string): string =>
    JSON.stringify({
      storage: { kind: 'file', path: join(dir, 'archive') },
      checkpoints: { kind: 'file', path: join(dir, 'state') },
      sources: [
        {
          id: 'oos',
          provider: 'aliyun-oos-execution-logs',
          endpoint: sim.url,
          credentials: { ...sim.credentials, ...(secret ? { accessKeySecret: secret } : {}) },
          params: { regionId: 'cn-hangzhou', executionIds: ['exec-1'] },
        },
      ],
      ...sections,
    });

  it('a valid config: exit 0 and a summary, still without a connection', async () => {
    const before = sim.callTimes.length;
    const path = write(
      'good.yaml',
      good({ redis: { url: `redis://user:hunter2@127.0.0.1:${tripwirePort}` }, checkpoints: { kind: 'redis' } }),
    );
    const result = await runCli(['validate', '-c', path]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('valid');
    expect(result.stdout).toMatch(/oos \(aliyun-oos-execution-logs\) every 5m/);
    expect(result.stdout).toContain(`redis://127.0.0.1:${tripwirePort}`);
    expect(result.stdout).not.toContain('hunter2');
    expect(connections).toBe(0);
    expect(sim.callTimes.length).toBe(before);
  });

  it('--connect: 0 when Redis, storage and the source answer; 1 when the provider refuses the credentials; 3 when Redis is down', async () => {
    const ok = await runCli(['validate', '-c', write('connect.yaml', good({ redis: { url: redis.url } })), '--connect']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^ok\s+redis redis:\/\/127\.0\.0\.1:\d+: PING answered$/m);
    expect(ok.stdout).toMatch(/^ok\s+storage file:\/\/.*: listing answered$/m);
    expect(ok.stdout).toMatch(/^ok\s+source oos: .* answered \(1 records on the first page\)$/m);

    const refused = await runCli(['validate', '-c', write('refused.yaml', good({}, 'wrong-secret-value')), '--connect']);
    expect(refused.code, refused.stdout).toBe(1);
    expect(refused.stdout).toMatch(/^FAILED source oos: .*ERR_PROVIDER_AUTH/m);
    expect(refused.stdout + refused.stderr).not.toContain('wrong-secret-value');

    const down = `redis://127.0.0.1:${await freePort()}`;
    const unreachable = await runCli(['validate', '-c', write('down.yaml', good({ redis: { url: down } })), '--connect']);
    expect(unreachable.code, unreachable.stdout).toBe(3);
    expect(unreachable.stdout).toMatch(/^FAILED redis redis:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/m);
    // A check reads; it never writes into the archive.
    expect(existsSync(join(dir, 'archive'))).toBe(false);
  });
});
