import { link, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { processAlive, writeFileAtomic } from '../fsutil/index.js';
import { join } from 'node:path';
import { LeaseBusyError, LeaseLostError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { formatToken, type Lease, type LeaseManager } from './lease.js';

interface LockBody {
  token: string;
  pid: number;
  expiresAt: number;
}

/**
 * Leases as lock files in the state directory, for `run-once` with file checkpoints (cron on
 * one host). A lock whose holder died is taken over once it expires or its pid is gone.
 */
export class FileLeaseManager implements LeaseManager {
  readonly #dir: string;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  #lastToken = 0n;

  constructor(stateDir: string, options: { ttlMs: number; logger: Logger }) {
    this.#dir = join(stateDir, 'leases');
    this.#ttlMs = options.ttlMs;
    this.#logger = options.logger;
  }

  async acquire(source: string): Promise<Lease> {
    await mkdir(this.#dir, { recursive: true });
    const path = join(this.#dir, `${source}.lock`);
    const body: LockBody = { token: formatToken(await this.#nextToken()), pid: process.pid, expiresAt: Date.now() + this.#ttlMs };
    if (!(await this.#create(path, body))) {
      const existing = await readLock(path);
      if (existing && existing.expiresAt > Date.now() && processAlive(existing.pid)) throw new LeaseBusyError(source);
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
      this.#logger.warn({ source, previous: existing?.token }, 'took over an expired lease');
    }
    return new FileLease(path, source, body, this.#ttlMs);
  }

  /**
   * Tokens from the clock, and above the last one issued from this state directory, so that a
   * clock stepped back (NTP) cannot hand a newer holder a smaller token.
   */
  async #nextToken(): Promise<bigint> {
    const fence = join(this.#dir, 'fence');
    let last = this.#lastToken;
    try {
      last = [last, BigInt((await readFile(fence, 'utf8')).trim())].reduce((a, b) => (a > b ? a : b));
    } catch {
      // absent or unreadable: the clock alone
    }
    let next = BigInt(Date.now()) * 1000n;
    if (next <= last) next = last + 1n;
    this.#lastToken = next;
    await writeFileAtomic(fence, next.toString());
    return next;
  }

  async #create(path: string, body: LockBody): Promise<boolean> {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(JSON.stringify(body));
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

async function readLock(path: string): Promise<LockBody | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockBody>;
    if (typeof parsed.token === 'string' && typeof parsed.pid === 'number' && typeof parsed.expiresAt === 'number') {
      return parsed as LockBody;
    }
  } catch {
    // A half-written lock (crash during create) counts as stale.
  }
  return undefined;
}

class FileLease implements Lease {
  readonly token: string;
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  #released = false;

  constructor(
    private readonly path: string,
    readonly source: string,
    private readonly body: LockBody,
    private readonly ttlMs: number,
  ) {
    this.token = body.token;
    this.#timer = setInterval(() => void this.#renew(), Math.max(200, Math.floor(ttlMs / 3)));
    this.#timer.unref();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  async #renew(): Promise<void> {
    try {
      await this.check();
      this.body.expiresAt = Date.now() + this.ttlMs;
      const temp = `${this.path}.renew-${process.pid}`;
      await writeFile(temp, JSON.stringify(this.body));
      await rename(temp, this.path);
    } catch {
      // check() aborted the signal when the lease is gone.
    }
  }

  async check(): Promise<void> {
    if (this.#controller.signal.aborted) throw this.#controller.signal.reason;
    const current = await readLock(this.path);
    if (!current || current.token !== this.token) {
      clearInterval(this.#timer);
      const error = new LeaseLostError(this.source, this.token);
      this.#controller.abort(error);
      throw error;
    }
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    const current = await readLock(this.path);
    if (current?.token === this.token) await rm(this.path, { force: true });
  }
}
