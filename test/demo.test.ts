import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileObjectStore } from '../src/storage/index.js';
import { runCli } from './helpers/cli.js';
import { readArchive } from './helpers/read-archive.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

describe('demo', () => {
  const dir = makeTempDir('demo');
  afterAll(() => removeTempDir(dir));

  it('archives all five providers into gzip NDJSON, verifies, and says how to look; a second run starts over', async () => {
    const archive = join(dir, 'demo-archive');
    for (let run = 0; run < 2; run += 1) {
      const result = await runCli(['demo', '--dir', archive]);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(result.stdout).toMatch(/zcat .*dq-scan-log.*\.ndjson\.gz \| head -3 \| jq \./);
      expect(result.stdout).toContain('verify: every object matches its manifest');
    }
    const { envelopes } = await readArchive(new FileObjectStore({ path: archive }));
    const sources = new Set(envelopes.map((e) => e.provider));
    expect([...sources].sort()).toEqual([
      'aliyun-dataworks-dq-scan-log',
      'aliyun-oos-execution-logs',
      'aliyun-sddp-masking-history',
      'huawei-dataarts-accesslog',
      'huawei-dws-audit-log-records',
    ]);
    expect(new Set(envelopes.map((e) => `${e.source}/${e.id}`)).size).toBe(envelopes.length);
  });
});
