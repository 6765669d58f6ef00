import { readFile, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type PutObjectCommandInput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ObjectExistsError, StorageError } from '../errors/index.js';
import type { ObjectInfo, ObjectStore, PutOptions } from './object-store.js';
import { assertValidKey, compareKeys, normalizePrefix } from './keys.js';

/** How the SDK computes and checks CRC checksums (see the S3 client's own option of that name). */
export type ChecksumMode = 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';

/**
 * How create-only writes (`ifNoneMatch`) are enforced.
 * - `native`: send `If-None-Match: *`; the server refuses an existing key with 412 (AWS S3 since
 *   2024-08, recent MinIO). Atomic.
 * - `emulate`: HEAD the key, then PUT without the header, for servers that ignore or reject it
 *   (s3rver, older MinIO, some OSS/OBS deployments). **Racy**: two writers that both HEAD before
 *   either PUTs both succeed and the later one wins. The archive tolerates that because at most
 *   one drain of a source runs at a time (lease) and keys are deterministic per batch, so the
 *   racing writer writes the same bytes.
 */
export type ConditionalWrites = 'native' | 'emulate';

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
  /** @defaultValue `native` without `endpoint`, `emulate` with one. See {@link ConditionalWrites}. */
  conditionalWrites?: ConditionalWrites;
  /**
   * SDK attempts per request, the first included. Kept low: retry loops with backoff belong to
   * the caller, which knows the deadline. @defaultValue 3
   */
  maxAttempts?: number;
  /** TCP connect timeout in ms, so an unreachable server fails in seconds. @defaultValue 3000 */
  connectionTimeoutMs?: number;
  /** Socket idle timeout per request in ms. @defaultValue 30000 */
  requestTimeoutMs?: number;
}

const MiB = 1024 * 1024;
const MIN_PART_SIZE = 5 * MiB;

/** An upload we could not abort because the server was unreachable; retried later. */
interface PendingAbort {
  key: string;
  uploadId: string;
}

/** ObjectStore on AWS S3 and S3-compatible servers through @aws-sdk/client-s3. */
export class S3ObjectStore implements ObjectStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #endpoint: string | undefined;
  readonly #partSize: number;
  readonly #threshold: number;
  readonly #queueSize: number;
  readonly #conditional: ConditionalWrites;
  readonly #pendingAborts: PendingAbort[] = [];

  constructor(options: S3ObjectStoreOptions) {
    this.#bucket = options.bucket;
    this.#prefix = normalizePrefix(options.prefix);
    this.#endpoint = options.endpoint;
    this.#partSize = Math.max(MIN_PART_SIZE, options.partSizeBytes ?? 8 * MiB);
    this.#threshold = Math.max(1, options.multipartThresholdBytes ?? 16 * MiB);
    this.#queueSize = Math.max(1, options.multipartQueueSize ?? 4);
    const custom = options.endpoint !== undefined;
    this.#conditional = options.conditionalWrites ?? (custom ? 'emulate' : 'native');
    const requestChecksum = options.requestChecksumCalculation ?? (custom ? 'WHEN_REQUIRED' : undefined);
    const responseChecksum = options.responseChecksumValidation ?? (custom ? 'WHEN_REQUIRED' : undefined);
    const config: S3ClientConfig = {
      region: options.region,
      maxAttempts: options.maxAttempts ?? 3,
      requestHandler: {
        connectionTimeout: options.connectionTimeoutMs ?? 3_000,
        requestTimeout: options.requestTimeoutMs ?? 30_000,
      },
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.forcePathStyle !== undefined ? { forcePathStyle: options.forcePathStyle } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      ...(requestChecksum !== undefined ? { requestChecksumCalculation: requestChecksum } : {}),
      ...(responseChecksum !== undefined ? { responseChecksumValidation: responseChecksum } : {}),
    };
    this.#client = new S3Client(config);
  }

  /** The underlying client, for tests and tools that need an S3 call the interface lacks. */
  get client(): S3Client {
    return this.#client;
  }

  async putFile(key: string, path: string, options: PutOptions): Promise<void> {
    assertValidKey(key);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (error) {
      throw new StorageError(`cannot read ${path} to upload as ${key}`, { key, retryable: false, cause: error });
    }
    await this.#beforeCreateOnly(key, options);
    if (size < this.#threshold) {
      // Below the threshold the body is read into memory (bounded by the threshold): the SDK
      // retries buffered bodies but refuses to retry a consumed stream.
      let body: Buffer;
      try {
        body = await readFile(path);
      } catch (error) {
        throw new StorageError(`cannot read ${path} to upload as ${key}`, { key, retryable: false, cause: error });
      }
      await this.#putObject(key, body, options);
    } else {
      await this.#putMultipart(key, path, size, options);
    }
    await this.#drainPendingAborts();
  }

  async putBytes(key: string, body: Buffer, options: PutOptions): Promise<void> {
    assertValidKey(key);
    await this.#beforeCreateOnly(key, options);
    await this.#putObject(key, body, options);
    await this.#drainPendingAborts();
  }

  async get(key: string): Promise<Buffer | undefined> {
    assertValidKey(key);
    try {
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#fullKey(key) }));
      if (out.Body === undefined) return Buffer.alloc(0);
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.#mapError(error, 'GetObject', key);
    }
  }

  async getStream(key: string): Promise<Readable | undefined> {
    assertValidKey(key);
    try {
      const out = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#fullKey(key) }));
      if (out.Body === undefined) return Readable.from([]);
      if (out.Body instanceof Readable) return out.Body;
      // Not reached on Node (the body is an IncomingMessage); kept for other runtimes.
      return Readable.from(Buffer.from(await out.Body.transformToByteArray()));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw this.#mapError(error, 'GetObject', key);
    }
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
          new ListObjectsV2Command({
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

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#fullKey(key) }));
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

  #baseParams(key: string, options: PutOptions): PutObjectCommandInput {
    return {
      Bucket: this.#bucket,
      Key: this.#fullKey(key),
      ContentType: options.contentType,
      // Sent as `x-amz-meta-sha256`: lets `verify` and people with `aws s3api head-object`
      // check an object without downloading it.
      ...(options.sha256 !== undefined ? { Metadata: { sha256: options.sha256 } } : {}),
      ...(options.ifNoneMatch === true && this.#conditional === 'native' ? { IfNoneMatch: '*' } : {}),
    };
  }

  async #putObject(key: string, body: Buffer, options: PutOptions): Promise<void> {
    try {
      await this.#client.send(new PutObjectCommand({ ...this.#baseParams(key, options), Body: body, ContentLength: body.length }));
    } catch (error) {
      throw this.#mapError(error, 'PutObject', key, options.ifNoneMatch === true);
    }
  }

  async #putMultipart(key: string, path: string, size: number, options: PutOptions): Promise<void> {
    const upload = new Upload({
      client: this.#client,
      params: { ...this.#baseParams(key, options), Body: createReadStream(path), ContentLength: size },
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
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: this.#fullKey(key), UploadId: uploadId }));
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

  /** Emulated create-only: refuse when the key already exists (see ConditionalWrites for the race). */
  async #beforeCreateOnly(key: string, options: PutOptions): Promise<void> {
    if (options.ifNoneMatch !== true || this.#conditional !== 'emulate') return;
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#fullKey(key) }));
    } catch (error) {
      if (isNotFound(error)) return;
      throw this.#mapError(error, 'HeadObject', key);
    }
    throw new ObjectExistsError(key);
  }

  #mapError(error: unknown, operation: string, key: string, createOnly = false): StorageError {
    return mapS3Error(error, { operation, key, location: this.describe(), bucket: this.#bucket, createOnly });
  }
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
          ? 'the server does not support If-None-Match on writes: set storage.conditionalWrites to "emulate"'
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
