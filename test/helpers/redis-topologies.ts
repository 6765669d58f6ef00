import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis, type RedisOptions } from 'ioredis';
import { captureOutput, spawnChild, stopChild } from './children.js';
import { freePort } from './free-port.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';
import { redisTlsArgs, type TestCa } from './test-ca.js';

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';
// Debian's redis-sentinel package is a link to the same binary; without it, redis-server --sentinel.
const REDIS_SENTINEL = process.env.REDIS_SENTINEL_BIN ?? '/usr/bin/redis-sentinel';
const REDIS_CLI = process.env.REDIS_CLI_BIN ?? '/usr/bin/redis-cli';

/** The ACL user every test topology serves; the `default` user is switched off. */
export const TEST_ACL = { username: 'archiver', password: 'acl-password-do-not-use' } as const;
/** The sentinels' own password (`requirepass` of the sentinels). */
export const SENTINEL_PASSWORD = 'sentinel-password-do-not-use';

const BASE_ARGS = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'no'];
const ACL_ARGS = ['--user', 'default', 'off', '--user', TEST_ACL.username, 'on', `>${TEST_ACL.password}`, '~*', '&*', '+@all'];

/** One redis-server (or sentinel) process. */
export interface RedisProcess {
  readonly port: number;
  readonly alive: boolean;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** A short-lived admin connection. */
export async function withAdmin<T>(options: RedisOptions, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...options });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

async function launch(
  command: string,
  args: string[],
  dir: string,
  port: number,
  admin: RedisOptions,
  timeoutMs = 8_000,
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawnChild(command, args, { cwd: dir });
  const output = captureOutput(child);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${command} exited on start (port ${port}): ${output()}`);
    try {
      if ((await withAdmin({ port, ...admin }, (r) => r.ping())) === 'PONG') return { child, output };
    } catch {
      // not up yet
    }
    await sleep(25);
  }
  await stopChild(child, 'SIGKILL');
  throw new Error(`${command} on port ${port} did not answer PING within ${timeoutMs} ms: ${output()}`);
}

function handle(child: ChildProcess, port: number): RedisProcess {
  return {
    port,
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
    kill: () => stopChild(child, 'SIGKILL'),
    stop: () => stopChild(child, 'SIGTERM'),
  };
}

/** A free port whose cluster bus port (port + 10000) is free as well. */
async function freeClusterPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && (await portFree(port + 10_000))) return port;
  }
  throw new Error('no free port pair for a cluster node');
}

async function portFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The config's `redis` section for a Sentinel deployment: its sentinels, their password, the ACL user. */
export function sentinelRedisSection(sentinel: SentinelDeployment, prefix: string): Record<string, unknown> {
  return {
    sentinel: { name: sentinel.name, nodes: sentinel.sentinelNodes, password: SENTINEL_PASSWORD },
    username: TEST_ACL.username,
    password: TEST_ACL.password,
    prefix,
  };
}

/** Master, replicas and sentinels on loopback, with ACL users and password-protected sentinels. */
export interface SentinelDeployment {
  readonly name: string;
  /** `127.0.0.1:port` of each sentinel. */
  readonly sentinelNodes: string[];
  readonly servers: RedisProcess[];
  /** The port of the current master, as the sentinels see it. */
  masterPort(): Promise<number>;
  /** `SENTINEL FAILOVER`, then waits until a new master is promoted and announced. */
  failover(timeoutMs?: number): Promise<{ from: number; to: number; ms: number }>;
  /** SIGKILLs the current master, then waits until the sentinels promote a replica. */
  killMaster(timeoutMs?: number): Promise<{ from: number; to: number; ms: number }>;
  stop(): Promise<void>;
}

export interface SentinelOptions {
  replicas?: number;
  sentinels?: number;
  /** Time without an answer before the master is judged down. @defaultValue 1000 */
  downAfterMs?: number;
}

/** Starts a Sentinel deployment: one master, `replicas` replicas, `sentinels` sentinels (quorum: a majority). */
export async function startSentinelDeployment(options: SentinelOptions = {}): Promise<SentinelDeployment> {
  const dir = makeTempDir('sentinel');
  const name = 'archiver-master';
  const servers: RedisProcess[] = [];
  const sentinels: RedisProcess[] = [];
  const auth = { username: TEST_ACL.username, password: TEST_ACL.password };
  const sentinelAuth = { password: SENTINEL_PASSWORD };
  const replicaCount = options.replicas ?? 2;
  const sentinelCount = options.sentinels ?? 3;
  try {
    let masterPort = 0;
    for (let i = 0; i <= replicaCount; i += 1) {
      const port = await freePort();
      const nodeDir = join(dir, `redis-${i}`);
      mkdirSync(nodeDir);
      const args = [
        '--port',
        String(port),
        ...BASE_ARGS,
        '--dir',
        nodeDir,
        ...ACL_ARGS,
        '--masteruser',
        TEST_ACL.username,
        '--masterauth',
        TEST_ACL.password,
        '--loglevel',
        'warning',
        ...(i === 0 ? [] : ['--replicaof', '127.0.0.1', String(masterPort)]),
      ];
      const { child } = await launch(REDIS_SERVER, args, nodeDir, port, auth);
      if (i === 0) masterPort = port;
      servers.push(handle(child, port));
    }
    await waitFor(async () => {
      const info = await withAdmin({ port: masterPort, ...auth }, (r) => r.info('replication'));
      return new RegExp(`connected_slaves:${replicaCount}\\b`).test(info) && (info.match(/state=online/g) ?? []).length === replicaCount;
    }, 10_000);
    const quorum = Math.floor(sentinelCount / 2) + 1;
    // Sentinels find each other and the replicas by hello messages every 2 s; told up front (with
    // fixed ids), they agree on a failover at once.
    const sentinelPorts: number[] = [];
    for (let i = 0; i < sentinelCount; i += 1) sentinelPorts.push(await freePort());
    const ids = sentinelPorts.map((_, i) => `${i + 1}`.padStart(40, '0'));
    const replicaPorts = servers.slice(1).map((s) => s.port);
    for (let i = 0; i < sentinelCount; i += 1) {
      const port = sentinelPorts[i]!;
      const file = join(dir, `sentinel-${i}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'daemonize no',
          'protected-mode no',
          `dir ${dir}`,
          'loglevel warning',
          `sentinel monitor ${name} 127.0.0.1 ${masterPort} ${quorum}`,
          `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
          `sentinel auth-user ${name} ${TEST_ACL.username}`,
          `sentinel auth-pass ${name} ${TEST_ACL.password}`,
          `requirepass ${SENTINEL_PASSWORD}`,
          `sentinel sentinel-pass ${SENTINEL_PASSWORD}`,
          `sentinel myid ${ids[i]}`,
          ...sentinelPorts.flatMap((p, j) => (j === i ? [] : [`sentinel known-sentinel ${name} 127.0.0.1 ${p} ${ids[j]}`])),
          ...replicaPorts.map((p) => `sentinel known-replica ${name} 127.0.0.1 ${p}`),
          '',
        ].join('\n'),
      );
      const [command, args] = existsSync(REDIS_SENTINEL) ? [REDIS_SENTINEL, [file]] : [REDIS_SERVER, [file, '--sentinel']];
      const { child } = await launch(command, args, dir, port, sentinelAuth);
      sentinels.push(handle(child, port));
    }
    const askSentinels = async (): Promise<number> =>
      await withAdmin({ port: sentinels[0]!.port, ...sentinelAuth }, async (r) => {
        const reply = (await r.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string] | null;
        return reply ? Number(reply[1]) : 0;
      });
    // Every sentinel must know the others and the replicas before a failover can be agreed.
    await waitFor(async () => {
      for (const s of sentinels) {
        const master = await withAdmin({ port: s.port, ...sentinelAuth }, (r) => r.call('SENTINEL', 'master', name) as Promise<string[]>);
        const field = (key: string): number => Number(master[master.indexOf(key) + 1]);
        if (field('num-other-sentinels') !== sentinelCount - 1 || field('num-slaves') !== replicaCount) return false;
      }
      return true;
    }, 15_000);

    const promoted = async (from: number, started: number, timeoutMs: number): Promise<{ from: number; to: number; ms: number }> => {
      let to = from;
      await waitFor(async () => {
        to = await askSentinels();
        if (to === from || to === 0) return false;
        const info = await withAdmin({ port: to, ...auth }, (r) => r.info('replication'));
        return /role:master/.test(info);
      }, timeoutMs);
      return { from, to, ms: Date.now() - started };
    };

    return {
      name,
      sentinelNodes: sentinels.map((s) => `127.0.0.1:${s.port}`),
      servers,
      masterPort: askSentinels,
      async failover(timeoutMs = 20_000) {
        const from = await askSentinels();
        const started = Date.now();
        await withAdmin({ port: sentinels[0]!.port, ...sentinelAuth }, (r) => r.call('SENTINEL', 'failover', name));
        return await promoted(from, started, timeoutMs);
      },
      async killMaster(timeoutMs = 30_000) {
        const from = await askSentinels();
        const started = Date.now();
        await servers.find((s) => s.port === from)?.kill();
        return await promoted(from, started, timeoutMs);
      },
      async stop() {
        for (const s of sentinels) await s.stop();
        for (const s of servers) await s.stop();
        removeTempDir(dir);
      },
    };
  } catch (error) {
    for (const s of [...sentinels, ...servers]) await s.kill();
    removeTempDir(dir);
    throw error;
  }
}

/** A Redis Cluster of masters only, made with `redis-cli --cluster create`. */
export interface ClusterDeployment {
  /** `127.0.0.1:port` of each master. */
  readonly nodes: string[];
  /** Connection options of one node, for admin commands. */
  admin(port: number): RedisOptions;
  stop(): Promise<void>;
}

/** Starts `masters` cluster nodes (TLS with `ca` when given, ACL users always) and joins them into one cluster. */
export async function startCluster(options: { masters?: number; ca?: TestCa } = {}): Promise<ClusterDeployment> {
  const dir = makeTempDir('cluster');
  const nodes: RedisProcess[] = [];
  const { ca } = options;
  const tls = ca ? { tls: { ca: ca.ca, cert: ca.clientCert, key: ca.clientKey } } : {};
  const admin = (port: number): RedisOptions => ({ port, username: TEST_ACL.username, password: TEST_ACL.password, ...tls });
  try {
    for (let i = 0; i < (options.masters ?? 3); i += 1) {
      const port = await freeClusterPort();
      const nodeDir = join(dir, `node-${i}`);
      mkdirSync(nodeDir);
      const args = [
        ...(ca ? [...redisTlsArgs(ca, port), '--tls-cluster', 'yes', '--tls-replication', 'yes'] : ['--port', String(port)]),
        ...BASE_ARGS,
        '--dir',
        nodeDir,
        ...ACL_ARGS,
        '--masteruser',
        TEST_ACL.username,
        '--masterauth',
        TEST_ACL.password,
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(nodeDir, 'nodes.conf'),
        '--cluster-node-timeout',
        '3000',
        '--loglevel',
        'warning',
      ];
      const { child } = await launch(REDIS_SERVER, args, nodeDir, port, admin(port));
      nodes.push(handle(child, port));
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    const cliTls = ca ? ['--tls', '--cacert', ca.caPath, '--cert', join(dir, 'client.crt'), '--key', join(dir, 'client.key')] : [];
    if (ca) {
      writeFileSync(join(dir, 'client.crt'), ca.clientCert);
      writeFileSync(join(dir, 'client.key'), ca.clientKey);
    }
    await promisify(execFile)(
      REDIS_CLI,
      [
        ...cliTls,
        '--user',
        TEST_ACL.username,
        '--pass',
        TEST_ACL.password,
        '--no-auth-warning',
        '--cluster',
        'create',
        ...addresses,
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    await waitFor(async () => {
      for (const node of nodes) {
        const info = await withAdmin(admin(node.port), (r) => r.cluster('INFO'));
        if (!/cluster_state:ok/.test(String(info))) return false;
      }
      return true;
    }, 20_000);
    return {
      nodes: addresses,
      admin,
      async stop() {
        for (const n of nodes) await n.stop();
        removeTempDir(dir);
      },
    };
  } catch (error) {
    for (const n of nodes) await n.kill();
    removeTempDir(dir);
    throw error;
  }
}

/** Starts one standalone redis-server serving TLS only (client certificates required) and ACL users. */
export async function startTlsRedis(ca: TestCa): Promise<{ port: number; stop(): Promise<void> }> {
  const dir = makeTempDir('redis-tls');
  const port = await freePort();
  const args = [...redisTlsArgs(ca, port), ...BASE_ARGS, '--dir', dir, ...ACL_ARGS, '--loglevel', 'warning'];
  const { child } = await launch(REDIS_SERVER, args, dir, port, {
    username: TEST_ACL.username,
    password: TEST_ACL.password,
    tls: { ca: ca.ca, cert: ca.clientCert, key: ca.clientKey },
  });
  return {
    port,
    async stop() {
      await stopChild(child, 'SIGTERM');
      removeTempDir(dir);
    },
  };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await sleep(100);
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
}
