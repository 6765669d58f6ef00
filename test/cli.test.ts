import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OosSimulator } from '../simulators/index.js';
import { SimulatorFleet } from '../simulators/index.js';
import { runCli } from './helpers/cli.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const WRONG_SECRET = 'wrong-secret-Qx7-must-not-print';

describe('log-archiver command line', () => {
  let dir: string;
  let fleet: SimulatorFleet;
  let lonely: OosSimulator;

  beforeAll(async () => {
    dir = makeTempDir('cli');
    fleet = new SimulatorFleet({ perGrow: 25, sddpWindowSeconds: 1 });
    lonely = new OosSimulator();
    lonely.addExecution('exec-x');
    lonely.appendLogs('exec-x', ['one', 'two']);
    await Promise.all([fleet.start(), lonely.start()]);
  });

  afterAll(async () => {
    await Promise.all([fleet.stop(), lonely.stop()]);
    removeTempDir(dir);
  });

  it('exits 2 on an invalid config, listing every problem by path and no secret', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(
      path,
      `storage: { kind: s3 }\nsources:\n  - id: x\n    provider: aliyun-oos-execution-logs\n    credentials: { accessKeyId: AKID, accessKeySecret: "\${SECRET_ENV}" }\n    params: { executionIds: "${WRONG_SECRET}" }\n`,
    );
    const result = await runCli(['run-once', '-c', path], { SECRET_ENV: WRONG_SECRET });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('storage.bucket: required');
    expect(result.stderr).toContain('storage.region: required');
    expect(result.stderr).toMatch(/sources\[0\]\.params\.executionIds: /);
    expect(result.stderr).toMatch(/sources\[0\]\.params\.regionId: required/);
    expect(result.stdout + result.stderr).not.toContain(WRONG_SECRET);
    for (const command of ['status', 'verify', 'worker']) {
      expect((await runCli([command, '-c', path], { SECRET_ENV: WRONG_SECRET })).code).toBe(2);
    }
    expect((await runCli(['run-once', '-c', join(dir, 'missing.yaml')])).code).toBe(2);
    expect((await runCli(['no-such-command'])).code).toBe(2);
  });

  it('run-once archives with file checkpoints and no Redis; a wrong secret fails its source alone, not retried, exit 1', async () => {
    fleet.grow();
    await new Promise((r) => setTimeout(r, Math.max(0, fleet.sddpSettledAt() - Date.now())));
    fleet.settle();
    const sources = [
      ...fleet.sources(),
      {
        id: 'oos-wrong-key',
        provider: 'aliyun-oos-execution-logs',
        endpoint: lonely.url,
        credentials: { accessKeyId: lonely.credentials.accessKeyId, accessKeySecret: WRONG_SECRET },
        params: { regionId: 'cn-hangzhou', executionIds: ['exec-x'] },
      },
    ];
    const path = join(dir, 'config.yaml');
    writeFileSync(
      path,
      JSON.stringify({
        storage: { kind: 'file', path: join(dir, 'archive') },
        checkpoints: { kind: 'file', path: join(dir, 'state') },
        sources,
      }),
    );
    const env = { REDIS_URL: '' };
    const first = await runCli(['run-once', '-c', path], env);
    expect(first.code, first.stderr).toBe(1);
    expect(first.stdout).toMatch(/FAILED\s+oos-wrong-key: .*SignatureDoesNotMatch/);
    for (const source of fleet.sources()) expect(first.stdout).toMatch(new RegExp(`ok\\s+${source.id}: \\d+ records`));
    expect(lonely.callTimes.length).toBe(1);
    expect(first.stdout + first.stderr).not.toContain(WRONG_SECRET);

    const only = await runCli(['run-once', '-c', path, '--source', 'dq-scan-log', 'oos-exec'], env);
    expect(only.code).toBe(0);
    expect(only.stdout).toMatch(/ok\s+dq-scan-log: 0 records/);
    expect(only.stdout).not.toContain('masking-history');
    expect((await runCli(['run-once', '-c', path, '--source', 'nope'], env)).code).toBe(2);

    const status = await runCli(['status', '-c', path, '--json'], env);
    expect(status.code).toBe(0);
    const rows = (
      JSON.parse(status.stdout) as {
        sources: { source: string; recordsArchived: number; lastError: { code: string } | null; lastSuccessAt: string | null }[];
      }
    ).sources;
    const expected = fleet.expectedIds();
    for (const row of rows.filter((r) => r.source !== 'oos-wrong-key')) {
      expect(row.recordsArchived, row.source).toBe(expected.get(row.source)!.length);
      expect(row.lastSuccessAt).not.toBeNull();
      expect(row.lastError).toBeNull();
    }
    expect(rows.find((r) => r.source === 'oos-wrong-key')!.lastError!.code).toBe('ERR_PROVIDER_AUTH');

    const verify = await runCli(['verify', '-c', path], env);
    expect(verify.code, verify.stdout).toBe(0);
    expect(verify.stdout).toContain('archive intact');
  });
});
