import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataWorksSimulator } from '../simulators/index.js';
import { runCli } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

describe('export', () => {
  let sim: DataWorksSimulator;
  let dir: string;
  let path: string;
  let between: string;

  const lines = (from: number, count: number): string => Array.from({ length: count }, (_, i) => `line ${from + i} ok\n`).join('');

  beforeAll(async () => {
    dir = makeTempDir('export');
    // Small segments: pages of a few dozen lines, so the archive holds several objects.
    sim = new DataWorksSimulator({ segmentBytes: 1024 });
    sim.addRun(5, lines(0, 250));
    await sim.start();
    path = join(dir, 'config.yaml');
    writeFileSync(
      path,
      JSON.stringify({
        storage: { kind: 'file', path: join(dir, 'archive') },
        checkpoints: { kind: 'file', path: join(dir, 'state') },
        batch: { maxRecords: 100 },
        sources: [
          { id: 'dq', provider: 'aliyun-dataworks-dq-scan-log', endpoint: sim.url, credentials: sim.credentials, params: { runIds: [5] } },
        ],
      }),
    );
    expect((await runCli(['run-once', '-c', path, '--quiet'])).code).toBe(0);
    await sleep(20);
    between = new Date().toISOString();
    await sleep(20);
    sim.appendLog(5, lines(250, 50));
    expect((await runCli(['run-once', '-c', path, '--quiet'])).code).toBe(0);
  });
  afterAll(async () => {
    await sim.stop();
    removeTempDir(dir);
  });

  const parse = (stdout: string) =>
    stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('streams every envelope of the source in archive order, or the bare records', async () => {
    const all = await runCli(['export', '-c', path, '--source', 'dq']);
    expect(all.code, all.stderr).toBe(0);
    const envelopes = parse(all.stdout);
    expect(envelopes.map((e) => (e.record as { line: string }).line)).toEqual(lines(0, 300).trimEnd().split('\n'));
    expect(envelopes[0]).toMatchObject({ source: 'dq', provider: 'aliyun-dataworks-dq-scan-log', id: '5:0', context: { runId: 5 } });

    const bare = await runCli(['export', '-c', path, '--source', 'dq', '--records']);
    expect(parse(bare.stdout)[1]).toEqual({ offset: Buffer.byteLength('line 0 ok\n'), line: 'line 1 ok' });
  });

  it('--since and --until select by fetch time', async () => {
    const later = await runCli(['export', '-c', path, '--source', 'dq', '--since', between]);
    expect(later.code, later.stderr).toBe(0);
    expect(parse(later.stdout).map((e) => (e.record as { line: string }).line)).toEqual(lines(250, 50).trimEnd().split('\n'));
    const earlier = await runCli(['export', '-c', path, '--source', 'dq', '--until', between]);
    expect(parse(earlier.stdout)).toHaveLength(250);
    const none = await runCli(['export', '-c', path, '--source', 'dq', '--since', '2999-01-01']);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
  });

  it('usage errors exit 2; storage that cannot be reached exits 3', async () => {
    expect((await runCli(['export', '-c', path, '--source', 'nope'])).code).toBe(2);
    const bad = await runCli(['export', '-c', path, '--source', 'dq', '--since', 'yesterday-ish']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since: expected an ISO-8601 time or date');
    const s3 = join(dir, 's3.yaml');
    writeFileSync(
      s3,
      JSON.stringify({
        storage: {
          kind: 's3',
          bucket: 'archive-bucket',
          region: 'us-east-1',
          endpoint: `http://127.0.0.1:${await freePort()}`,
          forcePathStyle: true,
        },
        sources: [
          { id: 'dq', provider: 'aliyun-dataworks-dq-scan-log', endpoint: sim.url, credentials: sim.credentials, params: { runIds: [5] } },
        ],
      }),
    );
    const down = await runCli(['export', '-c', s3, '--source', 'dq'], {
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'y',
      AWS_MAX_ATTEMPTS: '1',
    });
    expect(down.code, down.stderr).toBe(3);
  });

  it('an altered object stops the export loudly (exit 1) before any of its lines is printed', async () => {
    const root = join(dir, 'archive', 'dq');
    const objects = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ndjson.gz')).sort();
    expect(objects.length).toBeGreaterThanOrEqual(3);
    // The second object: the first one's records are printed, none of the second's.
    const first = gunzipSync(readFileSync(join(root, objects[0]!)))
      .toString('utf8')
      .trim()
      .split('\n').length;
    writeFileSync(join(root, objects[1]!), 'altered bytes');
    const result = await runCli(['export', '-c', path, '--source', 'dq']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`export stopped after ${first} records: object #2 does not match its manifest`);
    expect(parse(result.stdout)).toHaveLength(first);

    rmSync(join(root, objects[1]!));
    const missing = await runCli(['export', '-c', path, '--source', 'dq']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('object #2 is missing');
  });
});
