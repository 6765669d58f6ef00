import { readFileSync, readlinkSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LeaseBusyError } from '../errors/index.js';
import { processAlive, writeFileAtomic } from '../fsutil/index.js';
import type { Logger } from '../observability/index.js';
import { formatToken, type Lease, type LeaseManager } from './lease.js';
import { RenewedLease } from './renewed-lease.js';

/** Where a process runs: pids mean something only between processes with the same identity. */
interface Machine {
  host: string;
  /** Changes on every boot: a pid from before a reboot names nothing. */
  bootId: string;
  /** The pid namespace (`pid:[4026531836]`): containers and `unshare --pid` have their own. */
  pidNamespace: string;
}

interface LockBody extends Machine {
  token: string;
  pid: number;
  expiresAt: number;
}

/** Lock bodies are padded to this size and rewritten in place, so a reader never sees half of one. */
const LOCK_BYTES = 512;
/** How far two hosts' clocks may disagree before a live holder could lose its lease: keep them in NTP sync. */
const CLOCK_SKEW_MS = 2_000;

function thisMachine(): Machine {
  const read = (fn: () => string): string => {
    try {
      return fn().trim();
    } catch {
      return '';
    }
  };
  return {
    host: hostname(),
    bootId: read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
    pidNamespace: read(() => readlinkSync('/proc/self/ns/pid')),
  };
}

function sameMachine(a: Machine, b: Machine): boolean {
  return a.host === b.host && a.bootId !== '' && a.bootId === b.bootId && a.pidNamespace !== '' && a.pidNamespace === b.pidNamespace;
}

/**
 * Leases as lock files in the state directory, for `run-once` with file checkpoints: cron on one
 * host, or CronJobs and hosts sharing the directory (a volume, NFS). A lock is taken over only
 * once it has expired (its holder renews it every third of the TTL), or at once when its holder
 * provably died: same host, same boot, same pid namespace, and that pid is gone. A holder in
 * another container or on another host is never judged by its pid, which means nothing here.
 *
 * Needs a file system where O_EXCL create and rename are atomic (local disks, NFSv3+), and
 * clocks within a few seconds of each other across hosts sharing it.
 */
export class FileLeaseManager implements LeaseManager {
  readonly #dir: string;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  readonly #machine = thisMachine();
  #lastToken = 0n;

  constructor(stateDir: string, options: { ttlMs: number; logger: Logger }) {
    this.#dir = join(stateDir, 'leases');
    this.#ttlMs = options.ttlMs;
    this.#logger = options.logger;
  }

  async acquire(source: string, options: { above?: string } = {}): Promise<Lease> {
    await mkdir(this.#dir, { recursive: true });
    const path = join(this.#dir, `${source}.lock`);
    const body: LockBody = {
      token: formatToken(await this.#nextToken(options.above)),
      pid: process.pid,
      expiresAt: Date.now() + this.#ttlMs,
      ...this.#machine,
    };
    if (!(await this.#create(path, body))) {
      const existing = await readLock(path);
      if (!(await this.#stale(path, existing))) throw new LeaseBusyError(source);
      // Move the stale lock aside, then make sure it is the one judged stale: a racing process
      // may have replaced it with a fresh lock of its own in between, which must be put back.
      const aside = `${path}.stale-${process.pid}-${Date.now()}`;
      try {
        await rename(path, aside);
      } catch {
        throw new LeaseBusyError(source);
      }
      const moved = await readLock(aside);
      if (existing && moved && moved.token !== existing.token) {
        await link(aside, path).catch(() => undefined);
        await rm(aside, { force: true });
        throw new LeaseBusyError(source);
      }
      await rm(aside, { force: true });
      if (!(await this.#create(path, body))) throw new LeaseBusyError(source);
      this.#logger.warn(
        { source, previous: existing?.token, holderHost: existing?.host, holderPid: existing?.pid },
        'took over a lease whose holder stopped renewing it',
      );
    }
    return new FileLease(path, source, body, this.#ttlMs, this.#logger);
  }

  /** Whether a lock may be taken over: expired, or its holder provably gone. */
  async #stale(path: string, existing: LockBody | undefined): Promise<boolean> {
    const now = Date.now();
    if (!existing) {
      // Unreadable: a crash while creating it, or a foreign file. Old enough means abandoned.
      const info = await stat(path).catch(() => undefined);
      return info === undefined || info.mtimeMs + this.#ttlMs + CLOCK_SKEW_MS < now;
    }
    if (existing.expiresAt + CLOCK_SKEW_MS < now) return true;
    return sameMachine(existing, this.#machine) && !processAlive(existing.pid);
  }

  /**
   * Tokens from the clock, above the last one issued from this state directory and above
   * `above` (what storage shows), so that a clock stepped back cannot hand a newer holder a
   * smaller token.
   */
  async #nextToken(above: string | undefined): Promise<bigint> {
    const fence = join(this.#dir, 'fence');
    let last = this.#lastToken;
    try {
      const stored = BigInt((await readFile(fence, 'utf8')).trim());
      if (stored > last) last = stored;
    } catch {
      // absent or unreadable: the clock alone
    }
    if (above !== undefined && /^\d+$/.test(above) && BigInt(above) > last) last = BigInt(above);
    let next = BigInt(Date.now()) * 1000n;
    if (next <= last) next = last + 1n;
    this.#lastToken = next;
    await writeFileAtomic(fence, next.toString());
    return next;
  }

  async #create(path: string, body: LockBody): Promise<boolean> {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(encodeLock(body));
      await handle.sync();
      await handle.close();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  }

  async close(): Promise<void> {}
}

function encodeLock(body: LockBody): Buffer {
  return Buffer.from(JSON.stringify(body).padEnd(LOCK_BYTES, ' '), 'utf8');
}

function parseLock(text: string): LockBody | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<LockBody>;
    if (typeof parsed.token === 'string' && typeof parsed.pid === 'number' && typeof parsed.expiresAt === 'number') {
      return { host: '', bootId: '', pidNamespace: '', ...parsed } as LockBody;
    }
  } catch {
    // half-written or foreign
  }
  return undefined;
}

async function readLock(path: string): Promise<LockBody | undefined> {
  try {
    return parseLock(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}

class FileLease extends RenewedLease {
  constructor(
    private readonly path: string,
    source: string,
    private readonly body: LockBody,
    ttlMs: number,
    logger: Logger,
  ) {
    super(source, body.token, ttlMs, logger);
    this.startRenewing();
  }

  /**
   * Renews through one open file: the token is read and the new expiry written on the same inode,
   * so a lock another process has put in its place (a new file) is never overwritten.
   */
  protected async renewOnce(): Promise<boolean> {
    let handle;
    try {
      handle = await open(this.path, 'r+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    try {
      const current = parseLock(await handle.readFile('utf8'));
      if (!current || current.token !== this.token) return false;
      this.body.expiresAt = Date.now() + this.ttlMs;
      const bytes = encodeLock(this.body);
      await handle.write(bytes, 0, bytes.length, 0);
      await handle.sync();
      return true;
    } finally {
      await handle.close();
    }
  }

  protected async holdsOnce(): Promise<boolean> {
    const current = await readLock(this.path);
    // Expired by our own clock: another process may take it any moment now.
    return current?.token === this.token && current.expiresAt > Date.now();
  }

  protected async releaseOnce(): Promise<void> {
    const current = await readLock(this.path);
    if (current?.token === this.token) await rm(this.path, { force: true });
  }
}
