import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataWorksSimulator } from '../simulators/index.js';
import { CLI, runCli } from './helpers/cli.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

describe('run-once progress', () => {
  let sim: DataWorksSimulator;
  let dir: string;
  let runs = 0;

  beforeAll(async () => {
    // Small slow segments: each drain takes a few seconds, long enough to show progress.
    sim = new DataWorksSimulator({ segmentBytes: 1024, latencyMs: 15 });
    await sim.start();
    dir = makeTempDir('progress');
  });
  afterAll(async () => {
    await sim.stop();
    removeTempDir(dir);
  });

  /** A config with a fresh run of ~4000 lines, so every call drains from the start. */
  function config(): string {
    runs += 1;
    let text = '';
    for (let i = 0; i < 4000; i += 1) text += `${i} check ${'y'.repeat(i % 30)}\n`;
    sim.addRun(100 + runs, text);
    const path = join(dir, `config-${runs}.yaml`);
    writeFileSync(
      path,
      JSON.stringify({
        storage: { kind: 'file', path: join(dir, `archive-${runs}`) },
        checkpoints: { kind: 'file', path: join(dir, `state-${runs}`) },
        batch: { maxRecords: 1000 },
        sources: [
          {
            id: 'dq',
            provider: 'aliyun-dataworks-dq-scan-log',
            endpoint: sim.url,
            credentials: sim.credentials,
            params: { runIds: [100 + runs] },
          },
        ],
      }),
    );
    return path;
  }

  it('prints a plain line per running source every --progress-every when stdout is not a terminal', async () => {
    const result = await runCli(['run-once', '-c', config(), '--progress-every', '500ms']);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split('\n').filter((l) => l.startsWith('progress dq: '));
    expect(lines.length, result.stdout).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/^progress dq: \d+ records, \d+ pages, \d+ records\/s, on runId=\d+ \(\d+ committed in \d+ objects, \d+ s\)$/);
    expect(result.stdout).not.toContain('\x1b[');
    expect(result.stdout).toMatch(/^ok\s+dq: 4000 records in \d+ objects/m);
  });

  it('--quiet prints nothing for a source that succeeded', async () => {
    const result = await runCli(['run-once', '-c', config(), '--quiet', '--progress-every', '200ms']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
  });

  it('redraws a live line in place on a terminal', async () => {
    // `script` gives the command a pseudo-terminal and copies what it draws to stdout.
    const command = [process.execPath, CLI, 'run-once', '-c', config()].map((a) => `'${a}'`).join(' ');
    const result = await runCli([], {}, 60_000, ['script', '-qefc', command, '/dev/null']);
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(/ {2}dq: \d+ records, \d+ pages, \d+ records\/s, on runId=\d+/);
    // Cursor up and erase: the block is redrawn, not appended.
    expect(result.stdout).toContain('\x1b[1F\x1b[J');
    expect(result.stdout).toMatch(/ok\s+dq: 4000 records in \d+ objects/);
  });
});
