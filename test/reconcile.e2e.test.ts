import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { DataWorksSimulator, OosSimulator, SIMULATOR_ACCESS_KEY } from '../simulators/index.js';
import { runCli } from './helpers/cli.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

interface ReconcileJson {
  ok: boolean;
  gaps: number;
  sources: {
    source: string;
    streams: number;
    stated: { records: number; bytes: number };
    archived: { records: number; bytes: number };
    gaps: { stream: string; stated: number; archived: number; difference: number; note?: string }[];
  }[];
}

describe('reconcile: archived counts against the totals the providers stated', () => {
  let dataworks: DataWorksSimulator;
  let oos: OosSimulator;
  let dir: string;
  let config: string;

  beforeAll(async () => {
    dataworks = new DataWorksSimulator({ segmentBytes: 64 });
    oos = new OosSimulator();
    await Promise.all([dataworks.start(), oos.start()]);
    dir = makeTempDir('reconcile');
    config = join(dir, 'config.yaml');
    const credentials = { ...SIMULATOR_ACCESS_KEY };
    writeFileSync(
      config,
      stringify({
        storage: { kind: 'file', path: join(dir, 'archive') },
        checkpoints: { kind: 'file', path: join(dir, 'state') },
        sources: [
          { id: 'dq', provider: 'aliyun-dataworks-dq-scan-log', endpoint: dataworks.url, credentials, params: { runIds: [1, 2] } },
          {
            id: 'oos',
            provider: 'aliyun-oos-execution-logs',
            endpoint: oos.url,
            credentials,
            params: { regionId: 'cn-hangzhou', executionIds: ['exec-a', 'exec-b'], maxResults: 10 },
          },
        ],
      }),
    );
  });
  afterAll(async () => {
    await Promise.all([dataworks.stop(), oos.stop()]);
    removeTempDir(dir);
  });

  const reconcile = async (...args: string[]) => {
    const result = await runCli(['reconcile', '-c', config, ...args], { LOG_LEVEL: 'error' });
    return { ...result, json: args.includes('--json') ? (JSON.parse(result.stdout) as ReconcileJson) : undefined };
  };

  it('reports no gap on an intact run, names the stream of a gap the provider caused, and status and --since agree', async () => {
    dataworks.addRun(1, 'one\ntwo\nthree\n');
    dataworks.addRun(2, 'alpha\nbeta\n');
    oos.addExecution('exec-a');
    oos.addExecution('exec-b');
    oos.appendLogs(
      'exec-a',
      Array.from({ length: 30 }, (_, i) => `a ${i}`),
    );
    oos.appendLogs('exec-b', ['b 0', 'b 1']);
    const first = await runCli(['run-once', '-c', config], { LOG_LEVEL: 'error' });
    expect(first.code, first.stdout + first.stderr).toBe(0);

    const intact = await reconcile('--json');
    expect(intact.code, intact.stdout + intact.stderr).toBe(0);
    expect(intact.json!.ok).toBe(true);
    const dq = intact.json!.sources.find((s) => s.source === 'dq')!;
    expect(dq.streams).toBe(2);
    expect(dq.stated.bytes).toBe(Buffer.byteLength('one\ntwo\nthree\nalpha\nbeta\n'));
    expect(dq.archived.bytes).toBe(dq.stated.bytes);
    const oosRow = intact.json!.sources.find((s) => s.source === 'oos')!;
    expect(oosRow).toMatchObject({ streams: 2, stated: { records: 32 }, archived: { records: 32 } });
    const text = await reconcile();
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('reconcile: every stated total is archived');

    // The provider inserts an entry deep in an execution's history: it cannot be told apart, so it
    // is a gap of one in that execution; the run's log is cut short below the checkpoint.
    oos.insertLogs('exec-a', 1, ['inserted long after the fact']);
    dataworks.replaceLog(1, 'one\n');
    const second = await runCli(['run-once', '-c', config], { LOG_LEVEL: 'error' });
    expect(second.code, second.stdout + second.stderr).toBe(0);

    const gap = await reconcile('--json');
    expect(gap.code).toBe(1);
    expect(gap.json!.ok).toBe(false);
    const oosGap = gap.json!.sources.find((s) => s.source === 'oos')!.gaps;
    expect(oosGap).toEqual([expect.objectContaining({ stream: 'execution exec-a', stated: 31, archived: 30, difference: 1 })]);
    const dqGap = gap.json!.sources.find((s) => s.source === 'dq')!.gaps;
    expect(dqGap.map((g) => g.stream)).toEqual(['run 1']);
    expect(dqGap[0]!.difference).toBeLessThan(0);
    const gapText = await reconcile('--source', 'oos');
    expect(gapText.code).toBe(1);
    expect(gapText.stdout).toMatch(/GAP oos execution exec-a: stated 31, archived 30 \(1 records missing\)/);
    expect(gapText.stdout).not.toContain('dq:');

    // status shows the same figures.
    const status = await runCli(['status', '-c', config, '--json'], { LOG_LEVEL: 'error' });
    const rows = (JSON.parse(status.stdout) as { sources: { source: string; completeness: { gaps: { stream: string }[] } }[] }).sources;
    expect(rows.find((r) => r.source === 'oos')!.completeness.gaps.map((g) => g.stream)).toEqual(['execution exec-a']);

    // --since: a configured execution's figures have no time of their own and stay in range.
    const since = await reconcile('--since', '2030-01-01', '--json');
    expect(since.code).toBe(1);

    // An unknown source or a bad time is a usage error.
    expect((await reconcile('--source', 'nope')).code).toBe(2);
    expect((await reconcile('--since', 'yesterday')).code).toBe(2);
  });
});
