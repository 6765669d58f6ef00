import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectExistsError, StorageError } from '../src/errors/index.js';
import { FileObjectStore, S3ObjectStore, compareKeys, type ObjectInfo, type ObjectStore } from '../src/storage/index.js';
import { makeTempDir } from './helpers/temp-dir.js';
import { startS3, type S3Handle } from './helpers/with-s3.js';
import { startRgw, type RgwHandle } from './helpers/with-rgw.js';

/** What the suite needs from each store: a factory and a way to read behind its back. */
interface Subject {
  make(prefix: string): ObjectStore;
  /** The bytes under `prefix + key`, read without the store under test. */
  readRaw(prefix: string, key: string): Promise<Buffer | undefined>;
  /** Multipart uploads in progress (S3), or temp files left (file). */
  leftovers(): Promise<string[]>;
  /** Whether the last large put went multipart (S3), for stores that have the notion. */
  commands?: string[];
  /** Keeps every write as a version (create-only arbitrated by versions). */
  versioned?: boolean;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const opts = { contentType: 'application/octet-stream' };
const spool = makeTempDir('spool');

async function collect(iterable: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function streamToBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

let counter = 0;
/** A fresh prefix per test so tests never see each other's objects. */
const freshPrefix = (): string => `t${++counter}`;

const s3State: { s3?: S3Handle; rgw?: RgwHandle } = {};

/** Ceph RGW: `If-None-Match` honoured on the plain bucket, arbitration by versions on the versioned one. */
function rgwSubject(bucket: string, versioned: boolean): () => Subject {
  return () => {
    const commands: string[] = [];
    return {
      commands,
      versioned,
      make: (prefix) => {
        const store = s3State.rgw!.store(bucket, prefix, { multipartThresholdBytes: 16 * 1024 * 1024 });
        store.client.middlewareStack.add(
          (next, context) => async (args) => {
            commands.push(String(context.commandName));
            return next(args);
          },
          { step: 'initialize', name: 'recordCommands' },
        );
        return store;
      },
      readRaw: async (prefix, key) => s3State.rgw!.getObject(bucket, `${prefix}/${key}`),
      leftovers: async () => [],
    };
  };
}

const subjects: Record<string, () => Subject> = {
  file: () => {
    const root = makeTempDir('file-store');
    return {
      make: (prefix) => new FileObjectStore({ path: root, prefix }),
      readRaw: async (prefix, key) => readFile(join(root, prefix, ...key.split('/'))).catch(() => undefined),
      leftovers: async () => {
        const { readdir } = await import('node:fs/promises');
        const all = await readdir(root, { recursive: true });
        return all.filter((p) => p.split('/').some((s) => s.startsWith('.la-tmp-')));
      },
    };
  },
  s3: () => {
    const commands: string[] = [];
    return {
      commands,
      make: (prefix) => {
        const store = s3State.s3!.store(prefix, { multipartThresholdBytes: 16 * 1024 * 1024 });
        // Record which S3 operations the store sends, to prove large files go multipart.
        store.client.middlewareStack.add(
          (next, context) => async (args) => {
            commands.push(String(context.commandName));
            return next(args);
          },
          { step: 'initialize', name: 'recordCommands' },
        );
        return store;
      },
      readRaw: async (prefix, key) => s3State.s3!.getObject(`${prefix}/${key}`),
      leftovers: async () => (await s3State.s3!.listMultipartUploads()).map((u) => `${u.key} ${u.uploadId}`),
    };
  },
  rgw: rgwSubject('conformance', false),
  'rgw-versioned': rgwSubject('conformance-versioned', true),
};

describe.each(Object.keys(subjects))('ObjectStore conformance: %s', (kind) => {
  let subject: Subject;

  beforeAll(async () => {
    if (kind === 's3') s3State.s3 = await startS3();
    if (kind === 'rgw') {
      s3State.rgw = await startRgw();
      await s3State.rgw.createBucket('conformance');
      await s3State.rgw.createBucket('conformance-versioned', { versioned: true });
    }
    subject = subjects[kind]!();
  }, 120_000);
  afterAll(async () => {
    if (kind === 's3') await s3State.s3?.close();
    if (kind === 'rgw-versioned') await s3State.rgw?.close();
  });

  it('putBytes then get returns the same bytes, also read back behind the store', async () => {
    const prefix = freshPrefix();
    const store = subject.make(prefix);
    const body = randomBytes(100_000);
    await store.putBytes('a/b/c.bin', body, opts);
    expect((await store.get('a/b/c.bin'))!.equals(body)).toBe(true);
    expect((await subject.readRaw(prefix, 'a/b/c.bin'))!.equals(body)).toBe(true);
    const stream = await store.getStream('a/b/c.bin');
    expect((await streamToBuffer(stream!)).equals(body)).toBe(true);
    // Overwrite (no ifNoneMatch) replaces the bytes.
    await store.putBytes('a/b/c.bin', Buffer.from('second'), opts);
    expect((await store.get('a/b/c.bin'))!.toString()).toBe('second');
    await store.close();
  });

  it('putFile of a small file round-trips, including an empty file', async () => {
    const prefix = freshPrefix();
    const store = subject.make(prefix);
    const body = Buffer.from('{"a":1}\n{"b":2}\n');
    const path = join(spool, `${kind}-small.ndjson`);
    await writeFile(path, body);
    await store.putFile('src/2026-01-01/part-1.ndjson.gz', path, { ...opts, sha256: sha256(body) });
    expect((await subject.readRaw(prefix, 'src/2026-01-01/part-1.ndjson.gz'))!.equals(body)).toBe(true);
    if (kind !== 'file') expect((await store.head('src/2026-01-01/part-1.ndjson.gz'))?.sha256).toBe(sha256(body));
    const empty = join(spool, `${kind}-empty`);
    await writeFile(empty, Buffer.alloc(0));
    await store.putFile('empty', empty, opts);
    expect((await store.get('empty'))!.length).toBe(0);
    await store.close();
  });

  it('a large file (> multipart threshold) goes multipart and reads back identical', async () => {
    const prefix = freshPrefix();
    const store = subject.make(prefix);
    const body = randomBytes(20 * 1024 * 1024 + 12345);
    const path = join(spool, `${kind}-large.bin`);
    await writeFile(path, body);
    subject.commands?.splice(0);
    await store.putFile('big/object.ndjson.gz', path, { ...opts, sha256: sha256(body) });
    if (subject.commands) {
      expect(subject.commands).toContain('CreateMultipartUploadCommand');
      expect(subject.commands.filter((c) => c === 'UploadPartCommand').length).toBeGreaterThanOrEqual(3);
      expect(subject.commands).toContain('CompleteMultipartUploadCommand');
      expect(subject.commands).not.toContain('PutObjectCommand');
    }
    const raw = await subject.readRaw(prefix, 'big/object.ndjson.gz');
    expect(raw!.length).toBe(body.length);
    expect(sha256(raw!)).toBe(sha256(body));
    const streamed = await streamToBuffer((await store.getStream('big/object.ndjson.gz'))!);
    expect(sha256(streamed)).toBe(sha256(body));
    expect(await subject.leftovers()).toEqual([]);
    await store.close();
  }, 120_000);

  it('lists keys in byte order, pages past 1000 keys, honours startAfter and prefix', async () => {
    const prefix = freshPrefix();
    const store = subject.make(prefix);
    const tricky = ['a-b', 'a/b', 'a/c/d', 'a0', 'b', 'a/b-c', 'a/b/e', 'z', 'é', 'a.ndjson.gz'];
    // a/b (object) and a/b/e (under folder a/b) cannot coexist on a file system; S3 allows it.
    const keys = kind === 'file' ? tricky.filter((k) => k !== 'a/b/e') : tricky;
    const many = Array.from({ length: 1010 }, (_, i) => `m/${String(i).padStart(5, '0')}`);
    const all = [...keys, ...many];
    for (let i = 0; i < all.length; i += 25) {
      await Promise.all(all.slice(i, i + 25).map((k) => store.putBytes(k, Buffer.from(k), opts)));
    }
    const expected = [...all].sort(compareKeys);
    const listed = await collect(store.list(''));
    expect(listed.map((o) => o.key)).toEqual(expected);
    expect(listed.find((o) => o.key === 'a-b')?.size).toBe(3);

    expect((await collect(store.list('a/'))).map((o) => o.key)).toEqual(expected.filter((k) => k.startsWith('a/')));
    expect((await collect(store.list('', { startAfter: 'a/b' }))).map((o) => o.key)).toEqual(
      expected.filter((k) => compareKeys(k, 'a/b') > 0),
    );
    expect((await collect(store.list('m/', { startAfter: 'm/00500' }))).length).toBe(509);
    expect(await collect(store.list('nothing-here/'))).toEqual([]);

    // Prefix isolation: a sibling store sees none of these keys, and vice versa.
    const sibling = subject.make(`${prefix}-sibling`);
    await sibling.putBytes('a-b', Buffer.from('other'), opts);
    expect((await collect(sibling.list(''))).map((o) => o.key)).toEqual(['a-b']);
    expect((await store.get('a-b'))!.toString()).toBe('a-b');
    expect((await collect(store.list(''))).length).toBe(all.length);
    await sibling.close();
    await store.close();
  }, 120_000);

  it('delete removes a key; deleting an absent key is not an error', async () => {
    const store = subject.make(freshPrefix());
    await store.putBytes('x/y', Buffer.from('1'), opts);
    await store.delete('x/y');
    expect(await store.get('x/y')).toBeUndefined();
    await expect(store.delete('x/y')).resolves.toBeUndefined();
    await expect(store.delete('never/was')).resolves.toBeUndefined();
    await store.close();
  });

  it('ifNoneMatch: a second create-only write fails with ObjectExistsError and keeps the first bytes', async () => {
    const store = subject.make(freshPrefix());
    await store.putBytes('once', Buffer.from('first'), { ...opts, ifNoneMatch: true });
    const error = await store.putBytes('once', Buffer.from('second'), { ...opts, ifNoneMatch: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectExistsError);
    expect((error as ObjectExistsError).retryable).toBe(false);
    const path = join(spool, `${kind}-once`);
    await writeFile(path, 'third');
    await expect(store.putFile('once', path, { ...opts, ifNoneMatch: true })).rejects.toBeInstanceOf(ObjectExistsError);
    expect((await store.get('once'))!.toString()).toBe('first');
    expect(await subject.leftovers()).toEqual([]);
    await store.close();
  });

  it('prepare() names how create-only writes are arbitrated', async () => {
    const store = subject.make(freshPrefix());
    expect(await store.prepare()).toBe(subject.versioned ? 'versions' : 'native');
    await store.close();
  });

  it('ifNoneMatch: a key already holding these very bytes is success (a retry after a lost response)', async () => {
    const store = subject.make(freshPrefix());
    await store.putBytes('same', Buffer.from('one body'), { ...opts, ifNoneMatch: true });
    await expect(store.putBytes('same', Buffer.from('one body'), { ...opts, ifNoneMatch: true })).resolves.toBeUndefined();
    const path = join(spool, `${kind}-same-file`);
    const body = randomBytes(4096);
    await writeFile(path, body);
    await store.putFile('same.ndjson.gz', path, { ...opts, sha256: sha256(body), ifNoneMatch: true });
    await expect(store.putFile('same.ndjson.gz', path, { ...opts, sha256: sha256(body), ifNoneMatch: true })).resolves.toBeUndefined();
    expect((await store.getCreated('same'))!.toString()).toBe('one body');
    await store.close();
  });

  it('ifNoneMatch: of concurrent create-only writers of one key exactly one wins, and readers of it see the winner', async () => {
    const store = subject.make(freshPrefix());
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => store.putBytes('contested', Buffer.from(`writer-${i}`), { ...opts, ifNoneMatch: true })),
    );
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(winners).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ObjectExistsError);
    expect((await store.getCreated('contested'))!.toString()).toBe(`writer-${winners[0]}`);
    await store.close();
  });

  it('head, listFolders and listCreated', async () => {
    const store = subject.make(freshPrefix());
    await store.putBytes('f/a/1', Buffer.from('12345'), { ...opts, sha256: sha256(Buffer.from('12345')) });
    await store.putBytes('f/b/2', Buffer.from('x'), opts);
    await store.putBytes('f/c', Buffer.from('x'), opts);
    const head = await store.head('f/a/1');
    expect(head?.size).toBe(5);
    if (kind !== 'file') expect(head?.sha256).toBe(sha256(Buffer.from('12345')));
    expect(await store.head('f/none')).toBeUndefined();
    const folders: string[] = [];
    for await (const folder of store.listFolders('f/')) folders.push(folder);
    expect(folders).toEqual(['f/a/', 'f/b/']);
    await store.putBytes('f/a/2', Buffer.from('y'), { ...opts, ifNoneMatch: true });
    await store.delete('f/a/2');
    const created = await collect(store.listCreated('f/a/'));
    // On a versioned store the first version of a deleted key is still there, under a delete marker.
    expect(created.map((c) => [c.key, c.deleteMarked === true])).toEqual(
      subject.versioned
        ? [
            ['f/a/1', false],
            ['f/a/2', true],
          ]
        : [['f/a/1', false]],
    );
    await store.close();
  });

  it('get and getStream of an absent key return undefined', async () => {
    const store = subject.make(freshPrefix());
    expect(await store.get('missing')).toBeUndefined();
    expect(await store.getStream('missing')).toBeUndefined();
    expect(await store.get('missing/deeper/key')).toBeUndefined();
    await store.close();
  });

  it('temp names never appear in a listing, even while writes are in flight', async () => {
    const store = subject.make(freshPrefix());
    const keys = Array.from({ length: 40 }, (_, i) => `d/${i}.ndjson.gz`);
    const writes = Promise.all(keys.map((k) => store.putBytes(k, randomBytes(64 * 1024), opts)));
    const seen = new Set<string>();
    let done = false;
    void writes.finally(() => (done = true));
    while (!done) {
      for (const { key } of await collect(store.list(''))) seen.add(key);
    }
    await writes;
    for (const { key } of await collect(store.list(''))) seen.add(key);
    expect([...seen].sort()).toEqual([...keys].sort());
    expect(await subject.leftovers()).toEqual([]);
    await store.close();
  });

  it('rejects keys that are not relative paths, before touching storage', async () => {
    const store = subject.make(freshPrefix());
    for (const bad of ['', '../escape', 'a/../../b', '/abs', 'a//b', 'a/./b', 'back\\slash', '.la-tmp-x', 'nul\0']) {
      const error = await store.putBytes(bad, Buffer.from('x'), opts).catch((e: unknown) => e);
      expect(error, bad).toBeInstanceOf(StorageError);
      expect((error as StorageError).retryable).toBe(false);
    }
    await store.close();
  });

  it('describe() names the location', () => {
    const store = subject.make('described');
    expect(store.describe()).toMatch(kind === 'file' ? /^file:\/\/.*described$/ : /^s3:\/\/[a-z-]+\/described\//);
    expect(store).toBeInstanceOf(kind === 'file' ? FileObjectStore : S3ObjectStore);
    if (kind !== 'file') expect(store.describe()).not.toContain('S3RVER');
  });
});
