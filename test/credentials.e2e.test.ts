import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FileObjectStore } from '../src/storage/index.js';
import {
  AliyunStsSimulator,
  HuaweiDwsSimulator,
  HuaweiIamSimulator,
  IssuedTokens,
  OosSimulator,
  TemporaryKeyring,
  signOidcToken,
} from '../simulators/index.js';
import { exited } from './helpers/children.js';
import { startCli } from './helpers/cli.js';
import { compareIds, readArchive } from './helpers/read-archive.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { startRedis, type RedisHandle } from './helpers/with-redis.js';

const ROLE = 'acs:ram::1234567890123456:role/log-archiver';
const OIDC_PROVIDER = 'acs:ram::1234567890123456:oidc-provider/ack-rrsa';
const ISSUER_SECRET = 'oidc-issuer-secret-do-not-use';
const PROJECT = '0833a5737480d53b2f250010d01a7b88';
const CLUSTER = 'e59d6b86-9072-46eb-a996-13f8b44994c1';
const EXECUTION = 'exec-1234567zxcvb';
const IAM_PASSWORD = 'iam-password-do-not-use-7f1';
/** How long every credential lasts: several expiries fit in a few seconds of archiving. */
const LIFETIME_MS = 2_500;

describe('temporary credentials, refreshed while the worker archives', () => {
  const keyring = new TemporaryKeyring();
  const tokens = new IssuedTokens();
  const sts = new AliyunStsSimulator({
    keyring,
    roles: { [ROLE]: { trustsOidcProvider: OIDC_PROVIDER } },
    oidcIssuerSecret: ISSUER_SECRET,
    lifetimeMs: LIFETIME_MS,
  });
  // Only keys STS issued are let in: the source cannot be archiving with anything else.
  const oos = new OosSimulator({ keyring, temporaryOnly: true });
  const iam = new HuaweiIamSimulator({
    tokens,
    users: [{ domain: 'acct-b', name: 'archiver', password: IAM_PASSWORD }],
    projects: [PROJECT],
    lifetimeMs: LIFETIME_MS,
  });
  const dws = new HuaweiDwsSimulator({ projectId: PROJECT, clusterId: CLUSTER, auth: { issuedTokens: tokens } });
  let dir: string;
  let redis: RedisHandle;

  beforeAll(async () => {
    await Promise.all([sts.start(), oos.start(), iam.start(), dws.start()]);
    oos.addExecution(EXECUTION);
    redis = await startRedis();
    dir = makeTempDir('credentials-e2e');
  });
  afterAll(async () => {
    await Promise.all([sts.stop(), oos.stop(), iam.stop(), dws.stop()]);
    await redis?.stop();
    removeTempDir(dir);
  });

  it('an AssumeRoleWithOIDC source and a Huawei IAM password source archive across several expiries, never sending expired credentials, with no failed page', async () => {
    const tokenFile = join(dir, 'token');
    // The kubelet rewrites the projected service-account token now and then.
    const rotate = (): void => {
      const claims = {
        iss: 'https://oidc.test',
        sub: 'system:serviceaccount:logs:archiver',
        aud: 'sts.aliyuncs.com',
        exp: Math.floor(Date.now() / 1000) + 60,
      };
      writeFileSync(tokenFile, signOidcToken(claims, ISSUER_SECRET));
    };
    rotate();
    writeFileSync(join(dir, 'iam-password'), `${IAM_PASSWORD}\n`);
    const configPath = join(dir, 'config.yaml');
    writeFileSync(
      configPath,
      stringify({
        redis: { url: redis.url, prefix: 'credentials-e2e' },
        storage: { kind: 'file', path: join(dir, 'archive') },
        checkpoints: { kind: 'redis' },
        worker: { concurrency: 2, shutdownTimeout: '10s' },
        sources: [
          {
            id: 'oos-rrsa',
            provider: 'aliyun-oos-execution-logs',
            schedule: { every: '300ms' },
            endpoint: oos.url,
            // Role, OIDC provider and token file from the environment ACK RRSA sets.
            credentials: { oidc: { endpoint: sts.url } },
            params: { regionId: 'cn-hangzhou', executionIds: [EXECUTION], maxResults: 5 },
          },
          {
            id: 'dws-iam',
            provider: 'huawei-dws-audit-log-records',
            schedule: { every: '300ms' },
            endpoint: dws.url,
            credentials: { iam: { endpoint: iam.url, domain: 'acct-b', user: 'archiver', password: '${file:iam-password}' } },
            params: { projectId: PROJECT, clusterId: CLUSTER },
          },
        ],
      }),
    );
    const worker = startCli(['worker', '-c', configPath], {
      LOG_LEVEL: 'info',
      ALIBABA_CLOUD_ROLE_ARN: ROLE,
      ALIBABA_CLOUD_OIDC_PROVIDER_ARN: OIDC_PROVIDER,
      ALIBABA_CLOUD_OIDC_TOKEN_FILE: tokenFile,
    });
    const store = new FileObjectStore({ path: join(dir, 'archive') });
    let entries = 0;
    const grow = (): void => {
      oos.appendLogs(
        EXECUTION,
        Array.from({ length: 7 }, () => `entry ${++entries}`),
      );
      dws.finish((r) => r.result === 'RUNNING', 'SUCCESS');
      dws.addRecords(2);
    };
    const started = Date.now();
    let problem: string | undefined = 'not checked';
    try {
      // Archive continuously for four lifetimes of the credentials, growing both sources.
      for (let round = 0; Date.now() - started < 4 * LIFETIME_MS + 1_000; round += 1) {
        grow();
        if (round % 5 === 4) rotate();
        await sleep(350);
      }
      dws.finish((r) => r.result === 'RUNNING', 'SUCCESS');
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const { envelopes } = await readArchive(store);
        const diffs = [
          compareIds(
            envelopes.filter((e) => e.source === 'oos-rrsa'),
            oos.expectedRecords().map((r) => r.id),
          ),
          compareIds(
            envelopes.filter((e) => e.source === 'dws-iam'),
            dws.expectedRecords().map((r) => r.id),
          ),
        ];
        const duplicated = diffs.reduce((n, d) => n + d.duplicated.length, 0);
        const off = diffs.reduce((n, d) => n + d.missing.length + d.unexpected.length, 0);
        problem = duplicated > 0 ? `${duplicated} duplicated` : off > 0 ? `${off} missing or unexpected` : undefined;
        if (problem === undefined || duplicated > 0) break;
        await sleep(300);
      }
    } finally {
      worker.child.kill('SIGTERM');
      await exited(worker.child);
    }
    const log = worker.output();
    const sessions = keyring.issuedBy(`sts:${ROLE}`).length;
    const iamTokens = tokens.issuedBy('password:acct-b/archiver').length;
    console.log(
      `credentials e2e: ${entries} OOS entries and ${dws.expectedRecords().length} DWS records over ${Date.now() - started} ms; ` +
        `${sessions} STS sessions, ${iamTokens} IAM tokens (lifetime ${LIFETIME_MS} ms); expired refusals ${keyring.expiredRefusals}/${tokens.expiredRefusals}`,
    );
    expect(problem, log.slice(-3000)).toBeUndefined();
    expect(worker.child.exitCode, log.slice(-2000)).toBe(0);
    // At least three expiries crossed by each source; one session at a time, not one per request.
    expect(sessions).toBeGreaterThanOrEqual(4);
    expect(iamTokens).toBeGreaterThanOrEqual(4);
    expect(sessions).toBeLessThan(30);
    // Never sent expired, and no page failed: nothing refused, nothing retried, no drain failed.
    expect(keyring.expiredRefusals).toBe(0);
    expect(tokens.expiredRefusals).toBe(0);
    expect([...oos.rpc.refusals.keys()]).toEqual([]);
    expect([...sts.rpc.refusals.keys()]).toEqual([]);
    expect(log).not.toMatch(/"msg":"drain failed"|"msg":"retrying |could not obtain credentials/);
    for (const secret of [
      IAM_PASSWORD,
      ...keyring.issuedBy('').map((k) => k.accessKeySecret),
      ...tokens.issuedBy('').map((t) => t.token),
    ]) {
      expect(log).not.toContain(secret);
    }
  });
});
