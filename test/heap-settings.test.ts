import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HEAP_FLAGS } from '../src/heap-settings.js';
import { CLI } from './helpers/cli.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const dir = makeTempDir('heap-settings');
afterAll(() => removeTempDir(dir));

// Preloaded through NODE_OPTIONS, so it runs in every process image the CLI becomes: one line each.
const probe = join(dir, 'probe.cjs');
writeFileSync(
  probe,
  `require('node:fs').writeSync(2, 'PROBE ' + JSON.stringify({ pid: process.pid, execArgv: process.execArgv, limitMb: Math.round(require('node:v8').getHeapStatistics().heap_size_limit / 1048576) }) + '\\n');\n`,
);

interface Probe {
  pid: number;
  execArgv: string[];
  limitMb: number;
}

function cli(args: string[], nodeOptions = ''): { probes: Probe[]; status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, NODE_OPTIONS: `${nodeOptions} --require ${probe}`.trim() },
  });
  const probes = result.stderr
    .split('\n')
    .filter((line) => line.startsWith('PROBE '))
    .map((line) => JSON.parse(line.slice(6)) as Probe);
  return { probes, status: result.status, stderr: result.stderr };
}

describe('heap settings of the commands that move data', () => {
  it('run-once restarts itself once (same pid) with the heap flags, then runs: here it exits 2 on a missing config', () => {
    const { probes, status, stderr } = cli(['run-once', '-c', join(dir, 'missing.yaml')]);
    expect(probes).toHaveLength(2);
    expect(probes[1]!.pid).toBe(probes[0]!.pid);
    expect(probes[0]!.execArgv).not.toContain(HEAP_FLAGS[0]);
    expect(probes[1]!.execArgv).toEqual([...HEAP_FLAGS]);
    expect(probes[1]!.limitMb).toBeLessThan(1200); // --max-old-space-size=1024 is in effect (default: several GB here)
    expect(status).toBe(2);
    expect(stderr).toContain('missing.yaml');
  });

  it("keeps the user's own heap flags (NODE_OPTIONS) and does not restart", () => {
    const { probes, status } = cli(['run-once', '-c', join(dir, 'missing.yaml')], '--max-old-space-size=3000');
    expect(probes).toHaveLength(1);
    expect(probes[0]!.limitMb).toBeGreaterThan(3000);
    expect(status).toBe(2);
  });

  it('short commands (--version, validate, status) start once, with V8 defaults', () => {
    const { probes, status } = cli(['--version']);
    expect(probes).toHaveLength(1);
    expect(probes[0]!.execArgv).toEqual([]);
    expect(status).toBe(0);
  });
});
