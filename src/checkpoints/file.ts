import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Lease } from '../leases/index.js';
import { writeFileAtomic } from '../fsutil/index.js';
import { parseState, parseStatus, type CheckpointStore, type RunStatus, type SourceState } from './checkpoint-store.js';

/** Checkpoint cache as JSON files in the state directory, replaced atomically. */
export class FileCheckpointStore implements CheckpointStore {
  readonly #dir: string;

  constructor(stateDir: string) {
    this.#dir = stateDir;
  }

  async load(source: string): Promise<SourceState | undefined> {
    return parseState(await readOptional(join(this.#dir, 'state', `${source}.json`)));
  }

  async save(source: string, state: SourceState, lease: Lease): Promise<void> {
    await lease.check();
    await mkdir(join(this.#dir, 'state'), { recursive: true });
    await writeFileAtomic(join(this.#dir, 'state', `${source}.json`), JSON.stringify(state, null, 2));
  }

  async loadStatus(source: string): Promise<RunStatus | undefined> {
    return parseStatus(await readOptional(join(this.#dir, 'status', `${source}.json`)));
  }

  async saveStatus(source: string, status: RunStatus): Promise<void> {
    await mkdir(join(this.#dir, 'status'), { recursive: true });
    await writeFileAtomic(join(this.#dir, 'status', `${source}.json`), JSON.stringify(status, null, 2));
  }

  async close(): Promise<void> {}
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
