import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ObjectExistsError } from '../src/errors/index.js';
import { startS3, type S3Handle } from './helpers/with-s3.js';

const opts = { contentType: 'application/gzip' };

describe('S3ObjectStore: create-only writes', () => {
  let honouring: S3Handle;
  let ignoring: S3Handle;

  beforeAll(async () => {
    [honouring, ignoring] = await Promise.all([startS3(), startS3({ conditionalWrites: false })]);
  });
  afterAll(async () => {
    await Promise.all([honouring?.close(), ignoring?.close()]);
  });

  it('auto (the default): probes the server, finds If-None-Match honoured, and the 412 becomes ObjectExistsError', async () => {
    const store = honouring.store('native');
    expect(await store.prepare()).toBe('native');
    await store.putBytes('k', Buffer.from('first'), { ...opts, ifNoneMatch: true });
    await expect(store.putBytes('k', Buffer.from('second'), { ...opts, ifNoneMatch: true })).rejects.toBeInstanceOf(ObjectExistsError);
    expect((await honouring.getObject('native/k'))!.toString()).toBe('first');
  });

  it('native: concurrent create-only writers of one key — exactly one wins', async () => {
    const store = honouring.store('race', { conditionalWrites: 'native' });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.putBytes('k', Buffer.from(`writer-${i}`), { ...opts, ifNoneMatch: true })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ObjectExistsError);
  });

  it('auto refuses a server that ignores If-None-Match on an unversioned bucket, and says what to do', async () => {
    const store = ignoring.store('refused');
    const error = await store.prepare().catch((e: unknown) => e);
    // A setup the operator must change (exit 2), naming the way out.
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]?.message).toMatch(/versioning.*conditionalWrites: emulate/);
    // And writes create-only nothing behind its back.
    await expect(store.putBytes('k', Buffer.from('x'), { ...opts, ifNoneMatch: true })).rejects.toBeInstanceOf(ConfigError);
    expect(await ignoring.getObject('refused/k')).toBeUndefined();
    const native = ignoring.store('native-ignored', { conditionalWrites: 'native' });
    await expect(native.prepare()).rejects.toBeInstanceOf(ConfigError);
  });

  it('emulate, the explicit opt-in with the race accepted, works on a server that ignores If-None-Match', async () => {
    const store = ignoring.store('emulate', { conditionalWrites: 'emulate' });
    expect(await store.prepare()).toBe('emulate');
    await store.putBytes('k', Buffer.from('first'), { ...opts, ifNoneMatch: true });
    await expect(store.putBytes('k', Buffer.from('second'), { ...opts, ifNoneMatch: true })).rejects.toBeInstanceOf(ObjectExistsError);
    await expect(store.putBytes('k', Buffer.from('first'), { ...opts, ifNoneMatch: true })).resolves.toBeUndefined();
    expect((await ignoring.getObject('emulate/k'))!.toString()).toBe('first');
  });

  it('native multipart: If-None-Match on CompleteMultipartUpload, and the refused upload is aborted', async () => {
    const { writeFile } = await import('node:fs/promises');
    const { makeTempDir } = await import('./helpers/temp-dir.js');
    const path = `${makeTempDir('mp-cond')}/big.bin`;
    await writeFile(path, randomBytes(11 * 1024 * 1024));
    const store = honouring.store('mp-native', {
      conditionalWrites: 'native',
      multipartThresholdBytes: 6 * 1024 * 1024,
      partSizeBytes: 5 * 1024 * 1024,
    });
    await store.putBytes('k', Buffer.from('first'), opts);
    await expect(store.putFile('k', path, { ...opts, ifNoneMatch: true })).rejects.toBeInstanceOf(ObjectExistsError);
    expect((await honouring.getObject('mp-native/k'))!.toString()).toBe('first');
    expect(await honouring.listMultipartUploads()).toEqual([]);
  });
});

describe('S3ObjectStore: checksums with a custom endpoint', () => {
  let s3: S3Handle;
  beforeAll(async () => {
    s3 = await startS3();
  });
  afterAll(async () => {
    await s3?.close();
  });

  it('defaults to WHEN_REQUIRED, so the stored bytes are exactly the bytes written', async () => {
    const store = s3.store('crc');
    const body = randomBytes(300_000);
    await store.putBytes('a', body, opts);
    expect((await s3.getObject('crc/a'))!.equals(body)).toBe(true);
    expect(await store.client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    expect(await store.client.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
  });

  it('keeps the SDK defaults when no endpoint is configured', async () => {
    const { S3ObjectStore } = await import('../src/storage/index.js');
    const store = new S3ObjectStore({ bucket: 'b', region: 'eu-west-1' });
    expect(await store.client.config.requestChecksumCalculation()).toBe('WHEN_SUPPORTED');
    expect(store.describe()).toBe('s3://b/');
    await store.close();
  });

  it('the choice stays configurable', async () => {
    const store = s3.store('crc2', { requestChecksumCalculation: 'WHEN_SUPPORTED' });
    expect(await store.client.config.requestChecksumCalculation()).toBe('WHEN_SUPPORTED');
  });
});
