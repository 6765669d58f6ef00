import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing, layout, ManifestLedger, type SpooledBatch } from '../src/archive/index.js';
import type { HeadRef } from '../src/checkpoints/index.js';
import { formatToken, type Lease } from '../src/leases/index.js';
import { silentLogger } from '../src/observability/index.js';
import { FileObjectStore } from '../src/storage/index.js';
import { runCli } from './helpers/cli.js';
import { freePort } from './helpers/free-port.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

const lease: Lease = {
  source: 'audited',
  token: formatToken(7),
  signal: new AbortController().signal,
  check: async () => undefined,
  release: async () => undefined,
};

/** `verify` from an auditor's config (storage only): 0 intact, 1 naming the damage, 3 when storage is down. */
describe('verify and status exit codes', () => {
  let dir: string;
  let store: FileObjectStore;
  let keys: string[];

  beforeAll(async () => {
    dir = makeTempDir('verify-exit');
    store = new FileObjectStore({ path: join(dir, 'archive') });
    const ledger = new ManifestLedger(store, {
      keys: KeyRing.none,
      logger: silentLogger(),
      retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 10 },
      writer: 'test',
    });
    keys = [];
    let head: HeadRef | null = null;
    for (let i = 1; i <= 3; i += 1) {
      const path = join(dir, `b${i}`);
      writeFileSync(path, `batch ${i}`);
      const batch: SpooledBatch = {
        path,
        sha256: sha(`batch ${i}`),
        bytes: `batch ${i}`.length,
        records: 2,
        firstId: `${i}a`,
        lastId: `${i}b`,
      };
      const committed = await ledger.commit({
        source: 'audited',
        provider: 'p',
        lease,
        head,
        batch,
        checkpointBefore: i - 1,
        checkpointAfter: i,
        requestIds: [],
      });
      head = committed.head;
      keys.push(committed.key);
    }
  });
  afterAll(() => removeTempDir(dir));

  const auditorConfig = (storage: string): string => {
    const path = join(dir, `auditor-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(path, `storage:\n${storage}\nmanifests: {}\n`);
    return path;
  };

  it('exits 0 on an intact archive, finding its sources in storage with no sources configured', async () => {
    const result = await runCli(['verify', '-c', auditorConfig(`  kind: file\n  path: ${dir}/archive`)]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('audited: 3 objects, 6 records, 3 manifests');
  });

  it('exits 1 naming a deleted object', async () => {
    const bytes = (await store.get(keys[1]!))!;
    await store.delete(keys[1]!);
    try {
      const result = await runCli(['verify', '-c', auditorConfig(`  kind: file\n  path: ${dir}/archive`), '--json']);
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as { problems: { kind: string; key: string }[] };
      expect(report.problems).toEqual([expect.objectContaining({ kind: 'object-missing', key: keys[1] })]);
    } finally {
      await store.putBytes(keys[1]!, bytes, { contentType: 'application/gzip' });
    }
    expect(layout.parseDataKey(keys[1]!)?.seq).toBe(2);
  });

  it('exits 3, judging nothing, when storage cannot be reached', async () => {
    const port = await freePort();
    const config = auditorConfig(
      `  kind: s3\n  bucket: nowhere\n  region: us-east-1\n  endpoint: http://127.0.0.1:${port}\n  forcePathStyle: true`,
    );
    const env = { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' };
    const result = await runCli(['verify', '-c', config], env, 120_000);
    expect(result.code, result.stdout + result.stderr).toBe(3);
    expect(result.stdout).not.toContain('DAMAGE');
  }, 120_000);
});

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
