import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialRegistry, type CredentialServices, type SharedCredentials } from '../src/credentials/index.js';
import { CredentialError } from '../src/errors/index.js';
import { HttpClient } from '../src/http/index.js';
import { silentLogger } from '../src/observability/index.js';
import { aliyunCloud, type AliyunCredentials } from '../src/providers/aliyun/index.js';
import { huaweiCloud, type HuaweiCredentials } from '../src/providers/huawei/index.js';
import {
  AliyunStsSimulator,
  EcsMetadataSimulator,
  HuaweiIamSimulator,
  IssuedTokens,
  SIMULATOR_ACCESS_KEY,
  TemporaryKeyring,
  signOidcToken,
} from '../simulators/index.js';
import { removeTempDir } from './helpers/temp-dir.js';

const ROLE = 'acs:ram::1234567890123456:role/log-archiver';
const PARTNER_ROLE = 'acs:ram::1234567890123456:role/partner';
const OIDC_PROVIDER = 'acs:ram::1234567890123456:oidc-provider/ack-rrsa';
const ISSUER_SECRET = 'oidc-issuer-secret-do-not-use';
const PROJECT = '0833a5737480d53b2f250010d01a7b88';

describe('credential issuers against simulators of STS, the ECS metadata service and Huawei IAM', () => {
  const keyring = new TemporaryKeyring();
  const tokens = new IssuedTokens();
  const sts = new AliyunStsSimulator({
    keyring,
    roles: { [ROLE]: { trustsOidcProvider: OIDC_PROVIDER, maxSessionDuration: 7200 }, [PARTNER_ROLE]: { externalId: 'abcd1234' } },
    oidcIssuerSecret: ISSUER_SECRET,
  });
  const metadata = new EcsMetadataSimulator({ keyring, roleName: 'EcsArchiverRole', lifetimeMs: 6 * 3_600_000 });
  const iam = new HuaweiIamSimulator({
    tokens,
    users: [
      { domain: 'acct-b', name: 'archiver', password: 'iam-password-do-not-use', agentOperator: true },
      { domain: 'acct-b', name: 'reader', password: 'reader-password-do-not-use' },
    ],
    agencies: [{ domainName: 'acct-a', domainId: 'acct-a-id', name: 'archive-logs', trusts: 'acct-b' }],
    projects: [PROJECT],
  });
  const http = new HttpClient({ timeoutMs: 5_000 });
  let services: CredentialServices;
  let dir: string;

  beforeAll(async () => {
    await Promise.all([sts.start(), metadata.start(), iam.start()]);
    services = new CredentialRegistry().services({
      http,
      retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20, maxElapsedMs: 5_000 },
      logger: silentLogger(),
    });
    dir = mkdtempSync(join(tmpdir(), 'oidc-'));
  });
  afterAll(async () => {
    await Promise.all([sts.stop(), metadata.stop(), iam.stop()]);
    await http.close();
    removeTempDir(dir);
  });

  const aliyun = (credentials: unknown, sourceId = 'a'): SharedCredentials<AliyunCredentials> => {
    const parsed = aliyunCloud.credentialsSchema.parse(aliyunCloud.credentialsWithEnv(credentials, {}));
    return aliyunCloud.credentialSource(parsed, { sourceId, params: {} }, services);
  };
  const huawei = (credentials: unknown, sourceId = 'h'): SharedCredentials<HuaweiCredentials> => {
    const parsed = huaweiCloud.credentialsSchema.parse(credentials);
    return huaweiCloud.credentialSource(parsed, { sourceId, params: { projectId: PROJECT } }, services);
  };

  it('AssumeRole: a signed call with the base AccessKey answers keys the account accepts; sources with the same role share them', async () => {
    const config = { assumeRole: { roleArn: ROLE, endpoint: sts.url, durationSeconds: 7200, ...SIMULATOR_ACCESS_KEY } };
    const a = aliyun(config, 'oos-a');
    const b = aliyun(structuredClone(config), 'oos-b');
    expect(b).toBe(a);
    const keys = await a.get();
    const issued = keyring.find(keys.accessKeyId);
    expect(issued?.issuedBy).toBe(`sts:${ROLE}`);
    expect(keys).toEqual({
      accessKeyId: issued!.accessKeyId,
      accessKeySecret: issued!.accessKeySecret,
      securityToken: issued!.securityToken,
    });
    expect(issued!.expiresAt - Date.now()).toBeGreaterThan(7_100_000);
    expect(sts.rpc.refusals.size).toBe(0);
    expect(a.identity).toBe(ROLE);
  });

  it('AssumeRole: what STS refuses is a non-retryable CredentialError naming the sources and what to check', async () => {
    const refused = aliyun({ assumeRole: { roleArn: PARTNER_ROLE, endpoint: sts.url, ...SIMULATOR_ACCESS_KEY } }, 'partner-logs');
    const error = (await refused.get().catch((e: unknown) => e)) as CredentialError;
    expect(error).toBeInstanceOf(CredentialError);
    expect(error.message).toMatch(
      /^AssumeRole acs:ram::1234567890123456:role\/partner \(sources partner-logs\): could not obtain credentials: .*NoPermission/,
    );
    expect(error.retryable).toBe(false);
    expect(error.hint).toMatch(/AliyunSTSAssumeRoleAccess/);
    expect(error.message).not.toContain(SIMULATOR_ACCESS_KEY.accessKeySecret);
    // With the ExternalId the trust policy asks for, the same role is granted.
    const granted = aliyun({ assumeRole: { roleArn: PARTNER_ROLE, externalId: 'abcd1234', endpoint: sts.url, ...SIMULATOR_ACCESS_KEY } });
    expect((await granted.get()).accessKeyId).toMatch(/^STS\./);
  });

  it('AssumeRoleWithOIDC: anonymous, from the environment of ACK RRSA, re-reading the rotated token file', async () => {
    const tokenFile = join(dir, 'token');
    const mint = (exp: number): string =>
      signOidcToken({ iss: 'https://oidc.test', sub: 'system:serviceaccount:logs:archiver', aud: 'sts.aliyuncs.com', exp }, ISSUER_SECRET);
    writeFileSync(tokenFile, mint(Math.floor(Date.now() / 1000) + 600));
    const env = { ALIBABA_CLOUD_ROLE_ARN: ROLE, ALIBABA_CLOUD_OIDC_PROVIDER_ARN: OIDC_PROVIDER, ALIBABA_CLOUD_OIDC_TOKEN_FILE: tokenFile };
    const parsed = aliyunCloud.credentialsSchema.parse(aliyunCloud.credentialsWithEnv({ oidc: { endpoint: sts.url } }, env));
    const fromChain = aliyunCloud.credentialsSchema.parse(aliyunCloud.credentialsWithEnv(undefined, env));
    expect(fromChain).toEqual({
      oidc: expect.objectContaining({ roleArn: ROLE, oidcProviderArn: OIDC_PROVIDER, oidcTokenFile: tokenFile }),
    });
    const before = sts.issued.AssumeRoleWithOIDC;
    const keys = await aliyunCloud.credentialSource(parsed, { sourceId: 'rrsa', params: {} }, services).get();
    expect(keyring.find(keys.accessKeyId)?.issuedBy).toBe(`sts:${ROLE}`);
    expect(sts.issued.AssumeRoleWithOIDC).toBe(before + 1);
    // An expired projected token is refused by STS: the file is read again, never cached.
    writeFileSync(tokenFile, mint(Math.floor(Date.now() / 1000) - 5));
    const stale = aliyun({
      oidc: { roleArn: ROLE, oidcProviderArn: OIDC_PROVIDER, oidcTokenFile: tokenFile, endpoint: sts.url, roleSessionName: 'other' },
    });
    await expect(stale.get()).rejects.toThrow(/AuthenticationFail\.OIDCToken\.Expired/);
    const missing = aliyun({
      oidc: { roleArn: ROLE, oidcProviderArn: OIDC_PROVIDER, oidcTokenFile: join(dir, 'absent'), endpoint: sts.url },
    });
    const error = (await missing.get().catch((e: unknown) => e)) as CredentialError;
    expect(error.message).toMatch(/cannot read the OIDC token file .*absent \(ENOENT\)/);
    expect(error.retryable).toBe(true);
  });

  it('ECS RAM role: a session token first (hardened mode), then the role the service names, then its keys', async () => {
    const keys = await aliyun({ ecsRamRole: { metadataEndpoint: metadata.url } }).get();
    expect(keyring.find(keys.accessKeyId)?.issuedBy).toBe('ecs:EcsArchiverRole');
    expect(metadata.refusedWithoutToken).toBe(0);
    const normalMode = aliyun({ ecsRamRole: { metadataEndpoint: metadata.url, hardened: false, roleName: 'EcsArchiverRole' } });
    await expect(normalMode.get()).rejects.toBeInstanceOf(CredentialError);
    expect(metadata.refusedWithoutToken).toBeGreaterThan(0);
    await expect(aliyun({ ecsRamRole: { metadataEndpoint: metadata.url, roleName: 'NoSuchRole' } }).get()).rejects.toThrow(
      /no such RAM role/,
    );
  });

  it('Huawei IAM: a password token scoped to the source project; an agency token through the user token; refusals named', async () => {
    const token = (await huawei({
      iam: { endpoint: iam.url, domain: 'acct-b', user: 'archiver', password: 'iam-password-do-not-use' },
    }).get()) as { token: string };
    expect(tokens.find(token.token)).toMatchObject({ issuedBy: 'password:acct-b/archiver', projectId: PROJECT });
    const agency = (await huawei({
      iam: {
        endpoint: iam.url,
        domain: 'acct-b',
        user: 'archiver',
        password: 'iam-password-do-not-use',
        agency: { domain: 'acct-a', name: 'archive-logs' },
      },
    }).get()) as { token: string };
    expect(tokens.find(agency.token)).toMatchObject({ issuedBy: 'assume_role:acct-a/archive-logs', projectId: PROJECT });
    const wrong = huawei({ iam: { endpoint: iam.url, domain: 'acct-b', user: 'archiver', password: 'not-the-password-9f3' } }, 'dws-audit');
    const error = (await wrong.get().catch((e: unknown) => e)) as CredentialError;
    expect(error).toBeInstanceOf(CredentialError);
    expect(error.message).toMatch(/^IAM token acct-b\/archiver \(project .*\) \(sources dws-audit\): .*401/);
    expect(error.retryable).toBe(false);
    expect(error.message).not.toContain('not-the-password-9f3');
    const notOperator = huawei({
      iam: {
        endpoint: iam.url,
        domain: 'acct-b',
        user: 'reader',
        password: 'reader-password-do-not-use',
        agency: { domainId: 'acct-a-id', name: 'archive-logs' },
      },
    });
    await expect(notOperator.get()).rejects.toThrow(/403/);
  });
});
