import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, opendir, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { ObjectExistsError, StorageError } from '../errors/index.js';
import type { Arbitration, ObjectHead, ObjectInfo, ObjectStore, PutOptions } from './object-store.js';
import { assertValidKey, compareKeys, normalizePrefix, TEMP_MARKER } from './keys.js';

export interface FileObjectStoreOptions {
  /** Directory holding the archive; created when missing. */
  path: string;
  /** Sub-folder of `path` for every key; normalised to end in `/`. @defaultValue '' */
  prefix?: string;
}

/** Largest chunk a stream reads at once (Node's default for files). */
const STREAM_CHUNK = 64 * 1024;

/** Errors of the local file system that a later attempt may not repeat. */
const TRANSIENT_FS_CODES = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'ENOSPC', 'EIO', 'EINTR', 'ETIMEDOUT']);

/**
 * ObjectStore on a local (or mounted) directory.
 *
 * Writes are crash-safe: bytes go to a temp file in the target directory, are fsynced, then
 * renamed (or hard-linked, for create-only) into place and the directory is fsynced, so after a
 * crash a key holds either nothing, the old bytes or the new bytes — never a prefix.
 * Temp files are named `.la-tmp-<random>`: they never end in `.ndjson.gz`, are never listed, and
 * keys may not use that name.
 *
 * Not done: removing emptied directories on delete (racy with a concurrent put creating one),
 * and guarding against symlinks placed inside the root by someone else.
 */
export class FileObjectStore implements ObjectStore {
  readonly #root: string;

  constructor(options: FileObjectStoreOptions) {
    const base = resolve(options.path);
    const prefix = normalizePrefix(options.prefix);
    this.#root = prefix === '' ? base : join(base, ...prefix.slice(0, -1).split('/'));
  }

  /** link(2) refuses an existing name atomically: create-only writes are native here. */
  async prepare(): Promise<Arbitration> {
    return 'native';
  }

  async putFile(key: string, path: string, options: PutOptions): Promise<void> {
    await this.#write(key, options, async (handle, hash) => {
      const input = createReadStream(path);
      try {
        for await (const chunk of input as AsyncIterable<Buffer>) {
          hash.update(chunk);
          await writeAll(handle, chunk);
        }
      } catch (error) {
        throw new StorageError(`cannot read ${path} to store as ${key}`, { key, retryable: false, cause: error });
      }
    });
  }

  async putBytes(key: string, body: Buffer, options: PutOptions): Promise<void> {
    await this.#write(key, options, async (handle, hash) => {
      hash.update(body);
      await writeAll(handle, body);
    });
  }

  async get(key: string): Promise<Buffer | undefined> {
    const path = this.#pathOf(key);
    try {
      return await readFile(path);
    } catch (error) {
      if (isAbsent(error)) return undefined;
      throw fsError(error, 'read', key);
    }
  }

  async getCreated(key: string): Promise<Buffer | undefined> {
    return await this.get(key);
  }

  async head(key: string): Promise<ObjectHead | undefined> {
    const path = this.#pathOf(key);
    try {
      const info = await stat(path);
      return info.isFile() ? { size: info.size, sha256: undefined } : undefined;
    } catch (error) {
      if (isAbsent(error)) return undefined;
      throw fsError(error, 'stat', key);
    }
  }

  async getStream(key: string): Promise<Readable | undefined> {
    const path = this.#pathOf(key);
    let handle: FileHandle;
    let size: number;
    try {
      // Open first so that absence is reported here, not as a stream error later.
      handle = await open(path, 'r');
      const info = await handle.stat();
      if (!info.isFile()) {
        await handle.close();
        return undefined;
      }
      size = info.size;
    } catch (error) {
      if (isAbsent(error)) return undefined;
      throw fsError(error, 'open', key);
    }
    // Each read allocates a whole chunk: a small object (verify reads every one) gets a chunk its size.
    return handle.createReadStream({ highWaterMark: Math.min(STREAM_CHUNK, Math.max(size, 1)) });
  }

  async *list(prefix: string, options: { startAfter?: string } = {}): AsyncIterable<ObjectInfo> {
    yield* this.#walk(this.#root, '', prefix, options.startAfter);
  }

  listCreated(prefix: string, options: { startAfter?: string } = {}): AsyncIterable<ObjectInfo> {
    return this.list(prefix, options);
  }

  async *listFolders(prefix: string): AsyncIterable<string> {
    if (prefix !== '' && !prefix.endsWith('/')) return;
    const dir = prefix === '' ? this.#root : this.#pathOf(prefix.slice(0, -1));
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isAbsent(error)) return;
      throw fsError(error, 'list', prefix);
    }
    const folders = entries
      .filter((e) => e.isDirectory() && !e.name.startsWith(TEMP_MARKER))
      .map((e) => `${prefix}${e.name}/`)
      .sort(compareKeys);
    yield* folders;
  }

  async delete(key: string): Promise<void> {
    const path = this.#pathOf(key);
    try {
      await unlink(path);
    } catch (error) {
      if (isAbsent(error)) return;
      throw fsError(error, 'delete', key);
    }
    await fsyncDir(dirname(path)).catch(() => undefined);
  }

  describe(): string {
    return pathToFileURL(this.#root).href;
  }

  async close(): Promise<void> {}

  /** The absolute path of `key`; keys are validated so it always lies under the root. */
  #pathOf(key: string): string {
    assertValidKey(key);
    const path = join(this.#root, ...key.split('/'));
    // Belt and braces: validation already rules out `..`, absolute keys and backslashes.
    if (!path.startsWith(this.#root + sep)) {
      throw new StorageError(`object key ${JSON.stringify(key)} escapes the store root`, { key, retryable: false });
    }
    return path;
  }

  async #write(
    key: string,
    options: PutOptions,
    fill: (handle: FileHandle, hash: ReturnType<typeof createHash>) => Promise<void>,
  ): Promise<void> {
    const path = this.#pathOf(key);
    const dir = dirname(path);
    try {
      await mkdirDurable(dir);
    } catch (error) {
      throw fsError(error, 'create directory for', key);
    }
    const temp = join(dir, `${TEMP_MARKER}${randomBytes(12).toString('hex')}`);
    let handle: FileHandle | undefined;
    let placed = false;
    try {
      handle = await open(temp, 'wx', 0o644);
      const hash = createHash('sha256');
      await fill(handle, hash);
      const actual = hash.digest('hex');
      if (options.sha256 !== undefined && options.sha256.toLowerCase() !== actual) {
        throw new StorageError(`SHA-256 of ${key} is ${actual}, the caller expected ${options.sha256}`, {
          key,
          retryable: false,
          hint: 'the spooled batch changed while being stored',
        });
      }
      await handle.sync();
      await handle.close();
      handle = undefined;
      if (options.ifNoneMatch === true) {
        // link() fails with EEXIST when the name is taken: an atomic create-only, unlike
        // stat-then-rename. The temp name is removed afterwards either way.
        try {
          await link(temp, path);
        } catch (error) {
          if (errnoCode(error) !== 'EEXIST') throw error;
          // Taken: success only when it holds these very bytes (our own earlier attempt).
          if ((await hashFile(path).catch(() => undefined)) !== actual) throw new ObjectExistsError(key);
        }
      } else {
        await rename(temp, path);
        placed = true;
      }
      await fsyncDir(dir);
    } catch (error) {
      throw error instanceof StorageError ? error : fsError(error, 'write', key);
    } finally {
      await handle?.close().catch(() => undefined);
      if (!placed) await unlink(temp).catch(() => undefined);
    }
  }

  async *#walk(dir: string, keyPrefix: string, prefix: string, startAfter: string | undefined): AsyncGenerator<ObjectInfo> {
    // A folder's entries are read one by one and only the names that can match are kept (bare
    // names: a folder of 100,000 chain entries costs about 4 MB while it is listed).
    // Directories sort as `name/`: every key below `a` starts with `a/`, so this yields keys
    // in the same byte order S3 lists them (`a-b` before `a/c`, since `-` < `/`).
    const named: string[] = [];
    try {
      for await (const entry of await opendir(dir)) {
        if (entry.name.startsWith(TEMP_MARKER)) continue;
        const folder = entry.isDirectory();
        if (!folder && !entry.isFile()) continue;
        const name = folder ? `${entry.name}/` : entry.name;
        const key = keyPrefix + name;
        if (folder) {
          // Skip subtrees that cannot hold a matching key: outside the prefix, or wholly at or
          // before startAfter (every key below starts with `key`, and `key` < startAfter without
          // being its prefix).
          if (!key.startsWith(prefix) && !prefix.startsWith(key)) continue;
          if (startAfter !== undefined && compareKeys(key, startAfter) < 0 && !startAfter.startsWith(key)) continue;
        } else {
          if (!key.startsWith(prefix)) continue;
          if (startAfter !== undefined && compareKeys(key, startAfter) <= 0) continue;
        }
        named.push(name);
      }
    } catch (error) {
      if (isAbsent(error)) return;
      throw fsError(error, 'list', keyPrefix);
    }
    named.sort(compareKeys);
    for (const name of named) {
      const key = keyPrefix + name;
      if (name.endsWith('/')) {
        yield* this.#walk(join(dir, name.slice(0, -1)), key, prefix, startAfter);
        continue;
      }
      let size: number;
      try {
        size = (await stat(join(dir, name))).size;
      } catch (error) {
        if (isAbsent(error)) continue; // deleted while we listed
        throw fsError(error, 'stat', key);
      }
      yield { key, size };
    }
  }
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

/** Creates `dir` and fsyncs the parents of every directory created, so the names survive a crash. */
async function mkdirDurable(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return;
  // `first` is the topmost directory created; each one from there down needs its parent synced.
  let current = dir;
  const toSync: string[] = [];
  while (current.length >= first.length) {
    toSync.push(dirname(current));
    if (current === first) break;
    current = dirname(current);
  }
  for (const parent of toSync.reverse()) await fsyncDir(parent);
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

function isAbsent(error: unknown): boolean {
  const code = errnoCode(error);
  // ENOTDIR: a path component is a file (`a/b` when `a` is an object); EISDIR: the key is a folder.
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

function fsError(error: unknown, action: string, key: string): StorageError {
  const code = errnoCode(error) ?? 'unknown';
  const retryable = TRANSIENT_FS_CODES.has(code);
  return new StorageError(`file store could not ${action} ${key}: ${code}`, {
    key,
    retryable,
    cause: error,
    ...(code === 'EACCES' || code === 'EPERM' ? { hint: 'the worker lacks permission on the storage directory' } : {}),
    ...(code === 'ENOSPC' ? { hint: 'the storage volume is full' } : {}),
  });
}
