import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { EXAMPLE_ENV } from './helpers/example-env.js';

const EXAMPLES = join(import.meta.dirname, '..', 'examples');

describe('examples/', () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml'));

  it('holds example configs', () => {
    expect(files.sort()).toEqual(['cron.yaml', 'local.yaml', 'worker.yaml']);
  });

  for (const file of files) {
    it(`${file} passes validate with the environment its header names`, async () => {
      const ok = await runCli(['validate', '-c', join(EXAMPLES, file)], EXAMPLE_ENV);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toContain('valid');
    });
  }

  it('worker.yaml without its environment: exit 2, each missing variable named once', async () => {
    const env = Object.fromEntries(Object.keys(EXAMPLE_ENV).map((k) => [k, '']));
    const result = await runCli(['validate', '-c', join(EXAMPLES, 'worker.yaml')], env);
    expect(result.code).toBe(2);
    expect(result.stderr.match(/ARCHIVE_BUCKET is not set/g)).toHaveLength(1);
  });
});
