import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { PutObjectCommandInput, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { ConfigError, ObjectExistsError, StorageError } from '../errors/index.js';
import type { Arbitration, ObjectHead, ObjectInfo, ObjectStore, PutOptions } from './object-store.js';
import { assertValidKey, compareKeys, normalizePrefix } from './keys.js';
import { lazyModule } from '../lazy-module.js';
import { agentProxyOptions, type ProxyEnv } from '../http/index.js';

/** How the SDK computes and checks CRC checksums (see the S3 client's own option of that name). */
export type ChecksumMode = 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';

/**
 * How create-only writes are arbitrated (see Arbitration).
 * - `auto` (default): a versioned bucket (always so with Object Lock) arbitrates by versions;
 *   otherwise `If-None-Match: *` is probed once and used when the server honours it, and the
 *   store refuses to write when it does not.
 * - `native` / `versions`: insist on that one; refuse to start when the bucket cannot do it.
 * - `emulate`: HEAD then PUT, for servers with neither. **Racy**: two deployments writing one
 *   prefix at once can both "win" a manifest number and one object's records are then lost
 *   from the chain. An explicit opt-in with that risk accepted.
 */
export type ConditionalWrites = 'auto' | 'native' | 'versions' | 'emulate';

/** WORM retention put on every object written (S3 Object Lock). */
export interface ObjectLockSettings {
  mode: 'COMPLIANCE' | 'GOVERNANCE';
  retainDays: number;
}

export interface S3ObjectStoreOptions {
  bucket: string;
  /** Folder inside the bucket; normalised to end in `/`. @defaultValue '' */
  prefix?: string;
  region: string;
  /** S3-compatible endpoint (MinIO, OSS, OBS, a local server). @defaultValue AWS S3 for `region` */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`); most self-hosted servers need it. @defaultValue false */
  forcePathStyle?: boolean;
  /** Static credentials; otherwise the SDK default chain (env, profile, IMDS, web identity). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * @defaultValue `WHEN_REQUIRED` with a custom `endpoint`, the SDK default otherwise. Since
   * 3.729 the SDK streams bodies as `aws-chunked` with a CRC32 trailer, which OSS, OBS, older
   * MinIO and s3rver reject or store verbatim (framing included).
   */
  requestChecksumCalculation?: ChecksumMode;
  /** @defaultValue `WHEN_REQUIRED` with a custom `endpoint`, the SDK default otherwise. */
  responseChecksumValidation?: ChecksumMode;
  /** Part size of multipart uploads; S3's minimum is 5 MiB. @defaultValue 8 MiB */
  partSizeBytes?: number;
  /** Files of at least this size go multipart; smaller ones are one PutObject. @defaultValue 16 MiB */
  multipartThresholdBytes?: number;
  /** Parts uploaded at once; memory use is about `queueSize × partSizeBytes`. @defaultValue 4 */
  multipartQueueSize?: number;
  /** @defaultValue `auto`. See {@link ConditionalWrites}. */
  conditionalWrites?: ConditionalWrites;
  /** Retention on every object; `prepare()` refuses a bucket without Object Lock. */
  objectLock?: ObjectLockSettings;
  /**
   * SDK attempts per request, the first included. Kept low: retry loops with backoff belong to
   * the caller, which knows the deadline. @defaultValue 3
   */
  maxAttempts?: number;
  /** TCP connect timeout in ms, so an unreachable server fails in seconds. @defaultValue 3000 */
  connectionTimeoutMs?: number;
  /** Socket idle timeout per request in ms. @defaultValue 30000 */
  requestTimeoutMs?: number;
  /** The proxies storage calls go through, and the hosts that go direct. @defaultValue no proxy */
  proxy?: ProxyEnv;
}

const MiB = 1024 * 1024;
const MIN_PART_SIZE = 5 * MiB;
/** Written twice with `If-None-Match: *` to see whether the server refuses the second write. */
const PROBE_KEY = '_archive/conditional-write-probe';

/** The AWS SDK, loaded when the first S3 store is built: about 37 MB of RSS a file-store process never needs. */
const s3Sdk = lazyModule<typeof S3Sdk>('@aws-sdk/client-s3');

/** An upload we could not abort because the server was unreachable; retried later. */
interface PendingAbort {
  key: string;
  uploadId: string;
}

/** One version of a key, as ListObjectVersions reports it. */
interface VersionInfo {
  versionId: string;
  size: number;
}

/** ObjectStore on AWS S3 and S3-compatible servers through @aws-sdk/client-s3. */
export class S3ObjectStore implements ObjectStore {
  readonly #sdk: typeof S3Sdk;
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #endpoint: string | undefined;
  readonly #partSize: number;
  readonly #threshold: number;
  readonly #queueSize: number;
  readonly #conditional: ConditionalWrites;
  readonly #objectLock: ObjectLockSettings | undefined;
  readonly #pendingAborts: PendingAbort[] = [];
  #arbitration: Promise<Arbitration> | undefined;
  #versioned: Promise<boolean> | undefined;

  constructor(options: S3ObjectStoreOptions) {
    this.#bucket = options.bucket;
    this.#prefix = normalizePrefix(options.prefix);
    this.#endpoint = options.endpoint;
    this.#partSize = Math.max(MIN_PART_SIZE, options.partSizeBytes ?? 8 * MiB);
    this.#threshold = Math.max(1, options.multipartThresholdBytes ?? 16 * MiB);
    this.#queueSize = Math.max(1, options.multipartQueueSize ?? 4);
    const custom = options.endpoint !== undefined;
    this.#conditional = options.conditionalWrites ?? 'auto';
    this.#objectLock = options.objectLock;
    const requestChecksum = options.requestChecksumCalculation ?? (custom ? 'WHEN_REQUIRED' : undefined);
    const responseChecksum = options.responseChecksumValidation ?? (custom ? 'WHEN_REQUIRED' : undefined);
    const config: S3ClientConfig = {
      region: options.region,
      maxAttempts: options.maxAttempts ?? 3,
      requestHandler: {
        connectionTimeout: options.connectionTimeoutMs ?? 3_000,
        requestTimeout: options.requestTimeoutMs ?? 30_000,
        ...agentProxyOptions(options.proxy),
      },
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.forcePathStyle !== undefined ? { forcePathStyle: options.forcePathStyle } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      ...(requestChecksum !== undefined ? { requestChecksumCalculation: requestChecksum } : {}),
      ...(responseChecksum !== undefined ? { responseChecksumValidation: responseChecksum } : {}),
    };
    this.#sdk = s3Sdk();
    this.#client = new this.#sdk.S3Client(config);
  }

  /** The underlying client, for tests and tools that need an S3 call the interface lacks. */
  get client(): S3Client {
    return this.#client;
  }

  prepare(): Promise<Arbitration> {
    this.#arbitration ??= this.#decide();
    // A failed probe (server down) is tried again by the next caller.
    this.#arbitration.catch(() => {
      this.#arbitration = undefined;
    });
    return this.#arbitration;
  }

  async putFile(key: string, path: string, options: PutOptions): Promise<void> {
    assertValidKey(key);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (error) {
      throw new StorageError(`cannot read ${path} to upload as ${key}`, { key, retryable: false, cause: error });
    }
    const createOnly = options.ifNoneMatch === true;
    const mode = createOnly ? await this.prepare() : undefined;
    // Data keys are unique per writer, so a create-only file races only with its own retries:
    // where the server cannot refuse the write itself (versions, emulate, and multipart, whose
    // CompleteMultipartUpload some servers complete over an existing key), look first.
    const small = size < this.#threshold;
    const headerGuard = createOnly && mode === 'native' && small;
    if (createOnly && !headerGuard && (await this.#sameAsExisting(key, options.sha256, size))) return;
    try {
      if (small) {
        // Below the threshold the body is read into memory (bounded by the threshold): the SDK
        // retries buffered bodies but refuses to retry a consumed stream.
        let body: Buffer;
        try {
          body = await readFile(path);
        } catch (error) {
          throw new StorageError(`cannot read ${path} to upload as ${key}`, { key, retryable: false, cause: error });
        }
        await this.#putObject(key, body, options, headerGuard);
      } else {
        await this.#putMultipart(key, path, size, options);
      }
    } catch (error) {
      if (error instanceof ObjectExistsError && (await this.#sameAsExisting(key, options.sha256, size))) return;
      throw error;
    }
    await this.#drainPendingAborts();
  }

  async putBytes(key: string, body: Buffer, options: PutOptions): Promise<void> {
    assertValidKey(key);
    if (options.ifNoneMatch !== true) {
      await this.#putObject(key, body, options, false);
    } else {
      const mode = await this.prepare();
      if (mode === 'versions') await this.#createVersioned(key, body, options);
      else await this.#createPlain(key, body, options, mode);
    }
    await this.#drainPendingAborts();
  }

  async get(key: string): Promise<Buffer | undefined> {
    assertValidKey(key);
    return await this.#getVersion(key, undefined);
  }

  async getCreated(key: string): Promise<Buffer | undefined> {
    assertValidKey(key);
    if (!(await this.#readsVersions())) return await this.#getVersion(key, undefined);
    const first = await this.#firstVersion(key);
    return first ? await this.#getVersion(key, first.versionId) : undefined;
  }

  async getStream(key: string): Promise<Readable | undefined> {
    assertValidKey(key);
    try {
      const out = await this.#client.send(new this.#sdk.GetObjectCommand({ Bucket: this.#bucket, Key: this.#fullKey(key) }));
      if (out.Body === undefined) return Readable.from([]);
      if (out.Body instanceof Readable) return out.Body;
      // Not reached on Node (the body is an IncomingMessage); kept for other runtimes.
      return Readable.from(Buffer.from(await out.Body.transformToByteArray()));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.#mapError(error, 'GetObject', key);
    }
  }

  async head(key: string): Promise<ObjectHead | undefined> {
    assertValidKey(key);
    return await this.#head(key, undefined);
  }

  async *list(prefix: string, options: { startAfter?: string } = {}): AsyncIterable<ObjectInfo> {
    const fullPrefix = this.#prefix + prefix;
    // Paging by StartAfter (the last key seen) rather than continuation tokens: a token is
    // opaque and server-specific, a key is not, and S3-compatible servers agree on it.
    let after: string | undefined = options.startAfter !== undefined ? this.#prefix + options.startAfter : undefined;
    if (after !== undefined && compareKeys(after, fullPrefix) < 0) after = undefined;
    for (;;) {
      let page;
      try {
        page = await this.#client.send(
          new this.#sdk.ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: fullPrefix === '' ? undefined : fullPrefix,
            StartAfter: after,
            MaxKeys: 1000,
          }),
        );
      } catch (error) {
        throw this.#mapError(error, 'ListObjectsV2', prefix);
      }
      const contents = page.Contents ?? [];
      for (const item of contents) {
        const fullKey = item.Key;
        if (fullKey === undefined || !fullKey.startsWith(fullPrefix)) continue;
        // A server that lists out of order would make StartAfter paging skip or loop; refuse it.
        if (after !== undefined && compareKeys(fullKey, after) <= 0) {
          throw new StorageError(`S3 listing of ${this.describe()} is not in key order at ${fullKey}`, {
            retryable: false,
            hint: 'the S3-compatible server does not list keys in lexicographic order',
          });
        }
        after = fullKey;
        yield { key: fullKey.slice(this.#prefix.length), size: item.Size ?? 0 };
      }
      if (page.IsTruncated !== true || contents.length === 0) return;
    }
  }

  async *listCreated(prefix: string, options: { startAfter?: string } = {}): AsyncIterable<ObjectInfo> {
    if (!(await this.#readsVersions())) {
      yield* this.list(prefix, options);
      return;
    }
    const fullPrefix = this.#prefix + prefix;
    let keyMarker: string | undefined = options.startAfter !== undefined ? this.#prefix + options.startAfter : undefined;
    let versionMarker: string | undefined;
    // The key a page ended on may have more (older) versions on the next page.
    let open: { key: string; size: number | undefined; latestIsMarker: boolean } | undefined;
    const cut = this.#prefix.length;
    const flush = (): ObjectInfo[] => {
      const done = open;
      open = undefined;
      if (!done || done.size === undefined) return [];
      return [{ key: done.key.slice(cut), size: done.size, ...(done.latestIsMarker ? { deleteMarked: true } : {}) }];
    };
    for (;;) {
      let page;
      try {
        page = await this.#client.send(
          new this.#sdk.ListObjectVersionsCommand({
            Bucket: this.#bucket,
            Prefix: fullPrefix === '' ? undefined : fullPrefix,
            KeyMarker: keyMarker,
            VersionIdMarker: keyMarker !== undefined ? versionMarker : undefined,
            MaxKeys: 1000,
          }),
        );
      } catch (error) {
        throw this.#mapError(error, 'ListObjectVersions', prefix);
      }
      type Entry = { key: string; size: number | undefined; latest: boolean; marker: boolean };
      const entries: Entry[] = [
        ...(page.Versions ?? []).map((v) => ({ key: v.Key ?? '', size: v.Size ?? 0, latest: v.IsLatest === true, marker: false })),
        ...(page.DeleteMarkers ?? []).map((d) => ({ key: d.Key ?? '', size: undefined, latest: d.IsLatest === true, marker: true })),
      ].filter((e) => e.key.startsWith(fullPrefix));
      // Versions and delete markers come as two lists; per key, newest first. Order by key only:
      // which entry is latest is flagged, and the oldest version is the last non-marker seen.
      entries.sort((a, b) => compareKeys(a.key, b.key));
      for (const entry of entries) {
        if (open && open.key !== entry.key) yield* flush();
        open ??= { key: entry.key, size: undefined, latestIsMarker: false };
        if (entry.latest && entry.marker) open.latestIsMarker = true;
        if (!entry.marker) open.size = entry.size;
      }
      if (page.IsTruncated !== true) {
        yield* flush();
        return;
      }
      keyMarker = page.NextKeyMarker;
      versionMarker = page.NextVersionIdMarker;
      if (keyMarker === undefined) {
        yield* flush();
        return;
      }
    }
  }

  async *listFolders(prefix: string): AsyncIterable<string> {
    const fullPrefix = this.#prefix + prefix;
    let token: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.#client.send(
          new this.#sdk.ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: fullPrefix === '' ? undefined : fullPrefix,
            Delimiter: '/',
            ContinuationToken: token,
            MaxKeys: 1000,
          }),
        );
      } catch (error) {
        throw this.#mapError(error, 'ListObjectsV2', prefix);
      }
      const folders = (page.CommonPrefixes ?? [])
        .map((p) => p.Prefix ?? '')
        .filter((p) => p.startsWith(fullPrefix))
        .sort(compareKeys);
      for (const folder of folders) yield folder.slice(this.#prefix.length);
      if (page.IsTruncated !== true || page.NextContinuationToken === undefined) return;
      token = page.NextContinuationToken;
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.#client.send(new this.#sdk.DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#fullKey(key) }));
    } catch (error) {
      if (isNotFound(error)) return;
      throw this.#mapError(error, 'DeleteObject', key);
    }
  }

  describe(): string {
    const location = `s3://${this.#bucket}/${this.#prefix}`;
    return this.#endpoint === undefined ? location : `${location} at ${safeEndpoint(this.#endpoint)}`;
  }

  async close(): Promise<void> {
    await this.#drainPendingAborts();
    this.#client.destroy();
  }

  #fullKey(key: string): string {
    return this.#prefix + key;
  }

  async #decide(): Promise<Arbitration> {
    if (this.#objectLock) await this.#assertObjectLock();
    if (this.#conditional === 'emulate') return 'emulate';
    const versioned = await this.#bucketVersioned();
    if (this.#conditional === 'versions' || (this.#conditional === 'auto' && versioned)) {
      if (!versioned) {
        throw new ConfigError(`bucket ${this.#bucket} does not have versioning enabled`, [
          { path: 'storage.conditionalWrites', message: '"versions" needs bucket versioning (Status Enabled); or use "auto"' },
        ]);
      }
      return 'versions';
    }
    if (await this.#honoursIfNoneMatch()) return 'native';
    throw new ConfigError(`${this.describe()} ignores If-None-Match: two writers of one chain entry could both succeed`, [
      {
        path: 'storage.conditionalWrites',
        message:
          'the server overwrites despite If-None-Match: enable versioning on the bucket (arbitration by versions), or accept the race explicitly with conditionalWrites: emulate',
      },
    ]);
  }

  async #assertObjectLock(): Promise<void> {
    let enabled = false;
    try {
      const out = await this.#client.send(new this.#sdk.GetObjectLockConfigurationCommand({ Bucket: this.#bucket }));
      enabled = out.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
    } catch (error) {
      const f = facts(error);
      if (!(f.name === 'ObjectLockConfigurationNotFoundError' || f.status === 404 || f.code === 'ObjectLockConfigurationNotFoundError')) {
        throw this.#mapError(error, 'GetObjectLockConfiguration', '');
      }
      if (isBucketMissing(error)) throw this.#mapError(error, 'GetObjectLockConfiguration', '');
    }
    if (!enabled) {
      // Fail closed: a configuration that promises WORM must not write without it.
      throw new ConfigError(`storage.objectLock is set but bucket ${this.#bucket} has no Object Lock`, [
        {
          path: 'storage.objectLock',
          message:
            'the bucket has no Object Lock; it can only be enabled when a bucket is created: create it with Object Lock enabled (that turns versioning on), or remove storage.objectLock',
        },
      ]);
    }
  }

  /** Whether reads of create-only keys must pick the first version. */
  async #readsVersions(): Promise<boolean> {
    if (this.#conditional === 'versions') return true;
    if (this.#conditional !== 'auto') return false;
    return await this.#bucketVersioned();
  }

  #bucketVersioned(): Promise<boolean> {
    this.#versioned ??= (async () => {
      try {
        const out = await this.#client.send(new this.#sdk.GetBucketVersioningCommand({ Bucket: this.#bucket }));
        return out.Status === 'Enabled' || out.Status === 'Suspended';
      } catch (error) {
        const f = facts(error);
        // Servers without the API (s3rver) and auditors without the permission: unversioned.
        if (f.name === 'NotImplemented' || f.status === 501 || f.status === 405 || (f.status === 403 && !isBucketMissing(error)))
          return false;
        throw this.#mapError(error, 'GetBucketVersioning', '');
      }
    })();
    this.#versioned.catch(() => {
      this.#versioned = undefined;
    });
    return this.#versioned;
  }

  /**
   * Writes the probe key with `If-None-Match: *`; the server honours the header when that, or a
   * second write right after, is refused with 412. On a server that honours it the probe key is
   * written once in the bucket's life: later probes are refused at once.
   */
  async #honoursIfNoneMatch(): Promise<boolean> {
    const body = Buffer.from(`conditional-write probe ${randomBytes(8).toString('hex')}\n`);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        await this.#client.send(
          new this.#sdk.PutObjectCommand({
            ...this.#lockParams(body),
            Bucket: this.#bucket,
            Key: this.#fullKey(PROBE_KEY),
            Body: body,
            ContentLength: body.length,
            ContentType: 'text/plain',
            IfNoneMatch: '*',
          }),
        );
      } catch (error) {
        const f = facts(error);
        if (f.status === 412 || f.name === 'PreconditionFailed') return true;
        if (f.name === 'NotImplemented' || f.status === 501) return false;
        throw this.#mapError(error, 'PutObject (conditional-write probe)', PROBE_KEY);
      }
    }
    return false;
  }

  #lockParams(body?: Buffer): Partial<PutObjectCommandInput> {
    if (!this.#objectLock) return {};
    return {
      ObjectLockMode: this.#objectLock.mode,
      ObjectLockRetainUntilDate: new Date(Date.now() + this.#objectLock.retainDays * 86_400_000),
      // S3 requires an integrity header on uploads with retention.
      ...(body ? { ContentMD5: createHash('md5').update(body).digest('base64') } : {}),
    };
  }

  #baseParams(key: string, options: PutOptions): PutObjectCommandInput {
    return {
      Bucket: this.#bucket,
      Key: this.#fullKey(key),
      ContentType: options.contentType,
      // Sent as `x-amz-meta-sha256`: lets `verify` and people with `aws s3api head-object`
      // check an object without downloading it.
      ...(options.sha256 !== undefined ? { Metadata: { sha256: options.sha256 } } : {}),
    };
  }

  async #putObject(key: string, body: Buffer, options: PutOptions, ifNoneMatch: boolean): Promise<string | undefined> {
    try {
      const out = await this.#client.send(
        new this.#sdk.PutObjectCommand({
          ...this.#baseParams(key, options),
          ...this.#lockParams(body),
          ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
          Body: body,
          ContentLength: body.length,
        }),
      );
      return out.VersionId;
    } catch (error) {
      throw this.#mapError(error, 'PutObject', key, ifNoneMatch);
    }
  }

  /** Create-only by the server's 412 (native) or by looking first (emulate). */
  async #createPlain(key: string, body: Buffer, options: PutOptions, mode: Arbitration): Promise<void> {
    const sha = sha256Hex(body);
    if (mode === 'emulate') {
      const existing = await this.#getVersion(key, undefined);
      if (existing !== undefined) {
        if (sha256Hex(existing) === sha) return;
        throw new ObjectExistsError(key);
      }
      await this.#putObject(key, body, options, false);
      return;
    }
    try {
      await this.#putObject(key, body, options, true);
    } catch (error) {
      if (!(error instanceof ObjectExistsError)) throw error;
      const existing = await this.#getVersion(key, undefined);
      if (existing === undefined || sha256Hex(existing) !== sha) throw error;
    }
  }

  /**
   * Create-only by versions: write, then list the key's versions; the first version wins. A
   * loser removes its own version where the bucket allows it (not under Object Lock: there it
   * stays, newer than the winner, and readers of create-only keys never see it).
   */
  async #createVersioned(key: string, body: Buffer, options: PutOptions): Promise<void> {
    const sha = sha256Hex(body);
    const own = await this.#putObject(key, body, options, false);
    if (own === undefined) {
      throw new StorageError(`PutObject of ${key} in ${this.describe()} returned no version id: the bucket is not versioned`, {
        key,
        retryable: false,
        hint: 'arbitration by versions needs bucket versioning enabled',
      });
    }
    const first = await this.#firstVersion(key);
    if (!first) throw new StorageError(`version ${own} of ${key} is not listed yet`, { key, retryable: true });
    if (first.versionId === own) return;
    const winner = await this.#getVersion(key, first.versionId);
    await this.#deleteVersion(key, own);
    if (winner !== undefined && sha256Hex(winner) === sha) return;
    throw new ObjectExistsError(key);
  }

  async #deleteVersion(key: string, versionId: string): Promise<void> {
    try {
      await this.#client.send(new this.#sdk.DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#fullKey(key), VersionId: versionId }));
    } catch {
      // Locked (403) or unreachable: a later version never wins, so it may stay.
    }
  }

  /** The oldest version of `key` that is not a delete marker. */
  async #firstVersion(key: string): Promise<VersionInfo | undefined> {
    const full = this.#fullKey(key);
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    let oldest: VersionInfo | undefined;
    for (;;) {
      let page;
      try {
        page = await this.#client.send(
          new this.#sdk.ListObjectVersionsCommand({
            Bucket: this.#bucket,
            Prefix: full,
            KeyMarker: keyMarker,
            VersionIdMarker: versionMarker,
          }),
        );
      } catch (error) {
        throw this.#mapError(error, 'ListObjectVersions', key);
      }
      for (const version of page.Versions ?? []) {
        // Newest first: the last one listed for the key is the oldest.
        if (version.Key === full && version.VersionId !== undefined) oldest = { versionId: version.VersionId, size: version.Size ?? 0 };
      }
      if (page.IsTruncated !== true || page.NextKeyMarker !== full) return oldest;
      keyMarker = page.NextKeyMarker;
      versionMarker = page.NextVersionIdMarker;
    }
  }

  async #getVersion(key: string, versionId: string | undefined): Promise<Buffer | undefined> {
    try {
      const out = await this.#client.send(
        new this.#sdk.GetObjectCommand({
          Bucket: this.#bucket,
          Key: this.#fullKey(key),
          ...(versionId !== undefined ? { VersionId: versionId } : {}),
        }),
      );
      if (out.Body === undefined) return Buffer.alloc(0);
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.#mapError(error, 'GetObject', key);
    }
  }

  async #head(key: string, versionId: string | undefined): Promise<ObjectHead | undefined> {
    try {
      const out = await this.#client.send(
        new this.#sdk.HeadObjectCommand({
          Bucket: this.#bucket,
          Key: this.#fullKey(key),
          ...(versionId !== undefined ? { VersionId: versionId } : {}),
        }),
      );
      return { size: out.ContentLength ?? 0, sha256: out.Metadata?.sha256 };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.#mapError(error, 'HeadObject', key);
    }
  }

  /**
   * True when `key` already holds an object with this size and recorded SHA-256 (our own earlier
   * attempt); false when absent; ObjectExistsError when it holds something else.
   */
  async #sameAsExisting(key: string, sha256: string | undefined, size: number): Promise<boolean> {
    const existing = await this.#head(key, undefined);
    if (!existing) return false;
    if (existing.size === size && sha256 !== undefined && existing.sha256 === sha256) return true;
    throw new ObjectExistsError(key);
  }

  async #putMultipart(key: string, path: string, size: number, options: PutOptions): Promise<void> {
    const { Upload } = await import('@aws-sdk/lib-storage');
    const upload = new Upload({
      client: this.#client,
      params: {
        ...this.#baseParams(key, options),
        ...this.#lockParams(),
        // Locked uploads need an integrity header on every part; the SDK computes CRC32 per part.
        ...(this.#objectLock ? { ChecksumAlgorithm: 'CRC32' as const } : {}),
        Body: createReadStream(path),
        ContentLength: size,
      },
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      // lib-storage aborts on part failures, but not always before done() rejects (its abort
      // race) and not when the abort itself fails; abort again ourselves so no upload dangles.
      if (upload.uploadId !== undefined) await this.#abortUpload(key, upload.uploadId);
      throw this.#mapError(error, 'multipart upload', key, options.ifNoneMatch === true);
    }
  }

  async #abortUpload(key: string, uploadId: string): Promise<boolean> {
    try {
      await this.#client.send(
        new this.#sdk.AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: this.#fullKey(key), UploadId: uploadId }),
      );
      return true;
    } catch (error) {
      if (isNotFound(error)) return true; // already aborted (by lib-storage) or completed
      // Unreachable server: remember it and try again after the next successful call or on
      // close. A bucket lifecycle rule (AbortIncompleteMultipartUpload) is the backstop.
      if (!this.#pendingAborts.some((p) => p.uploadId === uploadId)) this.#pendingAborts.push({ key, uploadId });
      return false;
    }
  }

  async #drainPendingAborts(): Promise<void> {
    const pending = this.#pendingAborts.splice(0);
    for (const { key, uploadId } of pending) await this.#abortUpload(key, uploadId);
  }

  #mapError(error: unknown, operation: string, key: string, createOnly = false): StorageError {
    return mapS3Error(error, { operation, ...(key !== '' ? { key } : {}), location: this.describe(), bucket: this.#bucket, createOnly });
  }
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** What an SDK or Node error tells us, read defensively (errors cross several libraries). */
interface ErrorFacts {
  name: string;
  code: string | undefined;
  status: number | undefined;
  message: string;
}

function facts(error: unknown): ErrorFacts {
  const e = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>;
  const metadata = (typeof e.$metadata === 'object' && e.$metadata !== null ? e.$metadata : {}) as Record<string, unknown>;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const code = typeof e.Code === 'string' ? e.Code : typeof e.code === 'string' ? e.code : undefined;
  const status = typeof metadata.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
  const message = typeof e.message === 'string' ? e.message : String(error);
  return { name, code, status, message };
}

/** The key (or upload) is absent. A missing bucket is also a 404 but a configuration error. */
function isNotFound(error: unknown): boolean {
  if (isBucketMissing(error)) return false;
  const f = facts(error);
  return f.status === 404 || ['NoSuchKey', 'NotFound', 'NoSuchUpload'].includes(f.name) || f.code === 'NoSuchKey';
}

function isBucketMissing(error: unknown): boolean {
  const f = facts(error);
  return f.name === 'NoSuchBucket' || f.code === 'NoSuchBucket';
}

const RETRYABLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'NetworkingError',
  'ConditionalRequestConflict', // 409: a concurrent conditional write; retrying yields 412 or success
  'OperationAborted',
]);

const RETRYABLE_NODE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

/** Maps an SDK/Node error to StorageError; messages carry codes and locations, never credentials. */
export function mapS3Error(
  error: unknown,
  context: { operation: string; key?: string; location: string; bucket: string; createOnly?: boolean },
): StorageError {
  if (error instanceof StorageError) return error;
  const f = facts(error);
  const key = context.key;
  const label = f.code !== undefined && f.code !== f.name ? `${f.name} (${f.code})` : f.name;
  const status = f.status !== undefined ? ` HTTP ${f.status}` : '';
  const what = `S3 ${context.operation}${key !== undefined ? ` of ${key}` : ''} in ${context.location} failed: ${label}${status}`;
  // Keep the cause small: SDK errors carry the raw response, which belongs in no log line.
  const cause = new Error(`${f.name}: ${f.message.slice(0, 300)}`);
  const base = { cause, ...(key !== undefined ? { key } : {}) };

  if (context.createOnly === true && key !== undefined && (f.status === 412 || f.name === 'PreconditionFailed')) {
    return new ObjectExistsError(key);
  }
  if (f.name === 'NotImplemented' || f.status === 501) {
    return new StorageError(what, {
      ...base,
      retryable: false,
      hint:
        context.createOnly === true
          ? 'the server does not support If-None-Match on writes: enable bucket versioning, or see storage.conditionalWrites'
          : 'the S3-compatible server does not implement this operation',
    });
  }
  if (isBucketMissing(error)) {
    return new StorageError(what, {
      ...base,
      retryable: false,
      hint: `create bucket "${context.bucket}" or fix storage.bucket / storage.endpoint / storage.region`,
    });
  }
  if (
    f.status === 403 ||
    f.status === 401 ||
    ['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'CredentialsProviderError'].includes(
      f.name,
    )
  ) {
    return new StorageError(what, {
      ...base,
      retryable: false,
      hint: 'check the storage credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the SDK profile) and that they may read, write, list and delete in the bucket',
    });
  }
  if (f.name === 'PermanentRedirect' || f.name === 'AuthorizationHeaderMalformed' || f.status === 301) {
    return new StorageError(what, { ...base, retryable: false, hint: "storage.region does not match the bucket's region" });
  }
  const retryable =
    RETRYABLE_NAMES.has(f.name) ||
    (f.code !== undefined && (RETRYABLE_NODE_CODES.has(f.code) || RETRYABLE_NAMES.has(f.code))) ||
    f.status === 429 ||
    (f.status !== undefined && f.status >= 500);
  return new StorageError(what, {
    ...base,
    retryable,
    ...(retryable ? { hint: 'transient storage failure: retry with backoff' } : {}),
  });
}

function safeEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = '';
    url.password = '';
    url.search = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return '(invalid endpoint)';
  }
}
