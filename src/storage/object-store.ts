import type { Readable } from 'node:stream';

/** A listed object. */
export interface ObjectInfo {
  key: string;
  size: number;
}

export interface PutOptions {
  contentType: string;
  /** Hex SHA-256 of the bytes, when the caller already knows it; stores may check or record it. */
  sha256?: string;
  /** Fail with ObjectExistsError instead of overwriting (best effort where the store lacks it). */
  ifNoneMatch?: boolean;
}

/**
 * Where the archive lives. Keys are `/`-separated relative paths; the store adds its own prefix.
 *
 * Contract: when `putFile`/`putBytes` resolves, the bytes are durable and a `get` returns exactly
 * them; a failed put leaves nothing visible under the key (no partial object, no dangling
 * multipart upload). Errors are StorageError with `retryable` set for transient failures;
 * retry loops belong to the caller.
 *
 * Deliberately not part of it: naming keys, manifests, batching, retries.
 */
export interface ObjectStore {
  /** Uploads a local file (a spooled batch) under `key`. */
  putFile(key: string, path: string, options: PutOptions): Promise<void>;
  /** Writes a small object (manifest, intent) under `key`. */
  putBytes(key: string, body: Buffer, options: PutOptions): Promise<void>;
  /** The whole object, or undefined when absent. */
  get(key: string): Promise<Buffer | undefined>;
  /** A stream of the object, or undefined when absent; for hashing large objects. */
  getStream(key: string): Promise<Readable | undefined>;
  /** Keys under `prefix` in lexicographic order, starting strictly after `startAfter`. */
  list(prefix: string, options?: { startAfter?: string }): AsyncIterable<ObjectInfo>;
  /** Removes `key`; absent keys are not an error. */
  delete(key: string): Promise<void>;
  /** Human-readable location for logs (`s3://bucket/prefix`, `file:///path`); never secrets. */
  describe(): string;
  close(): Promise<void>;
}
