import type { Readable } from 'node:stream';

/** A listed object. */
export interface ObjectInfo {
  key: string;
  size: number;
  /**
   * Versioned stores only, from `listCreated`: the key's current version is a delete marker while
   * the first (retained) version still exists, as after a plain `DeleteObject` on a locked bucket.
   */
  deleteMarked?: boolean;
}

/** What a HEAD tells about one object. */
export interface ObjectHead {
  size: number;
  /** The SHA-256 the writer recorded (`x-amz-meta-sha256`), when the store keeps one. */
  sha256: string | undefined;
}

export interface PutOptions {
  contentType: string;
  /** Hex SHA-256 of the bytes, when the caller already knows it; stores check and record it. */
  sha256?: string;
  /**
   * Create-only: fail with ObjectExistsError when the key already holds *other* bytes. A key that
   * already holds exactly these bytes is success: it is this writer's own earlier attempt whose
   * response was lost (the SDK's internal retry then meets its own object).
   */
  ifNoneMatch?: boolean;
}

/**
 * How a store decides which of two create-only writers of one key wins.
 * - `native`: the store refuses the second write atomically (`If-None-Match: *` answered 412,
 *   `link(2)`/`O_EXCL` on a file system).
 * - `versions`: the store keeps every write as a version (S3 versioning, always on with Object
 *   Lock); the first version of a key wins and readers of create-only keys read that version.
 * - `emulate`: HEAD then PUT. Two writers can both win: only with the explicit, documented
 *   `storage.conditionalWrites: emulate` opt-in.
 */
export type Arbitration = 'native' | 'versions' | 'emulate';

/**
 * Where the archive lives. Keys are `/`-separated relative paths; the store adds its own prefix.
 *
 * Contract: when `putFile`/`putBytes` resolves, the bytes are durable and a `get` returns exactly
 * them; a failed put leaves nothing visible under the key (no partial object, no dangling
 * multipart upload). Create-only writes (`ifNoneMatch`) are arbitrated as `prepare()` found the
 * store able to (see Arbitration); `getCreated`/`listCreated` read what such writes decided.
 * Errors are StorageError with `retryable` set for transient failures; retry loops belong to the
 * caller.
 *
 * Deliberately not part of it: naming keys, manifests, batching, retries.
 */
export interface ObjectStore {
  /**
   * Finds out how create-only writes can be made safe here (probing the server where needed) and
   * fails closed, with a hint, when they cannot. Writers call it once before their first write.
   */
  prepare(): Promise<Arbitration>;
  /** Uploads a local file (a spooled batch) under `key`. */
  putFile(key: string, path: string, options: PutOptions): Promise<void>;
  /** Writes a small object (manifest, intent) under `key`. */
  putBytes(key: string, body: Buffer, options: PutOptions): Promise<void>;
  /** The whole object as readers see it now, or undefined when absent. */
  get(key: string): Promise<Buffer | undefined>;
  /** The bytes a create-only write of `key` settled on (its first version on versioned stores). */
  getCreated(key: string): Promise<Buffer | undefined>;
  /** A stream of the object, or undefined when absent; for hashing large objects. */
  getStream(key: string): Promise<Readable | undefined>;
  /** Size and recorded SHA-256 of `key`, or undefined when absent. */
  head(key: string): Promise<ObjectHead | undefined>;
  /** Keys under `prefix` in lexicographic order, starting strictly after `startAfter`. */
  list(prefix: string, options?: { startAfter?: string }): AsyncIterable<ObjectInfo>;
  /** Like `list`, for create-only keys: on versioned stores also keys whose winner hides under a delete marker. */
  listCreated(prefix: string, options?: { startAfter?: string }): AsyncIterable<ObjectInfo>;
  /** The immediate sub-folders of `prefix` (each ending in `/`), in order. */
  listFolders(prefix: string): AsyncIterable<string>;
  /** Removes `key` (on versioned stores: a delete marker); absent keys are not an error. */
  delete(key: string): Promise<void>;
  /** Human-readable location for logs (`s3://bucket/prefix`, `file:///path`); never secrets. */
  describe(): string;
  close(): Promise<void>;
}
