import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { unsupportedNodeWarning } from '../src/node-support.js';
import { CLI } from './helpers/cli.js';

// The machine's own Node.js, where it is older than the product's minimum (Debian's is 20 here).
const SYSTEM_NODE = '/usr/bin/node';
const systemVersion = spawnSync(SYSTEM_NODE, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout?.trim() ?? '';

describe('Node.js support', () => {
  it('warns below 22.12 and is silent from 22.12 on', () => {
    for (const old of ['20.20.2', '22.11.0', '18.0.0'])
      expect(unsupportedNodeWarning(old), old).toMatch(
        new RegExp(`Node\\.js ${old.replace(/\./g, '\\.')} is not supported \\(it needs 22\\.12 or newer`),
      );
    for (const ok of ['22.12.0', '22.21.1', '24.0.0', '25.2.0']) expect(unsupportedNodeWarning(ok), ok).toBeUndefined();
  });

  it('the CLI on a supported Node.js prints no warning', () => {
    const result = spawnSync(process.execPath, [CLI, '--version'], { encoding: 'utf8', timeout: 30_000 });
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
  });

  it.runIf(systemVersion !== '' && unsupportedNodeWarning(systemVersion) !== undefined)(
    "the CLI on the machine's older Node.js warns on stderr and still runs, its stdout untouched",
    () => {
      const result = spawnSync(SYSTEM_NODE, [CLI, '--version'], { encoding: 'utf8', timeout: 30_000 });
      expect(result.status).toBe(0);
      expect(result.stderr).toContain(`Node.js ${systemVersion} is not supported`);
      expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    },
  );
});
