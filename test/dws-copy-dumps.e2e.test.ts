import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FileObjectStore } from '../src/storage/index.js';
import { HuaweiDwsSimulator } from '../simulators/index.js';
import { runCli } from './helpers/cli.js';
import { readArchive } from './helpers/read-archive.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { S3_TEST_CREDENTIALS, startS3, type S3Handle } from './helpers/with-s3.js';

const PROJECT = '89cd04f168b84af6be287f71730fdb4b';
const CLUSTER = 'e59d6b86-9072-46eb-a996-13f8b44994c1';
const TOKEN = 'MIIZmgYJKoZIhvcNAQcCoIIZizCCGYcCAQExDTALBglghkgBZQMEAgEwgDWS';
const BUCKET = 'obs-audit';

/**
 * `params.copyDumps` through the real pipeline (`run-once`), OBS keys from `${VAR}` and
 * `${file:}`: the dumped files are in the archive, each file's SHA-256 in a manifest, and
 * `reconcile` finds no gap.
 */
describe('DWS copyDumps end to end', () => {
  let s3: S3Handle;
  let sim: HuaweiDwsSimulator;
  let dir: string;
  let config: string;
  const files = new Map<string, Buffer>();

  beforeAll(async () => {
    s3 = await startS3({ bucket: BUCKET });
    sim = new HuaweiDwsSimulator({ projectId: PROJECT, clusterId: CLUSTER, auth: { tokens: [TOKEN] } });
    await sim.start();
    dir = makeTempDir('dws-copy');
    writeFileSync(join(dir, 'obs-sk'), `${S3_TEST_CREDENTIALS.secretAccessKey}\n`);
    config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      stringify({
        storage: { kind: 'file', path: join(dir, 'archive') },
        checkpoints: { kind: 'file', path: join(dir, 'state') },
        sources: [
          {
            id: 'dws-audit',
            provider: 'huawei-dws-audit-log-records',
            endpoint: sim.url,
            credentials: { token: TOKEN },
            params: {
              projectId: PROJECT,
              clusterId: CLUSTER,
              copyDumps: {
                endpoint: s3.endpoint,
                region: 'us-east-1',
                forcePathStyle: true,
                credentials: { accessKeyId: '${OBS_AK}', secretAccessKey: `\${file:${join(dir, 'obs-sk')}}` },
                partBytes: 4096,
              },
            },
          },
        ],
      }),
    );
  });
  afterAll(async () => {
    await sim?.stop();
    await s3?.close();
    removeTempDir(dir);
  });

  it('archives the files of SUCCESS dumps once, hashed in the manifests; reconcile reports no gap', async () => {
    for (const [i, size] of [10_000, 5_000].entries()) {
      const record = sim.addRecord({ bucket_name: BUCKET, location_prefix: 'dws/audit' });
      const key = `dws/audit/${CLUSTER}/dump-${i}/audit.log`;
      const body = randomBytes(size);
      await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
      files.set(key, body);
      sim.finish(record, 'SUCCESS');
    }
    const env = { OBS_AK: S3_TEST_CREDENTIALS.accessKeyId, LOG_LEVEL: 'error' };
    const first = await runCli(['run-once', '-c', config], env);
    expect(first.code, first.stderr).toBe(0);
    const again = await runCli(['run-once', '-c', config], env);
    expect(again.code, again.stderr).toBe(0);
    expect(first.stderr + again.stderr).not.toContain(S3_TEST_CREDENTIALS.secretAccessKey);

    const store = new FileObjectStore({ path: join(dir, 'archive') });
    const { envelopes } = await readArchive(store);
    const parts = envelopes.filter((e) => e.id.startsWith('obs:'));
    expect(new Set(parts.map((e) => e.id)).size).toBe(parts.length);
    for (const [key, body] of files) {
      const data = Buffer.concat(
        parts
          .map((e) => e.record as { key: string; offset: number; data: string })
          .filter((r) => r.key === key)
          .sort((a, b) => a.offset - b.offset)
          .map((r) => Buffer.from(r.data, 'base64')),
      );
      expect(data.equals(body), key).toBe(true);
    }
    const figures: { stream: string; stated: number; archived: number; sha256?: string }[] = [];
    for await (const item of store.list('_manifests/')) {
      const manifest = JSON.parse((await store.get(item.key))!.toString('utf8')) as { completeness?: typeof figures };
      figures.push(...(manifest.completeness ?? []).filter((f) => f.stream.startsWith('dump ')));
    }
    await store.close();
    expect(figures.map((f) => [f.stream.replace(/@.*$/, ''), f.stated, f.archived, f.sha256]).sort()).toEqual(
      [...files]
        .map(([key, body]) => [`dump ${BUCKET}/${key}`, body.length, body.length, createHash('sha256').update(body).digest('hex')])
        .sort(),
    );
    const reconcile = await runCli(['reconcile', '-c', config], env);
    expect(reconcile.code, reconcile.stdout + reconcile.stderr).toBe(0);
  });
});
