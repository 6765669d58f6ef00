import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisCheckpointStore } from '../src/checkpoints/index.js';
import { parseConfig, type RedisConfig } from '../src/config/index.js';
import { configProblems } from './helpers/config-problems.js';
import { RedisLeaseManager } from '../src/leases/index.js';
import { silentLogger } from '../src/observability/index.js';
import { RedisKeys, createRedisClient, describeRedis } from '../src/redis/index.js';
import { TEST_ACL, startTlsRedis } from './helpers/redis-topologies.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';
import { makeTestCa, type TestCa } from './helpers/test-ca.js';

const SOURCES = `
storage: { kind: file, path: ./archive }
sources:
  - { id: a, provider: aliyun-oos-execution-logs, endpoint: "http://127.0.0.1:1", credentials: { accessKeyId: x, accessKeySecret: y }, params: { regionId: r, executionIds: [e] } }
`;

function problems(yaml: string): string[] {
  return configProblems(`redis:\n${yaml}\n${SOURCES}`);
}

function redisSection(yaml: string, dir: string): RedisConfig {
  return parseConfig(`redis:\n${yaml}\n${SOURCES}`, {}, 'test', dir).redis!;
}

describe('redis connection factory: rediss:// with a private CA, client certificates and an ACL user', () => {
  let dir: string;
  let ca: TestCa;
  let server: { port: number; stop(): Promise<void> };

  beforeAll(async () => {
    dir = makeTempDir('redis-connect');
    ca = makeTestCa(dir);
    server = await startTlsRedis(ca);
    // As a Kubernetes Secret volume would mount them.
    writeFileSync(join(dir, 'client.crt'), ca.clientCert);
    writeFileSync(join(dir, 'client.key'), ca.clientKey);
    writeFileSync(join(dir, 'other-ca.crt'), ca.otherCa);
    writeFileSync(join(dir, 'redis-password'), `${TEST_ACL.password}\n`);
  });
  afterAll(async () => {
    await server?.stop();
    removeTempDir(dir);
  });

  it('takes leases and fenced checkpoints over mutual TLS, with secrets from files', async () => {
    const config = redisSection(
      `  url: rediss://${TEST_ACL.username}@127.0.0.1:${server.port}/0
  password: \${file:redis-password}
  tls: { ca: "\${file:ca.crt}", cert: "\${file:client.crt}", key: "\${file:client.key}" }`,
      dir,
    );
    expect(describeRedis(config)).toBe(`rediss://127.0.0.1:${server.port}/0`);
    const client = createRedisClient(config, { role: 'commands', logger: silentLogger() });
    try {
      await client.connect();
      expect(await client.call('ACL', 'WHOAMI')).toBe(TEST_ACL.username);
      const keys = new RedisKeys('tls');
      const lease = await new RedisLeaseManager(client, { keys, ttlMs: 5_000, logger: silentLogger() }).acquire('s');
      const checkpoints = new RedisCheckpointStore(client, keys);
      await checkpoints.save('s', { head: null, checkpoint: { n: 7 }, updatedAt: new Date().toISOString() }, lease);
      expect((await checkpoints.load('s'))?.checkpoint).toEqual({ n: 7 });
      await lease.release();
    } finally {
      client.disconnect();
    }
  });

  it('refuses a server whose certificate does not chain to the configured CA, and a client without a certificate', async () => {
    const cases = [
      [
        '{ ca: "${file:other-ca.crt}", cert: "${file:client.crt}", key: "${file:client.key}" }',
        /self-signed certificate in certificate chain/,
      ],
      // The server's alert races the reset of the connection it closes.
      ['{ ca: "${file:ca.crt}" }', /certificate required|ECONNRESET/],
    ] as const;
    for (const [tls, reason] of cases) {
      const config = redisSection(
        `  url: rediss://127.0.0.1:${server.port}\n  username: ${TEST_ACL.username}\n  password: \${file:redis-password}\n  tls: ${tls}\n  connectTimeout: 2s`,
        dir,
      );
      const errors: string[] = [];
      const client = createRedisClient(config, { role: 'commands', logger: silentLogger() }) as Redis;
      client.options.retryStrategy = () => null;
      client.on('error', (error: Error) => errors.push(error.message));
      try {
        await expect(client.connect().then(() => client.ping())).rejects.toThrow();
      } finally {
        client.disconnect();
      }
      expect(errors.join('\n')).toMatch(reason);
    }
  });
});

describe('redis config', () => {
  it('accepts each topology and rejects contradictions by path', () => {
    const sentinel = redisSection(
      `  sentinel: { name: mymaster, nodes: ["10.0.0.1:26379", "10.0.0.2", "[fd00::3]:26380"], password: s, tls: true }
  username: app
  password: p
  tls: { ca: "-----BEGIN CERTIFICATE-----" }`,
      process.cwd(),
    );
    expect(describeRedis(sentinel)).toBe('sentinel mymaster@10.0.0.1:26379,10.0.0.2,[fd00::3]:26380');
    const cluster = redisSection(
      `  cluster: { nodes: ["10.0.0.1:6379"], natMap: { "10.0.0.1:6379": "127.0.0.1:7001" } }\n  tls: true`,
      process.cwd(),
    );
    expect(cluster.tls).toEqual({ rejectUnauthorized: true });
    expect(problems('  prefix: x')).toEqual(['redis.url: required: url, sentinel or cluster']);
    expect(problems('  url: redis://a:1\n  cluster: { nodes: [b] }')).toEqual([
      'redis.cluster: give one of url, sentinel, cluster (got url, cluster)',
    ]);
    expect(problems('  url: redis://a:1\n  tls: true')).toEqual(['redis.tls: TLS options need a rediss:// url']);
    expect(problems('  url: rediss://a:1\n  tls: { cert: x }')).toEqual(['redis.tls: cert and key go together (mutual TLS)']);
    expect(problems('  cluster: { nodes: ["a:1"] }\n  db: 2')).toEqual(['redis.db: Redis Cluster has only database 0']);
    expect(problems('  sentinel: { name: m, nodes: ["not a host"] }')).toEqual([
      'redis.sentinel.nodes[0]: expected host:port (e.g. 10.0.0.1:6379 or [::1]:6379)',
    ]);
    expect(problems('  url: redis://a:1\n  prefix: "{tag}"')[0]).toMatch(/^redis\.prefix: .*do not write it/);
  });
});
