import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LeaseLostError } from '../errors/index.js';
import type { Lease } from '../leases/index.js';
import { writeFileAtomic } from '../fsutil/index.js';
import { parseState, parseStatus, type CheckpointStore, type RunStatus, type SourceState } from './checkpoint-store.js';

/**
 * Checkpoint cache as JSON files in the state directory. Each holder writes its own file, named
 * by its fencing token (`state/<source>/<token>.json`), and readers take the highest token: a
 * stale holder's late write can never replace a newer holder's state, with no check-then-write
 * and no lock (Node has no flock).
 */
export class FileCheckpointStore implements CheckpointStore {
  readonly #dir: string;

  constructor(stateDir: string) {
    this.#dir = stateDir;
  }

  async load(source: string): Promise<SourceState | undefined> {
    const tokens = await this.#tokens(source);
    const newest = tokens[tokens.length - 1];
    if (newest !== undefined) return parseState(await readOptional(join(this.#folder(source), `${newest}.json`)));
    // The layout before per-token files.
    return parseState(await readOptional(join(this.#dir, 'state', `${source}.json`)));
  }

  async save(source: string, state: SourceState, lease: Lease): Promise<void> {
    await lease.check();
    await mkdir(this.#folder(source), { recursive: true });
    await writeFileAtomic(join(this.#folder(source), `${lease.token}.json`), JSON.stringify(state, null, 2));
    const tokens = await this.#tokens(source);
    if (tokens.some((t) => t > lease.token)) throw new LeaseLostError(source, lease.token);
    for (const token of tokens) if (token < lease.token) await rm(join(this.#folder(source), `${token}.json`), { force: true });
  }

  async loadStatus(source: string): Promise<RunStatus | undefined> {
    return parseStatus(await readOptional(join(this.#dir, 'status', `${source}.json`)));
  }

  async saveStatus(source: string, status: RunStatus): Promise<void> {
    await mkdir(join(this.#dir, 'status'), { recursive: true });
    await writeFileAtomic(join(this.#dir, 'status', `${source}.json`), JSON.stringify(status, null, 2));
  }

  async close(): Promise<void> {}

  #folder(source: string): string {
    return join(this.#dir, 'state', source);
  }

  async #tokens(source: string): Promise<string[]> {
    try {
      const names = await readdir(this.#folder(source));
      return names
        .filter((n) => /^\d{16}\.json$/.test(n))
        .map((n) => n.slice(0, 16))
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw error;
    }
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
