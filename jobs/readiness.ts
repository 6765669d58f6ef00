import type { ObjectStore } from '../src/storage/index.js';
import type { CheckResult } from './http-server.js';

/** What `/readyz` needs to ping Redis (any ioredis client: standalone or Cluster). */
interface Pingable {
  ping(): Promise<string>;
}

const CHECK_TIMEOUT_MS = 2_000;
const CACHE_MS = 5_000;
// An object key nothing is stored under: listing it asks storage for one cheap page.
const PROBE_PREFIX = '.readyz-probe/';

/**
 * The worker is ready when Redis answers, storage answers, and the job schedulers were brought
 * in line with the config recently (a Redis that lost its data gets them back within one resync).
 * Results are cached for a few seconds, so probes and scrapes cannot flood storage.
 */
export class Readiness {
  readonly #redis: Pingable;
  readonly #store: ObjectStore;
  readonly #resyncMs: number;
  #lastSync: { at: number; error: string | undefined } | undefined;
  #stopping = false;
  #cached: { at: number; checks: Promise<Record<string, CheckResult>> } | undefined;

  constructor(redis: Pingable, store: ObjectStore, resyncMs: number) {
    this.#redis = redis;
    this.#store = store;
    this.#resyncMs = resyncMs;
  }

  /** Records the outcome of a scheduler sync. */
  synced(error?: Error): void {
    this.#lastSync = { at: Date.now(), error: error?.message };
  }

  /** From the first shutdown signal on, the worker is not ready. */
  stopping(): void {
    this.#stopping = true;
  }

  check(): Promise<Record<string, CheckResult>> {
    if (!this.#cached || Date.now() - this.#cached.at > CACHE_MS) this.#cached = { at: Date.now(), checks: this.#run() };
    return this.#cached.checks;
  }

  async #run(): Promise<Record<string, CheckResult>> {
    const [redis, storage] = await Promise.all([
      probe(async () => {
        await this.#redis.ping();
        return 'PING answered';
      }),
      probe(async () => {
        for await (const _ of this.#store.list(PROBE_PREFIX)) break;
        return `listing ${this.#store.describe()} answered`;
      }),
    ]);
    const checks: Record<string, CheckResult> = { redis, storage, schedulers: this.#schedulers() };
    if (this.#stopping) checks.shutdown = { ok: false, detail: 'shutting down' };
    return checks;
  }

  #schedulers(): CheckResult {
    const sync = this.#lastSync;
    if (!sync) return { ok: false, detail: 'not synced yet' };
    if (sync.error) return { ok: false, detail: `last sync failed: ${sync.error}` };
    const age = Date.now() - sync.at;
    if (age > 3 * this.#resyncMs) return { ok: false, detail: `last synced ${Math.round(age / 1000)} s ago` };
    return { ok: true, detail: `in sync with the config (${Math.round(age / 1000)} s ago)` };
  }
}

async function probe(check: () => Promise<string>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    return { ok: true, detail: await Promise.race([check(), timeout]) };
  } catch (error) {
    return { ok: false, detail: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
