import type { ChildProcess } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimulatorFleet } from '../../simulators/index.js';
import { FileObjectStore, type ObjectStore } from '../../src/storage/index.js';
import { exited, spawnChild } from '../helpers/children.js';
import { CLI, runCli, type CliResult } from '../helpers/cli.js';
import { compareIds, readArchive } from '../helpers/read-archive.js';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir.js';
import { startRedis, type RedisHandle } from '../helpers/with-redis.js';
import { S3_TEST_CREDENTIALS, startS3, type S3Handle } from '../helpers/with-s3.js';
import { RGW_CREDENTIALS, startRgw, type RgwHandle } from '../helpers/with-rgw.js';

/**
 * Shared machinery of the chaos suite: a world (simulator fleet with growth and faults, a real
 * redis-server, a real S3 server or a directory), `log-archiver worker` processes whose log lines
 * are parsed as they arrive, and the archive checks every case ends with.
 */

export const PREFIX = 'chaos';

/** One `drain started` / `drain finished` line of a worker (the drain's own, not BullMQ's). */
export interface DrainEvent {
  worker: string;
  pid: number;
  source: string;
  /** The drain's fencing token (logged as `fencingToken`). */
  token: string;
  kind: 'started' | 'finished';
  at: number;
  /** On `finished`: false when the drain yielded at worker.maxDrainTime with more to read. */
  caughtUp?: boolean;
}

/** Lines that mean a worker process is in trouble beyond what a drain reports. */
const CRASH = /unhandled|uncaught|FATAL|ERR_UNHANDLED_REJECTION|Maximum call stack|heap out of memory/i;

/** A `log-archiver worker` process; its stderr is parsed line by line. */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly events: DrainEvent[] = [];
  /** Failpoints this worker died at (`failpoint <name>: SIGKILL`). */
  readonly failpoints: string[] = [];
  /** Failpoints this worker stalled at (`failpoint <name>: stall <ms> ms`). */
  readonly stalls: string[] = [];
  /** Leases this worker found lost (renewal refused, or a check before a commit). */
  leasesLost = 0;
  /** Drains that ended refused by fencing (ERR_LEASE_LOST): stale writers stopped. */
  fenced = 0;
  /** Lines suggesting a crash or an unhandled rejection. */
  readonly crashes: string[] = [];
  readonly startedAt = Date.now();
  /** Keys this worker's recoveries removed as debris of interrupted or fenced-out writers. */
  debris = 0;
  exitedAt: number | undefined;
  #tail: string[] = [];
  #partial = '';

  /** Commits that lost their number to another writer (storage's arbitration at work). */
  conflicts = 0;

  constructor(
    readonly label: string,
    configPath: string,
    env: NodeJS.ProcessEnv,
    args: string[] = ['worker'],
  ) {
    this.child = spawnChild(process.execPath, [CLI, ...args, '-c', configPath], {
      env: { ...process.env, LOG_LEVEL: 'info', ...S3_ENV, ...env },
    });
    this.child.stdout?.on('data', (chunk: Buffer) => this.#feed(chunk));
    this.child.stderr?.on('data', (chunk: Buffer) => this.#feed(chunk));
    this.child.once('exit', () => {
      this.exitedAt = Date.now();
    });
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The last lines of output, for failure messages. */
  tail(lines = 40): string {
    return this.#tail.slice(-lines).join('\n');
  }

  /** Freezes the process (SIGSTOP) for `ms`, as a VM pause or a partition would, then SIGCONT. */
  async freeze(ms: number): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGSTOP');
    await sleep(ms);
    if (this.alive) this.child.kill('SIGCONT');
  }

  /** Resolves once the worker has started its first drain (or after `timeoutMs`, or when it died). */
  async firstDrain(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.alive && this.events.length === 0 && Date.now() < deadline) await sleep(20);
  }

  async kill(): Promise<void> {
    if (this.alive) this.child.kill('SIGKILL');
    await exited(this.child);
  }

  /** SIGTERM and wait; the worker should finish its drains and exit 0. */
  async terminate(timeoutMs = 30_000): Promise<number | null> {
    if (this.alive) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await exited(this.child);
      clearTimeout(timer);
    }
    return this.child.exitCode;
  }

  async waitExit(timeoutMs: number): Promise<boolean> {
    if (!this.alive) return true;
    return await Promise.race([exited(this.child).then(() => true), sleep(timeoutMs).then(() => false)]);
  }

  #feed(chunk: Buffer): void {
    const text = this.#partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.#line(line);
  }

  #line(line: string): void {
    if (line === '') return;
    // CHAOS_WORKER_LOG=<file>: every worker's every line, labelled, to read a failure afterwards.
    if (process.env.CHAOS_WORKER_LOG) appendFileSync(process.env.CHAOS_WORKER_LOG, `${this.label} ${line}\n`);
    this.#tail.push(line);
    if (this.#tail.length > 400) this.#tail.splice(0, 200);
    if (line.startsWith('failpoint ')) {
      const name = line.slice('failpoint '.length).split(':')[0]!;
      (line.includes(': stall ') ? this.stalls : this.failpoints).push(name);
      return;
    }
    if (!line.startsWith('{')) {
      if (CRASH.test(line)) this.crashes.push(line);
      return;
    }
    let entry: {
      msg?: string;
      source?: string;
      time?: string;
      job?: unknown;
      level?: number;
      pid?: number;
      removed?: unknown[];
      code?: string;
      fencingToken?: string;
      caughtUp?: boolean;
    };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      if (CRASH.test(line)) this.crashes.push(line);
      return;
    }
    if (entry.msg === 'lease lost') this.leasesLost += 1;
    if (entry.msg === 'another writer committed this entry first; continuing from its commit') this.conflicts += 1;
    if (entry.msg === 'drain failed' && entry.code === 'ERR_LEASE_LOST') this.fenced += 1;
    if (entry.msg === 'removed debris of interrupted writers' && Array.isArray(entry.removed)) this.debris += entry.removed.length;
    if ((entry.level ?? 0) >= 60 || (entry.msg !== undefined && CRASH.test(entry.msg))) this.crashes.push(line);
    // BullMQ's 'completed' handler logs a second "drain finished" carrying the job id, after the
    // lease is released: only the drain's own lines bound the time it held the source.
    if ((entry.msg === 'drain started' || entry.msg === 'drain finished') && entry.source && entry.time && entry.job === undefined) {
      this.events.push({
        worker: this.label,
        pid: entry.pid ?? this.pid,
        source: entry.source,
        token: entry.fencingToken ?? '',
        kind: entry.msg === 'drain started' ? 'started' : 'finished',
        at: Date.parse(entry.time),
        ...(entry.caughtUp === undefined ? {} : { caughtUp: entry.caughtUp }),
      });
    }
  }
}

/** Credentials the worker's S3 client takes from the environment. */
const S3_ENV = {
  AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey,
  AWS_REGION: 'us-east-1',
};

export interface WorldOptions {
  /** `rgw`: Ceph RGW, plain bucket (If-None-Match); `rgw-versioned`: arbitration by versions; `rgw-locked`: Object Lock. */
  storage: 'file' | 's3' | 'rgw' | 'rgw-versioned' | 'rgw-locked';
  /** Records per stream per grow. @defaultValue 20 */
  perGrow?: number;
}

export interface WorkerSettings {
  concurrency?: number;
  leaseTtl?: string;
  maxRecords?: number;
  /** `batch.maxSeconds`. @defaultValue the product's */
  maxSeconds?: number;
  every?: string;
  /** The config's `redis` section instead of the world's standalone server (Sentinel, Cluster). */
  redis?: Record<string, unknown>;
  /** Checkpoints in this directory (file leases, no redis section) instead of Redis. */
  fileState?: string;
  /** `checkpoints.deployment`: two configs with the same name may write one prefix at once. */
  deployment?: string;
  /** A `manifests` section. */
  manifests?: Record<string, unknown>;
  /** A `storage.objectLock` section. */
  objectLock?: Record<string, unknown>;
  /** Attempts per provider call. @defaultValue 6 */
  httpAttempts?: number;
}

/** Fleet + redis-server + storage for one case, and everything to check the result. */
export class World {
  readonly dir: string;
  readonly store: ObjectStore;
  grows = 0;

  /** The bucket on RGW. */
  static readonly BUCKET = 'chaos-archive';

  private constructor(
    readonly fleet: SimulatorFleet,
    readonly redis: RedisHandle,
    readonly s3: S3Handle | undefined,
    readonly rgw: RgwHandle | undefined,
    dir: string,
  ) {
    this.dir = dir;
    this.store = s3 ? s3.store() : rgw ? rgw.store(World.BUCKET) : new FileObjectStore({ path: join(dir, 'archive') });
  }

  static async open(options: WorldOptions): Promise<World> {
    const dir = makeTempDir('chaos');
    const redis = await startRedis();
    const s3 = options.storage === 's3' ? await startS3() : undefined;
    const rgw = options.storage.startsWith('rgw') ? await startRgw() : undefined;
    if (rgw) {
      await rgw.createBucket(World.BUCKET, {
        versioned: options.storage === 'rgw-versioned',
        objectLock: options.storage === 'rgw-locked',
      });
    }
    const fleet = new SimulatorFleet({ perGrow: options.perGrow ?? 20, sddpWindowSeconds: 1, segmentBytes: 2048 });
    await fleet.start();
    return new World(fleet, redis, s3, rgw, dir);
  }

  /** Environment a CLI process of this world needs (S3 credentials of its server). */
  get env(): NodeJS.ProcessEnv {
    return this.rgw
      ? { AWS_ACCESS_KEY_ID: RGW_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: RGW_CREDENTIALS.secretAccessKey, AWS_REGION: 'us-east-1' }
      : S3_ENV;
  }

  /** Writes a worker config; returns its path. */
  config(name: string, settings: WorkerSettings = {}): string {
    const storage = this.s3
      ? { kind: 's3', bucket: this.s3.bucket, region: 'us-east-1', endpoint: this.s3.endpoint, forcePathStyle: true }
      : this.rgw
        ? {
            kind: 's3',
            bucket: World.BUCKET,
            region: 'us-east-1',
            endpoint: this.rgw.endpoint,
            forcePathStyle: true,
            ...(settings.objectLock ? { objectLock: settings.objectLock } : {}),
          }
        : { kind: 'file', path: join(this.dir, 'archive') };
    const coordination = settings.fileState
      ? { checkpoints: { kind: 'file', path: settings.fileState, ...(settings.deployment ? { deployment: settings.deployment } : {}) } }
      : {
          redis: settings.redis ?? { url: this.redis.url, prefix: PREFIX },
          checkpoints: { kind: 'redis', ...(settings.deployment ? { deployment: settings.deployment } : {}) },
        };
    const sections = {
      ...coordination,
      storage,
      ...(settings.manifests ? { manifests: settings.manifests } : {}),
      batch: { maxRecords: settings.maxRecords ?? 25, gzipLevel: 1, ...(settings.maxSeconds ? { maxSeconds: settings.maxSeconds } : {}) },
      worker: { concurrency: settings.concurrency ?? 2, leaseTtl: settings.leaseTtl ?? '3s', shutdownTimeout: '10s' },
      // Short timeouts: the simulators' `timeout` fault never answers; `oversize` sends 40 MiB.
      // (DataArts answers with its whole list every call: 8 MiB leaves room for a long run.)
      http: { timeout: '2s', maxBodyBytes: 8 * 1024 * 1024, maxAttempts: settings.httpAttempts ?? 6 },
    };
    const path = join(this.dir, `${name}.yaml`);
    writeFileSync(path, this.fleet.configYaml(sections, { every: settings.every ?? '300ms' }));
    return path;
  }

  grow(): void {
    this.fleet.grow();
    this.grows += 1;
  }

  /** Lets the last growth become final: closed, settled masking windows and finished DWS dumps. */
  async settle(): Promise<void> {
    await sleep(Math.max(0, this.fleet.sddpSettledAt() - Date.now()));
    this.fleet.settle();
  }

  /** Compares every `.ndjson.gz` object in storage (debris included) with the fleet's records. */
  async diff(): Promise<ArchiveDiff> {
    const { envelopes, keys } = await readArchive(this.store);
    const result: ArchiveDiff = { records: 0, objects: keys.length, missing: 0, duplicated: 0, unexpected: 0, detail: [] };
    for (const [source, ids] of this.fleet.expectedIds()) {
      const diff = compareIds(
        envelopes.filter((e) => e.source === source),
        ids,
      );
      result.records += ids.length;
      result.missing += diff.missing.length;
      result.duplicated += diff.duplicated.length;
      result.unexpected += diff.unexpected.length;
      if (diff.missing.length + diff.duplicated.length + diff.unexpected.length > 0) {
        const where = (id: string): string =>
          envelopes
            .filter((e) => e.id === id)
            .map((e) => e.key)
            .join(' & ');
        result.detail.push(
          `${source}: ${diff.missing.length} missing (${diff.missing.slice(0, 2).join(', ')}), ` +
            `${diff.duplicated.length} duplicated (${diff.duplicated
              .slice(0, 2)
              .map((id) => `${id} in ${where(id)}`)
              .join('; ')}), ` +
            `${diff.unexpected.length} unexpected`,
        );
      }
    }
    return result;
  }

  /** Polls `diff()` until the archive is complete (or duplicated: that never heals) or time runs out. */
  async waitComplete(timeoutMs: number, workers: WorkerProcess[] = []): Promise<ArchiveDiff> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const diff = await this.diff();
      if (diff.unexpected > 0) return diff;
      // A duplicate can be transient: an upload that landed after its writer lost (a zombie) is
      // visible until the next drain of its source sweeps it (docs/guarantees.md). So wait for
      // the settled state; what is still there at the deadline is what the case reports.
      if ((diff.missing === 0 && diff.duplicated === 0) || Date.now() > deadline) return diff;
      if (workers.length > 0 && workers.every((w) => !w.alive)) return diff;
      await sleep(1_000);
    }
  }

  async verify(configPath: string, args: string[] = []): Promise<CliResult> {
    return await runCli(['verify', '-c', configPath, ...args], this.env, 180_000);
  }

  /** Runs a command of the CLI against this world's storage. */
  async cli(args: string[], timeoutMs = 120_000): Promise<CliResult> {
    return await runCli(args, this.env, timeoutMs);
  }

  async close(): Promise<void> {
    await this.fleet.stop();
    await this.s3?.close();
    await this.rgw?.close();
    await this.redis.stop();
    await this.store.close();
    removeTempDir(this.dir);
  }
}

export interface ArchiveDiff {
  records: number;
  objects: number;
  missing: number;
  duplicated: number;
  unexpected: number;
  detail: string[];
}

/** Grows the fleet every `everyMs` until the returned stop function is called. */
export function keepGrowing(world: World, everyMs: number): () => void {
  const timer = setInterval(() => world.grow(), everyMs);
  return () => clearInterval(timer);
}

/**
 * Per source, the [started, finished] intervals of all drains of all workers; returns every
 * pair that overlaps. A drain cut short by a kill runs until its process exited.
 */
export function overlappingDrains(workers: WorkerProcess[]): { overlaps: string[]; drains: number } {
  const intervals = new Map<string, { worker: string; from: number; to: number }[]>();
  let drains = 0;
  for (const worker of workers) {
    // A drain is its (source, fencing token): tokens are unique per lease.
    const open = new Map<string, { source: string; from: number }>();
    for (const event of worker.events) {
      const id = `${event.source} ${event.token}`;
      if (event.kind === 'started') {
        open.set(id, { source: event.source, from: event.at });
      } else {
        const started = open.get(id);
        if (started === undefined) continue;
        open.delete(id);
        push(intervals, event.source, { worker: `${worker.label}#${event.token}`, from: started.from, to: event.at });
        drains += 1;
      }
    }
    for (const [id, { source, from }] of open) {
      push(intervals, source, { worker: `${worker.label}#${id.split(' ')[1]}`, from, to: worker.exitedAt ?? Date.now() });
      drains += 1;
    }
  }
  const overlaps: string[] = [];
  for (const [source, list] of intervals) {
    list.sort((a, b) => a.from - b.from);
    // The interval reaching furthest so far: a long drain can overlap several later ones.
    let reach = list[0];
    for (const after of list.slice(1)) {
      if (reach && after.from < reach.to) {
        overlaps.push(
          `${source}: ${reach.worker} [${iso(reach.from)}, ${iso(reach.to)}] and ${after.worker} [${iso(after.from)}, ${iso(after.to)}]`,
        );
      }
      if (!reach || after.to > reach.to) reach = after;
    }
  }
  return { overlaps, drains };
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export function randomBetween(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min));
}
