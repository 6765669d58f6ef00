import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ObjectExistsError, StorageError } from '../src/errors/index.js';
import { makeTempDir } from './helpers/temp-dir.js';
import { startS3, type S3Handle } from './helpers/with-s3.js';

const opts = { contentType: 'application/gzip' };
const MiB = 1024 * 1024;

async function failure(promise: Promise<unknown>): Promise<StorageError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StorageError);
  return error as StorageError;
}

describe('S3ObjectStore against a failing S3 server', () => {
  let s3: S3Handle;
  let bigFile: string;

  beforeAll(async () => {
    s3 = await startS3();
    bigFile = join(makeTempDir('outage'), 'big.bin');
    await writeFile(bigFile, randomBytes(18 * MiB));
  });
  afterEach(async () => {
    await s3.start();
    await s3.clearFaults();
  });
  afterAll(async () => {
    await s3?.close();
  });

  it('server stopped: putBytes and get fail fast with a retryable StorageError; after restart both work', async () => {
    const store = s3.store('outage');
    await store.putBytes('before', Buffer.from('x'), opts);
    await s3.stop();

    const t0 = performance.now();
    const putError = await failure(store.putBytes('during', Buffer.from('y'), opts));
    expect(putError.retryable).toBe(true);
    expect(putError.key).toBe('during');
    expect(putError.message).toContain('PutObject');
    // get must not mistake "unreachable" for "absent".
    const getError = await failure(store.get('before'));
    expect(getError.retryable).toBe(true);
    const listError = await failure(
      (async () => {
        for await (const _ of store.list('')) void _;
      })(),
    );
    expect(listError.retryable).toBe(true);
    expect(performance.now() - t0).toBeLessThan(10_000);

    await s3.start();
    await store.putBytes('during', Buffer.from('y'), opts);
    expect((await store.get('during'))!.toString()).toBe('y');
    expect((await store.get('before'))!.toString()).toBe('x');
  });

  it('server killed (SIGKILL): the same, then recovers on restart', async () => {
    const store = s3.store('killed');
    await s3.kill();
    const error = await failure(store.putBytes('k', Buffer.from('z'), opts));
    expect(error.retryable).toBe(true);
    await s3.start();
    await store.putBytes('k', Buffer.from('z'), opts);
    expect((await s3.getObject('killed/k'))!.toString()).toBe('z');
  });

  it('a multipart upload failing mid-way leaves no object and no in-progress upload', async () => {
    const store = s3.store('mp-fail', { multipartThresholdBytes: 8 * MiB, partSizeBytes: 5 * MiB });
    await s3.setFaults([{ op: 'UploadPart', partNumber: 3 }]); // 500 InternalError, every attempt
    const error = await failure(store.putFile('obj.ndjson.gz', bigFile, opts));
    expect(error.retryable).toBe(true);
    expect(await s3.listKeys('mp-fail/')).toEqual([]);
    expect(await s3.listMultipartUploads()).toEqual([]);
  });

  it('a connection reset during a part is retryable and leaves nothing behind', async () => {
    const store = s3.store('mp-reset', { multipartThresholdBytes: 8 * MiB, partSizeBytes: 5 * MiB });
    await s3.setFaults([{ op: 'UploadPart', partNumber: 2, action: 'reset' }]);
    const error = await failure(store.putFile('obj.ndjson.gz', bigFile, opts));
    expect(error.retryable).toBe(true);
    expect(await s3.listKeys('mp-reset/')).toEqual([]);
    expect(await s3.listMultipartUploads()).toEqual([]);
    await s3.clearFaults();
    await store.putFile('obj.ndjson.gz', bigFile, opts);
    expect((await s3.getObject('mp-reset/obj.ndjson.gz'))!.length).toBe(18 * MiB);
  });

  it('an abort that fails is retried after the next successful write', async () => {
    const store = s3.store('mp-abort', { multipartThresholdBytes: 8 * MiB, partSizeBytes: 5 * MiB });
    await s3.setFaults([
      { op: 'CompleteMultipartUpload', code: 'InternalError' },
      { op: 'AbortMultipartUpload', code: 'InternalError' },
    ]);
    await failure(store.putFile('obj.ndjson.gz', bigFile, opts));
    expect(await s3.listKeys('mp-abort/')).toEqual([]);
    expect((await s3.listMultipartUploads()).map((u) => u.key)).toEqual(['mp-abort/obj.ndjson.gz']);
    await s3.clearFaults();
    await store.putBytes('small', Buffer.from('ok'), opts);
    expect(await s3.listMultipartUploads()).toEqual([]);
  });

  it('SlowDown is retryable; a single one is absorbed by the SDK retry', async () => {
    const store = s3.store('slow');
    await s3.setFaults([{ op: 'PutObject', code: 'SlowDown', times: 1 }]);
    await store.putBytes('a', Buffer.from('1'), opts);
    await s3.setFaults([{ op: 'PutObject', code: 'SlowDown' }]);
    const error = await failure(store.putBytes('b', Buffer.from('2'), opts));
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('SlowDown');
  });

  it('a missing bucket is not retryable and says what to fix', async () => {
    const store = s3.store(undefined, { bucket: 'no-such-bucket' });
    const error = await failure(store.putBytes('x', Buffer.from('1'), opts));
    expect(error.retryable).toBe(false);
    expect(error.hint).toContain('no-such-bucket');
    const getError = await failure(store.get('x'));
    expect(getError.retryable).toBe(false);
  });

  // s3rver checks the access key id but not SigV4 signatures, so the bad credential is the id.
  it('bad credentials are not retryable, and the error carries no secret', async () => {
    const store = s3.store(undefined, { credentials: { accessKeyId: 'UNKNOWNKEY', secretAccessKey: 'wrong-secret-value' } });
    const error = await failure(store.putBytes('x', Buffer.from('1'), opts));
    expect(error.retryable).toBe(false);
    expect(error.hint).toMatch(/credentials/);
    const text = `${error.message} ${error.hint} ${String((error as Error).cause)} ${JSON.stringify(error)}`;
    expect(text).not.toContain('wrong-secret-value');
  });

  it('ObjectExistsError is not confused with an outage', async () => {
    const store = s3.store('exists');
    await store.putBytes('k', Buffer.from('1'), { ...opts, ifNoneMatch: true });
    await expect(store.putBytes('k', Buffer.from('2'), { ...opts, ifNoneMatch: true })).rejects.toBeInstanceOf(ObjectExistsError);
    await s3.stop();
    const error = await failure(store.putBytes('k', Buffer.from('2'), { ...opts, ifNoneMatch: true }));
    expect(error).not.toBeInstanceOf(ObjectExistsError);
    expect(error.retryable).toBe(true);
  });
});
