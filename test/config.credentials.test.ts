import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/index.js';
import { configProblems as problems } from './helpers/config-problems.js';

const ROLE = 'acs:ram::1234567890123456:role/log-archiver';

function config(credentials: unknown, provider = 'aliyun-oos-execution-logs'): string {
  const params = provider.startsWith('aliyun') ? { regionId: 'cn-hangzhou', executionIds: ['e'] } : { projectId: 'p1', clusterId: 'c1' };
  return JSON.stringify({
    storage: { kind: 'file', path: './a' },
    sources: [{ id: 'a', provider, endpoint: 'http://127.0.0.1:1', ...(credentials === undefined ? {} : { credentials }), params }],
  });
}

describe('credentials config: the forms each cloud issues temporary credentials in', () => {
  it('completes an Alibaba role from the environment as the default credential chain does, in its order', () => {
    const env = { ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAIbase', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'base-secret' };
    const assume = parseConfig(config({ assumeRole: { roleArn: ROLE } }), env).sources[0]!.credentials;
    expect(assume).toEqual({
      assumeRole: {
        roleArn: ROLE,
        roleSessionName: 'log-archiver',
        durationSeconds: 3600,
        accessKeyId: 'LTAIbase',
        accessKeySecret: 'base-secret',
      },
    });
    const rrsa = {
      ALIBABA_CLOUD_ROLE_ARN: ROLE,
      ALIBABA_CLOUD_OIDC_PROVIDER_ARN: 'acs:ram::1234567890123456:oidc-provider/ack',
      ALIBABA_CLOUD_OIDC_TOKEN_FILE: '/var/run/secrets/tokens/oidc-token',
    };
    expect(parseConfig(config(undefined), rrsa).sources[0]!.credentials).toEqual({ oidc: expect.objectContaining({ roleArn: ROLE }) });
    // Keys in the environment come first, as in the SDKs' chain.
    expect(parseConfig(config(undefined), { ...rrsa, ...env }).sources[0]!.credentials).toEqual({
      accessKeyId: 'LTAIbase',
      accessKeySecret: 'base-secret',
    });
    expect(parseConfig(config(undefined), { ALIBABA_CLOUD_ECS_METADATA: 'EcsRole' }).sources[0]!.credentials).toEqual({
      ecsRamRole: { roleName: 'EcsRole', hardened: true },
    });
  });

  it('reports problems inside the form that was written, by path, without echoing secrets', () => {
    expect(problems(config({ assumeRole: { roleArn: 'arn:aws:iam::1:role/x', durationSeconds: 60 } }))).toEqual([
      'sources[0].credentials.assumeRole.roleArn: expected acs:ram::<account id>:role/<role name>',
      'sources[0].credentials.assumeRole.durationSeconds: at least 900 (15 minutes)',
      'sources[0].credentials.assumeRole.accessKeyId: required (expected string)',
      'sources[0].credentials.assumeRole.accessKeySecret: required (expected string)',
    ]);
    expect(problems(config({ oidc: {} }))).toEqual(
      expect.arrayContaining([
        'sources[0].credentials.oidc.roleArn: required (expected string)',
        'sources[0].credentials.oidc.oidcTokenFile: required (expected string)',
      ]),
    );
    expect(problems(config({ ecsRamRole: { hardened: 'yes' } }))).toEqual([
      'sources[0].credentials.ecsRamRole.hardened: expected boolean, got string',
    ]);
    // Base keys written beside the role instead of inside it: both halves of the mistake are named.
    expect(problems(config({ accessKeyId: 'x', accessKeySecret: 'y', assumeRole: { roleArn: ROLE } }))).toEqual([
      'sources[0].credentials.assumeRole.accessKeyId: required (expected string)',
      'sources[0].credentials.assumeRole.accessKeySecret: required (expected string)',
      'sources[0].credentials: unknown keys accessKeyId, accessKeySecret',
    ]);
    expect(problems(config(undefined))[0]).toMatch(
      /^sources\[0\]\.credentials: required: set credentials, or ALIBABA_CLOUD_ACCESS_KEY_ID .*ALIBABA_CLOUD_OIDC_TOKEN_FILE/,
    );
  });

  it('takes a Huawei IAM user (password, optional agency) beside fixed AK/SK and tokens', () => {
    const iam = { iam: { domain: 'acct', user: 'archiver', password: 'p-secret-value', agency: { domain: 'acct-a', name: 'logs' } } };
    expect(parseConfig(config(iam, 'huawei-dws-audit-log-records'), {}).sources[0]!.credentials).toEqual(iam);
    const found = problems(
      config(
        { iam: { domain: 'acct', user: 'u', password: 'p-secret-value', agency: { domain: 'a', domainId: 'b', name: 'n' } } },
        'huawei-dws-audit-log-records',
      ),
    );
    expect(found).toEqual(['sources[0].credentials.iam.agency: give one of domain or domainId (the delegating account)']);
    expect(problems(config({ iam: { domain: 'acct', user: 'u' } }, 'huawei-dws-audit-log-records'))).toEqual([
      'sources[0].credentials.iam.password: required (expected string)',
    ]);
    expect(found.join('\n')).not.toContain('p-secret-value');
  });
});
