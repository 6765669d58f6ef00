import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatorFleet } from '../simulators/index.js';
import { runCli } from './helpers/cli.js';
import { compareIds, readArchive } from './helpers/read-archive.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';
import { startS3, S3_TEST_CREDENTIALS, type S3Handle } from './helpers/with-s3.js';

describe('run-once, repeated, all five providers into S3 with Redis checkpoints', () => {
  let fleet: SimulatorFleet;
  let redis: RedisHandle;
  let s3: S3Handle;
  let dir: string;

  beforeAll(async () => {
    fleet = new SimulatorFleet({ perGrow: 45, sddpWindowSeconds: 1 });
    [redis, s3] = await Promise.all([startRedis(), startS3(), fleet.start()]);
    dir = makeTempDir('run-once');
  });
  afterAll(async () => {
    await Promise.all([fleet.stop(), redis.stop(), s3.close()]);
    removeTempDir(dir);
  });

  it('leaves every record exactly once after each run, with growth and provider faults between runs', async () => {
    const path = join(dir, 'config.yaml');
    writeFileSync(
      path,
      fleet.configYaml({
        redis: { url: redis.url, prefix: 'ro' },
        storage: { kind: 's3', bucket: s3.bucket, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, prefix: 'logs/' },
        batch: { maxRecords: 60 },
        http: { maxAttempts: 12 },
      }),
    );
    const env = { AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey };
    for (let run = 1; run <= 3; run += 1) {
      fleet.grow();
      await new Promise((r) => setTimeout(r, Math.max(0, fleet.sddpSettledAt() - Date.now())));
      fleet.settle();
      fleet.setFaultRate(0.1, ['throttle', 'server', 'reset', 'truncated', 'html', 'proto']);
      const result = await runCli(['run-once', '-c', path], { ...env, LOG_LEVEL: 'error' });
      fleet.setFaultRate(0);
      expect(result.code, result.stdout + result.stderr.slice(-2000)).toBe(0);
      const { envelopes } = await readArchive(s3.store('logs/'));
      for (const [source, ids] of fleet.expectedIds()) {
        expect(
          compareIds(
            envelopes.filter((e) => e.source === source),
            ids,
          ),
          `${source} after run ${run}`,
        ).toEqual({ missing: [], duplicated: [], unexpected: [] });
      }
    }
    const verify = await runCli(['verify', '-c', path], env);
    expect(verify.code, verify.stdout).toBe(0);
  });
});
