import { execFile, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CreateBucketCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore, type S3ObjectStoreOptions } from '../../src/storage/index.js';
import { captureOutput, spawnChild, stopChild } from './children.js';
import { freePort } from './free-port.js';
import { getObjectOrUndefined, listAllKeys } from './s3-reads.js';
import { makeTempDir, removeTempDir } from './temp-dir.js';

const run = promisify(execFile);

/** The gateway user every test signs as. */
export const RGW_CREDENTIALS = { accessKeyId: 'LOGARCHIVERTEST', secretAccessKey: 'log-archiver-test-secret' } as const;

/** Which Ceph binaries the helper needs (Debian: radosgw ceph-mon ceph-osd ceph-common; `.ci/run` installs them). */
export function rgwAvailable(): boolean {
  return ['/usr/bin/radosgw', '/usr/bin/ceph-mon', '/usr/bin/ceph-osd', '/usr/bin/ceph'].every((p) => existsSync(p));
}

export interface BucketOptions {
  /** Versioning on (If-None-Match is then ignored by this RGW: arbitration by versions). */
  versioned?: boolean;
  /** Object Lock (turns versioning on). */
  objectLock?: boolean;
}

/** A throwaway single-node Ceph cluster (mon, in-memory OSD, gateway) under one temp dir. */
export interface RgwHandle {
  readonly endpoint: string;
  readonly port: number;
  /** Raw client for checking what the gateway holds, bypassing the store under test. */
  readonly client: S3Client;
  createBucket(name: string, options?: BucketOptions): Promise<void>;
  /** A store on this gateway (closed by `close()`); options override the test defaults. */
  store(bucket: string, prefix?: string, options?: Partial<S3ObjectStoreOptions>): S3ObjectStore;
  listKeys(bucket: string, prefix?: string): Promise<string[]>;
  /** Every version of `key`, newest first. */
  listVersions(bucket: string, key: string): Promise<{ versionId: string; deleteMarker: boolean }[]>;
  getObject(bucket: string, key: string): Promise<Buffer | undefined>;
  /** Stops the gateway only (an outage); the cluster and its data stay for `startGateway()`. */
  stopGateway(): Promise<void>;
  startGateway(): Promise<void>;
  /** Teardown: gateway → OSD → monitor (the gateway hangs once the monitor is gone), then the directory. */
  close(): Promise<void>;
}

/** Several consecutive free ports (the OSD binds 4 from its range; other clusters may run beside this one). */
async function freeRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const all = await Promise.all(Array.from({ length: count }, (_, i) => portFree(base + i)));
    if (all.every(Boolean)) return base;
  }
  throw new Error('no free port range for the OSD');
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Starts a cluster in ~3 s: keyring and monmap, monitor, memstore OSD, the gateway's pools, a
 * user, then radosgw on a free port (see the measured facts in docs/testing-with-ceph.md).
 */
export async function startRgw(): Promise<RgwHandle> {
  if (!rgwAvailable())
    throw new Error('Ceph RGW is not installed: apt-get install -y radosgw ceph-mon ceph-osd ceph-common (.ci/run does it)');
  const dir = makeTempDir('rgw');
  for (const sub of ['run', 'log', 'mon', 'osd/ceph-0', 'rgw']) mkdirSync(join(dir, sub), { recursive: true });
  const monPort = await freePort();
  const osdBase = await freeRange(10);
  const fsid = randomUUID();
  const conf = join(dir, 'ceph.conf');
  const children: { mon?: ChildProcess; osd?: ChildProcess; rgw?: ChildProcess } = {};
  let rgwPort = 0;
  const writeConf = (): void =>
    writeFileSync(
      conf,
      [
        '[global]',
        `fsid = ${fsid}`,
        `mon host = v2:127.0.0.1:${monPort}`,
        'public addr = 127.0.0.1',
        'cluster addr = 127.0.0.1',
        'ms bind msgr1 = false',
        `ms bind port min = ${osdBase}`,
        `ms bind port max = ${osdBase + 9}`,
        'auth cluster required = none',
        'auth service required = none',
        'auth client required = none',
        'osd objectstore = memstore',
        'memstore device bytes = 1073741824',
        'osd pool default size = 1',
        'osd pool default min size = 1',
        'mon allow pool size one = true',
        'osd pool default pg num = 8',
        'osd pool default pg autoscale mode = off',
        'mon max pg per osd = 1000',
        'osd crush chooseleaf type = 0',
        'paxos propose interval = 0.05',
        'paxos min wait = 0.01',
        `run dir = ${dir}/run`,
        `admin socket = ${dir}/run/$name.asok`,
        `log file = ${dir}/log/$name.log`,
        `pid file = ${dir}/run/$name.pid`,
        `mon data = ${dir}/mon/$cluster-$id`,
        `osd data = ${dir}/osd/$cluster-$id`,
        `keyring = ${dir}/keyring`,
        '[client.rgw.a]',
        `rgw frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1`,
        'ms mon client mode = crc',
        'auth client required = none',
        `rgw data = ${dir}/rgw`,
        '',
      ].join('\n'),
    );
  const ceph = async (...args: string[]): Promise<string> => (await run('ceph', ['-c', conf, '--connect-timeout', '20', ...args])).stdout;
  const daemon = (command: string, args: string[]): ChildProcess => {
    const child = spawnChild(command, ['-c', conf, '-f', ...args]);
    captureOutput(child);
    return child;
  };
  const startGateway = async (): Promise<void> => {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      rgwPort = await freePort();
      writeConf();
      children.rgw = daemon('radosgw', ['-n', 'client.rgw.a']);
      if (await answers(rgwPort, children.rgw, 15_000)) return;
      await stopChild(children.rgw, 'SIGKILL');
    }
    throw new Error(`radosgw did not start (logs in ${dir}/log)`);
  };
  const close = async (): Promise<void> => {
    client.destroy();
    for (const store of stores) await store.close().catch(() => undefined);
    for (const name of ['rgw', 'osd', 'mon'] as const) {
      const child = children[name];
      if (child) await stopChild(child, 'SIGTERM', 2_000);
    }
    removeTempDir(dir);
  };
  const stores = new Set<S3ObjectStore>();
  let client = new S3Client({ region: 'us-east-1' });
  try {
    writeConf();
    await run('ceph-authtool', ['--create-keyring', join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await run('monmaptool', ['--create', '--addv', 'a', `[v2:127.0.0.1:${monPort}]`, '--fsid', fsid, join(dir, 'monmap')]);
    await run('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', join(dir, 'keyring')]);
    children.mon = daemon('ceph-mon', ['-i', 'a']);
    const osdUuid = randomUUID();
    await ceph('osd', 'new', osdUuid);
    await run('ceph-osd', ['-c', conf, '-i', '0', '--mkfs', '--osd-uuid', osdUuid]);
    children.osd = daemon('ceph-osd', ['-i', '0']);
    // Pools made up front: otherwise the gateway creates them lazily and its first requests take seconds.
    const pools = [
      '.rgw.root',
      'default.rgw.log',
      'default.rgw.control',
      'default.rgw.meta',
      'default.rgw.buckets.index',
      'default.rgw.buckets.data',
      'default.rgw.buckets.non-ec',
    ];
    await Promise.all(pools.map((pool) => ceph('osd', 'pool', 'create', pool, '8')));
    await run('radosgw-admin', [
      '-c',
      conf,
      'user',
      'create',
      '--uid',
      'test',
      '--display-name',
      'test',
      '--access-key',
      RGW_CREDENTIALS.accessKeyId,
      '--secret-key',
      RGW_CREDENTIALS.secretAccessKey,
    ]);
    await startGateway();
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  const endpoint = (): string => `http://127.0.0.1:${rgwPort}`;
  client = newClient(endpoint());
  return {
    get endpoint() {
      return endpoint();
    },
    get port() {
      return rgwPort;
    },
    get client() {
      return client;
    },
    async createBucket(name, options = {}) {
      await client.send(new CreateBucketCommand({ Bucket: name, ...(options.objectLock ? { ObjectLockEnabledForBucket: true } : {}) }));
      if (options.versioned && !options.objectLock) {
        await client.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
      }
    },
    store(bucket, prefix, overrides = {}) {
      const store = new S3ObjectStore({
        bucket,
        region: 'us-east-1',
        endpoint: endpoint(),
        forcePathStyle: true,
        credentials: RGW_CREDENTIALS,
        ...(prefix !== undefined ? { prefix } : {}),
        ...overrides,
      });
      stores.add(store);
      return store;
    },
    listKeys: (bucket, prefix) => listAllKeys(client, bucket, prefix),
    async listVersions(bucket, key) {
      const out = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key }));
      const all = [
        ...(out.Versions ?? [])
          .filter((v) => v.Key === key)
          .map((v) => ({ versionId: v.VersionId ?? '', deleteMarker: false, at: v.LastModified })),
        ...(out.DeleteMarkers ?? [])
          .filter((v) => v.Key === key)
          .map((v) => ({ versionId: v.VersionId ?? '', deleteMarker: true, at: v.LastModified })),
      ];
      return all
        .sort((a, b) => (b.at?.getTime() ?? 0) - (a.at?.getTime() ?? 0))
        .map(({ versionId, deleteMarker }) => ({ versionId, deleteMarker }));
    },
    getObject: async (bucket, key) => (await getObjectOrUndefined(client, bucket, key))?.body,
    async stopGateway() {
      if (children.rgw) await stopChild(children.rgw, 'SIGTERM', 2_000);
    },
    async startGateway() {
      // Same port, so that configs written for it keep working.
      const port = rgwPort;
      writeConf();
      children.rgw = daemon('radosgw', ['-n', 'client.rgw.a']);
      if (!(await answers(port, children.rgw, 15_000))) throw new Error(`radosgw did not come back on port ${port}`);
    },
    close,
  };
}

function newClient(endpoint: string): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: RGW_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
}

/** Waits until the gateway answers HTTP on `port` (a refused bind still lets another process answer: check it is ours). */
async function answers(port: number, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) });
      const text = await response.text();
      if (text.includes('ListAllMyBucketsResult')) return true;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  return false;
}

/** Runs `fn` with a fresh cluster, always stopping it afterwards. */
export async function withRgw<T>(fn: (rgw: RgwHandle) => Promise<T>): Promise<T> {
  const rgw = await startRgw();
  try {
    return await fn(rgw);
  } finally {
    await rgw.close();
  }
}
