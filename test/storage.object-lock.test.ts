import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectRetentionCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRing, layout, ManifestLedger, verifyArchive, type DataManifest } from '../src/archive/index.js';
import type { HeadRef } from '../src/checkpoints/index.js';
import { ConfigError } from '../src/errors/index.js';
import { formatToken, type Lease } from '../src/leases/index.js';
import { silentLogger } from '../src/observability/index.js';
import type { S3ObjectStore } from '../src/storage/index.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { startRgw, type RgwHandle } from './helpers/with-rgw.js';

const lease: Lease = {
  source: 'worm',
  token: formatToken(11),
  signal: new AbortController().signal,
  check: async () => undefined,
  release: async () => undefined,
};

/** WORM on Ceph RGW: retention on every object, manifest and digest; locked versions cannot be deleted; fail closed. */
describe('storage.objectLock on Ceph RGW', () => {
  let rgw: RgwHandle;
  let dir: string;
  let store: S3ObjectStore;
  let ledger: ManifestLedger;

  beforeAll(async () => {
    rgw = await startRgw();
    await rgw.createBucket('worm-locked', { objectLock: true });
    await rgw.createBucket('worm-plain');
    dir = makeTempDir('worm');
    store = rgw.store('worm-locked', 'archive', { objectLock: { mode: 'GOVERNANCE', retainDays: 1 } });
    ledger = new ManifestLedger(store, {
      keys: KeyRing.none,
      logger: silentLogger(),
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 1000 },
      writer: 'test',
      digestIntervalMs: 60_000,
    });
  }, 120_000);
  afterAll(async () => {
    await rgw?.close();
    removeTempDir(dir);
  });

  const commit = async (head: HeadRef | null, name: string) => {
    const path = join(dir, name);
    writeFileSync(path, `bytes of ${name}`);
    return await ledger.commit({
      source: 'worm',
      provider: 'p',
      lease,
      head,
      batch: { path, sha256: sha(`bytes of ${name}`), bytes: `bytes of ${name}`.length, records: 1, firstId: name, lastId: name },
      checkpointBefore: null,
      checkpointAfter: { at: name },
      requestIds: [],
    });
  };

  it('arbitrates by versions, and puts retention on every data object, manifest and digest', async () => {
    expect(await store.prepare()).toBe('versions');
    const one = await commit(null, 'one');
    const two = await commit(one.head, 'two');
    expect(await ledger.digestIfDue('worm', two.head)).toBe(true);
    const keys = [one.key, two.key, one.head.key, two.head.key, layout.digestKey('worm', 1)];
    const inOneDay = Date.now() + 86_400_000;
    for (const key of keys) {
      const retention = await rgw.client.send(new GetObjectRetentionCommand({ Bucket: 'worm-locked', Key: `archive/${key}` }));
      expect(retention.Retention?.Mode, key).toBe('GOVERNANCE');
      expect(Math.abs((retention.Retention?.RetainUntilDate?.getTime() ?? 0) - inOneDay), key).toBeLessThan(120_000);
    }
    expect((await verifyArchive(store)).problems).toEqual([]);
  });

  it('deleting a locked version is refused; a plain delete only hides it under a delete marker, and verify still names that', async () => {
    const key = `archive/${layout.manifestKey('worm', 1)}`;
    const [version] = await rgw.listVersions('worm-locked', key);
    const refused = await rgw.client
      .send(new DeleteObjectCommand({ Bucket: 'worm-locked', Key: key, VersionId: version!.versionId }))
      .catch((e: unknown) => e);
    expect((refused as Error).name).toBe('AccessDenied');
    // Recovery, sweeping and acknowledgements keep working: their deletes become delete markers.
    const data = (await verifyArchive(store)).sources[0]!;
    expect(data.objects).toBe(2);
    const two = (await ledger.readEntry('worm', 2))!.entry as DataManifest;
    await rgw.client.send(new DeleteObjectCommand({ Bucket: 'worm-locked', Key: `archive/${two.key}` }));
    const report = await verifyArchive(store);
    expect(report.problems.map((p) => p.kind)).toEqual(['object-missing']);
    const acked = await ledger.acknowledge('worm', null, {
      reason: 'test: deleted on a locked bucket',
      by: 'test',
      extra: report.problems.map((p) => ({ seq: p.seq!, key: p.key, text: p.detail })),
    });
    expect(acked.entry.kind).toBe('acknowledgement');
    expect((await verifyArchive(store)).problems).toEqual([]);
    const recovered = await ledger.recover('worm', undefined, lease);
    expect(recovered.head?.seq).toBe(acked.head.seq);
  });

  it('a start with objectLock against a bucket without Object Lock fails closed, saying what to fix', async () => {
    const plain = rgw.store('worm-plain', '', { objectLock: { mode: 'COMPLIANCE', retainDays: 1 } });
    const error = await plain.prepare().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]).toMatchObject({ path: 'storage.objectLock', message: expect.stringContaining('Object Lock') });
    await expect(plain.putBytes('x', Buffer.from('x'), { contentType: 'text/plain', ifNoneMatch: true })).rejects.toBeInstanceOf(
      ConfigError,
    );
    expect(await rgw.listKeys('worm-plain')).toEqual([]);
  });
});

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
