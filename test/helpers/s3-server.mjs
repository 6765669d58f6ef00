#!/usr/bin/env node
// A real S3 server process for tests: s3rver 3 plus the few things the archiver's contract
// needs that s3rver lacks, so tests exercise real S3 semantics rather than s3rver's gaps:
//   - ListObjectsV2 in lexicographic key order (s3rver walks the file system in readdir order,
//     which breaks StartAfter paging as soon as keys span directories);
//   - atomic PutObject (s3rver writes straight into the object file, so an interrupted upload
//     leaves a truncated object visible; S3 never does);
//   - ListObjectsV2 pagination (s3rver's continuation token uses a cipher OpenSSL 3 refuses, so
//     any truncated listing answers 500): served here with an opaque token of our own;
//   - AbortMultipartUpload and ListMultipartUploads (s3rver answers 405 / 501);
//   - `If-None-Match: *` on PutObject and CompleteMultipartUpload (412 when the key exists),
//     unless started with --no-conditional-writes, to mimic servers that ignore it;
//   - fault injection through `POST /__faults` (JSON array) and `DELETE /__faults`.
// Usage: node s3-server.mjs --dir <path> --port <n> --bucket <name> [--no-conditional-writes]
// Prints `READY <port>` when listening. Exits when stdin closes (its parent died) or on SIGTERM.
import { randomBytes, createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import { join, dirname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import S3rver from 's3rver';
import S3Error from 's3rver/lib/models/error.js';

function parseArgs(argv) {
  const args = { conditionalWrites: true };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--dir') args.dir = argv[++i];
    else if (arg === '--port') args.port = Number(argv[++i]);
    else if (arg === '--bucket') args.bucket = argv[++i];
    else if (arg === '--no-conditional-writes') args.conditionalWrites = false;
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!args.dir || !args.port || !args.bucket) throw new Error('usage: --dir <path> --port <n> --bucket <name>');
  return args;
}

const args = parseArgs(process.argv.slice(2));
await mkdir(args.dir, { recursive: true });

const server = new S3rver({
  address: '127.0.0.1',
  port: args.port,
  silent: process.env.S3_SERVER_VERBOSE !== '1',
  directory: args.dir,
  configureBuckets: [{ name: args.bucket }],
});
const store = server.store;

// --- lexicographic listing -------------------------------------------------------------
const originalList = store.listObjects.bind(store);
store.listObjects = async (bucket, options) => {
  const maxKeys = options.maxKeys ?? 1000;
  const all = await originalList(bucket, { ...options, maxKeys: Infinity });
  const byBytes = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  const objects = all.objects.sort((a, b) => byBytes(a.key, b.key));
  return {
    objects: objects.slice(0, maxKeys),
    commonPrefixes: all.commonPrefixes.sort(byBytes),
    isTruncated: objects.length > maxKeys,
  };
};

// --- atomic PutObject --------------------------------------------------------------------
store.putObject = async (object) => {
  const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
  await mkdir(dirname(objectPath), { recursive: true });
  // The temp name does not end in `._S3rver_object`, so s3rver never lists or serves it.
  const temp = `${objectPath}.tmp-${randomBytes(8).toString('hex')}`;
  const md5 = createHash('md5');
  let size = 0;
  try {
    const counter = new Transform({
      transform(chunk, _encoding, callback) {
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    });
    const source = Buffer.isBuffer(object.content) ? [object.content] : object.content;
    await pipeline(source, counter, createWriteStream(temp));
    const declared = Number(object.metadata['content-length']);
    if (object.content instanceof IncomingMessage && Number.isFinite(declared) && declared !== size) {
      throw new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header');
    }
    const digest = md5.digest('hex');
    await store.putMetadata(object.bucket, object.key, object.metadata, digest);
    await rename(temp, objectPath);
    return { size, md5: digest };
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
};

// --- helpers over s3rver's on-disk upload layout -------------------------------------------
function uploadsDir(bucket) {
  return store.getResourcePath(bucket, undefined, 'uploads');
}

async function listUploads(bucket) {
  let ids;
  try {
    ids = await readdir(uploadsDir(bucket));
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
  const uploads = [];
  for (const id of ids) {
    const key = await readFile(join(uploadsDir(bucket), id, 'key'), 'utf8').catch(() => undefined);
    if (key !== undefined) uploads.push({ key, uploadId: id });
  }
  return uploads.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function bucketAndKey(ctx) {
  const [, bucket = '', ...rest] = ctx.path.split('/');
  return { bucket: decodeURIComponent(bucket), key: rest.map((s) => decodeURIComponent(s)).join('/') };
}

function operationOf(ctx) {
  const { key } = bucketAndKey(ctx);
  const q = ctx.query;
  if (key === '') {
    if (ctx.method === 'GET' && 'uploads' in q) return 'ListMultipartUploads';
    if (ctx.method === 'GET') return 'ListObjects';
    return `${ctx.method}Bucket`;
  }
  switch (ctx.method) {
    case 'PUT':
      return 'uploadId' in q ? 'UploadPart' : 'PutObject';
    case 'POST':
      return 'uploads' in q ? 'CreateMultipartUpload' : 'uploadId' in q ? 'CompleteMultipartUpload' : 'PostObject';
    case 'DELETE':
      return 'uploadId' in q ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'HEAD':
      return 'HeadObject';
    default:
      return 'GetObject';
  }
}

// --- fault injection (runs first: before auth, so the control endpoint needs no signature) ---
/** @type {{ op?: string, key?: string, partNumber?: number, code?: string, action?: 'error'|'reset', times?: number }[]} */
let faults = [];

async function readJson(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body === '' ? [] : JSON.parse(body);
}

server.middleware.unshift(async (ctx, next) => {
  if (ctx.path === '/__faults') {
    if (ctx.method === 'POST') faults = await readJson(ctx.req);
    else if (ctx.method === 'DELETE') faults = [];
    ctx.status = 200;
    ctx.body = JSON.stringify(faults);
    ctx.type = 'application/json';
    return;
  }
  const op = operationOf(ctx);
  const { key } = bucketAndKey(ctx);
  const partNumber = Number(ctx.query.partNumber);
  const fault = faults.find(
    (f) =>
      (f.op === undefined || f.op === op) &&
      (f.key === undefined || f.key === key) &&
      (f.partNumber === undefined || f.partNumber === partNumber) &&
      (f.times === undefined || f.times > 0),
  );
  if (fault) {
    if (fault.times !== undefined) fault.times -= 1;
    if (fault.action === 'reset') {
      ctx.req.socket.destroy();
      ctx.respond = false;
      return;
    }
    throw new S3Error(fault.code ?? 'InternalError', 'injected fault');
  }
  await next();
});

// --- S3 operations s3rver lacks (inserted just before its router) -----------------------------
const inFlightCreates = new Set();

async function listObjectsV2(ctx, bucket) {
  if (!(await store.getBucket(bucket))) {
    throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
  }
  const q = ctx.query;
  const maxKeys = q['max-keys'] !== undefined ? Math.min(1000, Math.max(0, Number(q['max-keys']))) : 1000;
  const token = typeof q['continuation-token'] === 'string' ? q['continuation-token'] : undefined;
  const startAfter = token !== undefined ? Buffer.from(token, 'base64url').toString('utf8') : q['start-after'];
  const prefix = typeof q.prefix === 'string' ? q.prefix : '';
  const delimiter = typeof q.delimiter === 'string' && q.delimiter !== '' ? q.delimiter : undefined;
  const result = await store.listObjects(bucket, { prefix, startAfter: startAfter ?? '', delimiter, maxKeys });
  const last = result.objects[result.objects.length - 1];
  ctx.body = {
    ListBucketResult: {
      '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
      Name: bucket,
      Prefix: prefix,
      StartAfter: token === undefined ? startAfter : undefined,
      ContinuationToken: token,
      NextContinuationToken: result.isTruncated && last ? Buffer.from(last.key, 'utf8').toString('base64url') : undefined,
      KeyCount: result.objects.length,
      MaxKeys: maxKeys,
      Delimiter: delimiter,
      IsTruncated: result.isTruncated,
      Contents: result.objects.map((o) => ({
        Key: o.key,
        LastModified: o.lastModifiedDate.toISOString(),
        ETag: o.metadata.etag,
        Size: o.size,
        StorageClass: 'STANDARD',
      })),
      CommonPrefixes: result.commonPrefixes.map((p) => ({ Prefix: p })),
    },
  };
}

const extensions = async (ctx, next) => {
  const op = operationOf(ctx);
  const { bucket, key } = bucketAndKey(ctx);
  if (op === 'ListObjects' && ctx.query['list-type'] === '2') {
    await listObjectsV2(ctx, bucket);
    return;
  }
  if (op === 'ListMultipartUploads') {
    const uploads = await listUploads(bucket);
    ctx.body = {
      ListMultipartUploadsResult: {
        Bucket: bucket,
        KeyMarker: '',
        UploadIdMarker: '',
        MaxUploads: 1000,
        IsTruncated: false,
        Upload: uploads.map((u) => ({ Key: u.key, UploadId: u.uploadId, StorageClass: 'STANDARD' })),
      },
    };
    return;
  }
  if (op === 'AbortMultipartUpload') {
    const dir = join(uploadsDir(bucket), String(ctx.query.uploadId));
    try {
      await stat(dir);
    } catch {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: String(ctx.query.uploadId) });
    }
    await rm(dir, { recursive: true, force: true });
    ctx.status = 204;
    ctx.body = '';
    return;
  }
  const createOnly =
    args.conditionalWrites &&
    ctx.headers['if-none-match'] === '*' &&
    (op === 'PutObject' || op === 'CompleteMultipartUpload') &&
    !('x-amz-copy-source' in ctx.headers);
  if (!createOnly) {
    await next();
    return;
  }
  // In-flight creates count as existing, so two concurrent create-only writes cannot both win.
  const id = `${bucket}/${key}`;
  const refuse = () =>
    new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
      Condition: 'If-None-Match',
    });
  // Claim the key synchronously, before any await, so concurrent creates cannot interleave.
  if (inFlightCreates.has(id)) throw refuse();
  inFlightCreates.add(id);
  try {
    // Like S3, a refused CompleteMultipartUpload keeps the upload; the client must abort it.
    if (await store.existsObject(bucket, key)) throw refuse();
    await next();
  } finally {
    inFlightCreates.delete(id);
  }
};
server.middleware.splice(server.middleware.length - 1, 0, extensions);

// --- lifecycle ------------------------------------------------------------------------------
await server.run();
process.stdout.write(`READY ${args.port}\n`);

let closing = false;
async function shutdown(code) {
  if (closing) return;
  closing = true;
  const force = setTimeout(() => process.exit(code), 1_000);
  force.unref();
  try {
    server.httpServer?.closeAllConnections?.();
    await server.close();
  } finally {
    process.exit(code);
  }
}
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));
// The parent holds our stdin open; when it dies (even by SIGKILL) stdin ends and so do we.
process.stdin.on('end', () => void shutdown(0));
process.stdin.on('error', () => void shutdown(0));
process.stdin.resume();
