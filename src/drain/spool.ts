import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { processAlive } from '../fsutil/index.js';
import { join } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, type Gzip, type ZlibOptions } from 'node:zlib';
import type { SpooledBatch } from '../archive/index.js';

/**
 * Pages smaller than this are copied into one staging buffer and reach gzip together. Each write
 * to an async zlib stream is a hop to the thread pool and back (a thread woken, an event signalled):
 * a few system calls that cost more than compressing a small page's lines where system calls are
 * dear (a virtual machine with page-table isolation). A DataWorks page (about a megabyte) goes
 * straight through; a 100-entry OOS page (about 30 KB) is staged with thirty others.
 */
const STAGE_BYTES = 1024 * 1024;

/**
 * One batch on its way to storage: envelopes stream through gzip into a local temp file while
 * the SHA-256 of the compressed bytes is computed. Spooling (rather than streaming straight to
 * S3) bounds memory to zlib's window and lets an upload be retried through a long storage outage
 * without asking the provider for the pages again.
 */
export class BatchSpool {
  records = 0;
  /** Uncompressed bytes written. */
  bytes = 0;
  firstId: string | undefined;
  lastId: string | undefined;
  readonly #path: string;
  readonly #gzip: Gzip;
  readonly #hash = createHash('sha256');
  readonly #done: Promise<void>;
  #compressed = 0;
  #failed: unknown;
  /** Lines copied in, not yet handed to gzip, and the staging buffers gzip has given back. */
  #stage: Buffer | undefined;
  #staged = 0;
  readonly #freeStages: Buffer[] = [];

  private constructor(path: string, level: number) {
    this.#path = path;
    // A page (often a megabyte of envelopes) fits in gzip's buffer whole, so compression of one
    // page overlaps the fetch of the next instead of stalling the drain on every write. Two pages'
    // worth, not more: every page waiting here is a render buffer that cannot be reused yet.
    // (zlib streams take stream options; @types/node's ZlibOptions omits them.)
    // memLevel 9 (zlib's largest hash) costs 128 KiB more than the default and saves a few percent
    // of deflate's time; 64 KiB output chunks cut the hops through the hash and the file stream.
    const options: ZlibOptions & { writableHighWaterMark: number } = {
      level,
      memLevel: 9,
      chunkSize: 64 * 1024,
      writableHighWaterMark: 2 * 1024 * 1024,
    };
    this.#gzip = createGzip(options);
    const hash = this.#hash;
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) => {
        hash.update(chunk);
        this.#compressed += chunk.length;
        callback(null, chunk);
      },
    });
    this.#done = pipeline(this.#gzip, counter, createWriteStream(path));
    this.#done.catch((error: unknown) => {
      this.#failed = error;
    });
  }

  /** Removes spool files left by processes that died mid-batch (`kill -9`); returns how many. */
  static async sweep(dir: string): Promise<number> {
    let removed = 0;
    const uid = process.getuid?.();
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const pid = /^batch-(\d+)-[0-9a-f]+\.spool$/.exec(name)?.[1];
      if (pid === undefined || Number(pid) === process.pid || processAlive(Number(pid))) continue;
      const path = join(dir, name);
      // Never another user's file (a shared LOG_ARCHIVER_SPOOL_DIR): theirs to clean up.
      const owner = await lstat(path).then(
        (s) => s.uid,
        () => undefined,
      );
      if (owner === undefined || (uid !== undefined && owner !== uid)) continue;
      if (
        await rm(path, { force: true }).then(
          () => true,
          () => false,
        )
      )
        removed += 1;
    }
    return removed;
  }

  /** Opens a spool file in `dir`. */
  static async open(dir: string, gzipLevel: number): Promise<BatchSpool> {
    await mkdir(dir, { recursive: true });
    return new BatchSpool(join(dir, `batch-${process.pid}-${randomBytes(6).toString('hex')}.spool`), gzipLevel);
  }

  /**
   * Appends rendered NDJSON lines (UTF-8, for `count` records); waits when gzip is behind.
   * `consumed` is called once `lines` is copied or gzip has read all of it (its buffer may then be reused).
   */
  async write(lines: Buffer, count: number, firstId: string, lastId: string, consumed?: () => void): Promise<void> {
    if (this.#failed) throw this.#failed;
    if (count === 0) return;
    this.records += count;
    this.bytes += lines.length;
    this.firstId ??= firstId;
    this.lastId = lastId;
    if (lines.length < STAGE_BYTES / 4) {
      if (this.#stage && this.#staged + lines.length > this.#stage.length) await this.#flushStage();
      this.#stage ??= this.#freeStages.pop() ?? Buffer.allocUnsafe(STAGE_BYTES);
      this.#staged += lines.copy(this.#stage, this.#staged);
      consumed?.();
      return;
    }
    await this.#flushStage();
    await this.#toGzip(lines, consumed);
  }

  /** Hands the staged lines to gzip; the staging buffer comes back once gzip has read it. */
  async #flushStage(): Promise<void> {
    const stage = this.#stage;
    if (!stage || this.#staged === 0) return;
    const lines = stage.subarray(0, this.#staged);
    this.#stage = undefined;
    this.#staged = 0;
    await this.#toGzip(lines, () => this.#freeStages.push(stage));
  }

  async #toGzip(lines: Buffer, consumed?: () => void): Promise<void> {
    // Only a write that succeeded hands the buffer back: after an error zlib may not be done with it.
    if (!this.#gzip.write(lines, consumed && ((error) => error || consumed()))) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          this.#gzip.off('error', onError);
          resolve();
        };
        const onError = (error: Error): void => {
          this.#gzip.off('drain', onDrain);
          reject(error);
        };
        this.#gzip.once('drain', onDrain);
        this.#gzip.once('error', onError);
      });
    }
  }

  /** Flushes gzip and the file; the spool then describes a complete object. */
  async finish(): Promise<SpooledBatch> {
    if (this.#failed) throw this.#failed;
    await this.#flushStage();
    this.#gzip.end();
    await this.#done;
    return {
      path: this.#path,
      sha256: this.#hash.digest('hex'),
      bytes: this.#compressed,
      records: this.records,
      firstId: this.firstId ?? '',
      lastId: this.lastId ?? '',
    };
  }

  /** Removes the spool file, finished or not. */
  async discard(): Promise<void> {
    if (!this.#gzip.writableEnded) this.#gzip.destroy();
    await this.#done.catch(() => undefined);
    await rm(this.#path, { force: true });
  }
}
