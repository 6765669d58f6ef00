import { createHash, type Hash } from 'node:crypto';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import {
  ProviderAuthError,
  type ProviderError,
  ProviderNetworkError,
  ProviderServerError,
  ProviderValidationError,
} from '../../errors/index.js';
import type { CompletenessFigure, ProviderContext, ProviderPage, ProviderRecord } from '../provider.js';
import { agentProxyOptions } from '../../http/index.js';

/**
 * `params.copyDumps`: where the dumped audit-log files are read from. OBS speaks the S3 API; the
 * credentials are an OBS access key (AK/SK), written as `${VAR}` or `${file:PATH}` in the config.
 */
export const copyDumpsSchema = z
  .object({
    /** OBS endpoint, e.g. `https://obs.cn-north-4.myhuaweicloud.com`. */
    endpoint: z.string().url(),
    /** Region the requests are signed for (OBS: the bucket's region, e.g. `cn-north-4`). */
    region: z.string().min(1),
    credentials: z
      .object({
        accessKeyId: z.string().min(1),
        secretAccessKey: z.string().min(1),
        securityToken: z.string().min(1).optional(),
      })
      .strict(),
    /** Path-style requests (`endpoint/bucket/key`), for S3 servers without virtual hosts. @defaultValue false */
    forcePathStyle: z.boolean().default(false),
    /** Bytes of a file per archived record (base64 in `data`). @defaultValue 1048576 */
    partBytes: z
      .number()
      .int()
      .min(1024)
      .max(8 * 1024 * 1024)
      .default(1024 * 1024),
    /**
     * How much older (by `LastModified`) than the newest file copied under a prefix a file may be
     * when it is first listed and still be copied: uploads that finish late. @defaultValue 86400
     */
    latenessSeconds: z
      .number()
      .int()
      .nonnegative()
      .max(30 * 86_400)
      .default(86_400),
  })
  .strict();

export type CopyDumpsParams = z.infer<typeof copyDumpsSchema>;

const fileSchema = z
  .object({
    bucket: z.string(),
    /** The key prefix listed (`dumpKeyPrefix` of the record's `location_prefix`). */
    prefix: z.string(),
    key: z.string(),
    etag: z.string(),
    size: z.number().int().nonnegative(),
    lastModified: z.number().int(),
    /** The dump record whose SUCCESS brought the file. */
    record: z.string(),
    /** Bytes already archived. */
    offset: z.number().int().nonnegative(),
  })
  .strict();

/**
 * What the checkpoint keeps of the copying, bounded:
 * - `queue`: SUCCESS records archived whose prefix has not been listed and copied since;
 * - `prefixes`: per `bucket/prefix`, a `floor` (files last modified before it were copied or are
 *   older than the lateness) and `[lastModified, key, etag]` of the files copied at or after it;
 * - `current`: the file being copied and how far.
 */
export const dumpsStateSchema = z
  .object({
    queue: z.array(z.object({ record: z.string(), bucket: z.string(), prefix: z.string() }).strict()),
    prefixes: z.record(
      z.string(),
      z.object({ floor: z.number().int().nullable(), copied: z.array(z.tuple([z.number().int(), z.string(), z.string()])) }).strict(),
    ),
    current: fileSchema.optional(),
  })
  .strict();

export type DumpsState = z.infer<typeof dumpsStateSchema>;
type DumpFile = z.infer<typeof fileSchema>;

/** A fresh state: nothing queued, nothing copied. */
export function initialDumpsState(): DumpsState {
  return { queue: [], prefixes: {} };
}

/** The key prefix a dump record names: `location_prefix` as a folder (`test` → `test/`). */
export function dumpKeyPrefix(locationPrefix: string): string {
  const trimmed = locationPrefix.replace(/^\/+/, '');
  return trimmed === '' || trimmed.endsWith('/') ? trimmed : `${trimmed}/`;
}

/** Record id of the bytes of a dumped file from `offset` on. */
export function dumpPartId(file: { bucket: string; key: string; etag: string }, offset: number): string {
  return `obs:${file.bucket}/${file.key}@${file.etag}:${offset}`;
}

interface CopyContext {
  params: CopyDumpsParams;
  context: ProviderContext;
  /** Context of every record (`{ projectId, clusterId }`). */
  recordContext: Record<string, unknown>;
}

/**
 * Copies the files of the queued dump records' prefixes into the archive: each file as records
 * of `partBytes` (base64), resumable at any part; when a file is complete its size and SHA-256
 * are a completeness figure of the manifest (stream `dump <bucket>/<key>@<etag>`). `checkpoint` composes
 * the provider's checkpoint around the dumps state.
 *
 * The DWS documents name only the bucket and prefix a dump writes to, not its file names: every
 * file under the prefix is copied once (by key and ETag), attributed to the first SUCCESS record
 * after which it is listed.
 */
export async function* copyDumps<C>(
  from: DumpsState,
  copy: CopyContext,
  checkpoint: (state: DumpsState) => C,
): AsyncGenerator<ProviderPage<C>> {
  const { params } = copy;
  if (!from.current && from.queue.length === 0) return;
  // Loaded here, not with the module: the SDK is large and only sources that copy dumps need it.
  const sdk = await import('@aws-sdk/client-s3');
  const client = new sdk.S3Client({
    endpoint: params.endpoint,
    region: params.region,
    forcePathStyle: params.forcePathStyle,
    credentials: {
      accessKeyId: params.credentials.accessKeyId,
      secretAccessKey: params.credentials.secretAccessKey,
      ...(params.credentials.securityToken ? { sessionToken: params.credentials.securityToken } : {}),
    },
    maxAttempts: 5,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // OBS is reached the way the provider's API is: through the same proxy, if any.
    requestHandler: agentProxyOptions(copy.context.http.proxy),
  });
  const obs: Obs = { client, sdk };
  const state = snapshot(from);
  try {
    if (state.current) yield* copyFile(obs, state.current, state, copy, checkpoint);
    while (state.queue.length > 0) {
      const next = state.queue[0]!;
      const files = await listNew(obs, next, state, copy);
      for (const file of files) {
        state.current = file;
        yield* copyFile(obs, file, state, copy, checkpoint);
      }
      state.queue.shift();
      yield { records: [], checkpoint: checkpoint(snapshot(state)) };
    }
  } finally {
    client.destroy();
  }
}

/** The OBS client and the SDK it comes from (its command and error classes). */
interface Obs {
  client: S3Client;
  sdk: typeof S3Sdk;
}

function snapshot(state: DumpsState): DumpsState {
  return structuredClone(state);
}

/** Files under the prefix of `entry` not copied yet, oldest first. */
async function listNew(
  { client, sdk }: Obs,
  entry: { record: string; bucket: string; prefix: string },
  state: DumpsState,
  { context }: CopyContext,
): Promise<DumpFile[]> {
  const prefix = dumpKeyPrefix(entry.prefix);
  const known = state.prefixes[`${entry.bucket}/${prefix}`];
  const copied = new Set((known?.copied ?? []).map(([, key, etag]) => `${key}\u0000${etag}`));
  const files: DumpFile[] = [];
  let token: string | undefined;
  do {
    const page = await client
      .send(new sdk.ListObjectsV2Command({ Bucket: entry.bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }), {
        abortSignal: context.signal,
      })
      .catch((error: unknown) => {
        throw obsError(sdk, error, `listing ${entry.bucket}/${prefix}`, context);
      });
    for (const object of page.Contents ?? []) {
      if (!object.Key || object.Key.endsWith('/') || object.ETag === undefined || object.LastModified === undefined) continue;
      const lastModified = object.LastModified.getTime();
      if (known?.floor !== null && known?.floor !== undefined && lastModified < known.floor) continue;
      const etag = object.ETag.replace(/^"|"$/g, '');
      if (copied.has(`${object.Key}\u0000${etag}`)) continue;
      files.push({
        bucket: entry.bucket,
        prefix,
        key: object.Key,
        etag,
        size: object.Size ?? 0,
        lastModified,
        record: entry.record,
        offset: 0,
      });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return files.sort((a, b) => a.lastModified - b.lastModified || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Archives `file` from its offset in parts; the hash of bytes archived before a restart is
 * rebuilt by reading them again. Ends with the file recorded as copied and `current` cleared.
 */
async function* copyFile<C>(
  obs: Obs,
  file: DumpFile,
  state: DumpsState,
  copy: CopyContext,
  checkpoint: (state: DumpsState) => C,
): AsyncGenerator<ProviderPage<C>> {
  const { params, context, recordContext } = copy;
  const hash = createHash('sha256');
  let offset = file.offset;
  const finish = (figure: CompletenessFigure): ProviderPage<C> => {
    remember(state, `${file.bucket}/${file.prefix}`, file, params.latenessSeconds * 1000);
    delete state.current;
    return { records: [], checkpoint: checkpoint(snapshot(state)), completeness: [figure] };
  };
  const stream = `dump ${file.bucket}/${file.key}@${file.etag}`;
  const gap = (note: string): CompletenessFigure => ({
    stream,
    unit: 'bytes',
    stated: file.size,
    archived: offset,
    at: file.lastModified,
    note,
  });
  try {
    if (offset > 0) await readRange(obs, file, 0, offset, hash, context);
    // An empty file is one empty part: the archive shows it existed.
    for (let first = offset === 0; first || offset < file.size; first = false) {
      const end = Math.min(file.size, offset + params.partBytes);
      const part = createHash('sha256');
      const bytes = end > offset ? await readRange(obs, file, offset, end, part, context, hash) : Buffer.alloc(0);
      const record: ProviderRecord = {
        id: dumpPartId(file, offset),
        context: { ...recordContext, dumpRecordId: file.record },
        record: {
          bucket: file.bucket,
          key: file.key,
          etag: file.etag,
          size: file.size,
          lastModified: new Date(file.lastModified).toISOString(),
          offset,
          bytes: bytes.length,
          sha256: part.digest('hex'),
          data: bytes.toString('base64'),
        },
      };
      offset = end;
      if (offset >= file.size) {
        // The last part, the file's figure and the file marked copied go in one page.
        yield {
          ...finish({ stream, unit: 'bytes', stated: file.size, archived: offset, at: file.lastModified, sha256: hash.digest('hex') }),
          records: [record],
        };
        return;
      }
      state.current = { ...file, offset };
      yield { records: [record], checkpoint: checkpoint(snapshot(state)) };
    }
  } catch (error) {
    if (!(error instanceof DumpChangedError)) throw error;
    context.guard(
      'dws-dump-changed',
      { bucket: file.bucket, key: file.key, etag: file.etag, offset, reason: error.message },
      `dumped file ${file.bucket}/${file.key} changed or vanished while it was copied; the bytes copied are kept, the rest is a gap`,
    );
    yield finish(gap(`the file changed or vanished after ${offset} of ${file.size} bytes were copied (${error.message})`));
  }
}

class DumpChangedError extends Error {}

/** Reads bytes [start, end) of the file's version, feeding them to each hash; a different ETag or size is a DumpChangedError. */
async function readRange(
  { client, sdk }: Obs,
  file: DumpFile,
  start: number,
  end: number,
  hash: Hash,
  context: ProviderContext,
  also?: Hash,
): Promise<Buffer> {
  let answer: GetObjectCommandOutput;
  try {
    answer = await client.send(new sdk.GetObjectCommand({ Bucket: file.bucket, Key: file.key, Range: `bytes=${start}-${end - 1}` }), {
      abortSignal: context.signal,
    });
  } catch (error) {
    if (error instanceof sdk.S3ServiceException && (error.name === 'NoSuchKey' || error.$metadata.httpStatusCode === 404)) {
      throw new DumpChangedError('no longer stored');
    }
    throw obsError(sdk, error, `reading ${file.bucket}/${file.key}`, context);
  }
  const etag = answer.ETag?.replace(/^"|"$/g, '');
  if (etag !== undefined && etag !== file.etag) throw new DumpChangedError(`ETag is now ${etag}`);
  const bytes = Buffer.from(answer.Body ? await answer.Body.transformToByteArray() : new Uint8Array());
  if (bytes.length !== end - start) throw new DumpChangedError(`asked for ${end - start} bytes at ${start}, got ${bytes.length}`);
  hash.update(bytes);
  also?.update(bytes);
  return bytes;
}

/** Marks a file copied under its prefix and trims what the lateness no longer needs. */
function remember(state: DumpsState, prefixKey: string, file: DumpFile, latenessMs: number): void {
  const entry = state.prefixes[prefixKey] ?? { floor: null, copied: [] };
  entry.copied.push([file.lastModified, file.key, file.etag]);
  const newest = Math.max(...entry.copied.map(([t]) => t));
  const floor = Math.max(entry.floor ?? Number.NEGATIVE_INFINITY, newest - latenessMs);
  entry.floor = floor;
  entry.copied = entry.copied.filter(([t]) => t >= floor).sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  state.prefixes[prefixKey] = entry;
}

/** An OBS (S3 API) failure as the provider error it is; the S3 client has already retried it. */
function obsError(sdk: typeof S3Sdk, error: unknown, what: string, context: ProviderContext): ProviderError {
  if (context.signal.aborted) throw error;
  const details = { source: context.sourceId, provider: context.providerId, cause: error };
  if (!(error instanceof sdk.S3ServiceException)) {
    return new ProviderNetworkError(
      `source ${context.sourceId}: OBS ${what} failed: ${error instanceof Error ? error.message : String(error)}`,
      {
        ...details,
        hint: 'check params.copyDumps.endpoint and that the worker can reach it',
      },
    );
  }
  const status = error.$metadata.httpStatusCode;
  const more = { ...details, providerCode: error.name, ...(status === undefined ? {} : { statusCode: status }) };
  const message = `source ${context.sourceId}: OBS ${what} failed: ${error.name}${status === undefined ? '' : ` (HTTP ${status})`}`;
  if (status === 401 || status === 403) {
    return new ProviderAuthError(message, {
      ...more,
      hint: 'check params.copyDumps.credentials (an OBS AK/SK allowed to list and read the dump bucket) and params.copyDumps.region',
    });
  }
  if (status !== undefined && status >= 500) return new ProviderServerError(message, more);
  return new ProviderValidationError(message, { ...more, hint: 'check the bucket the dump record names and params.copyDumps.endpoint' });
}
