import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ObjectExistsError, StorageError } from '../src/errors/index.js';
import { FileObjectStore, createObjectStore, S3ObjectStore, storageConfigSchema } from '../src/storage/index.js';
import { makeTempDir } from './helpers/temp-dir.js';

const opts = { contentType: 'application/gzip' };

async function keys(store: FileObjectStore, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const { key } of store.list(prefix)) out.push(key);
  return out;
}

describe('FileObjectStore', () => {
  it('concurrent create-only writers of one key: exactly one wins (link() is atomic)', async () => {
    const store = new FileObjectStore({ path: makeTempDir('fs-race') });
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) => store.putBytes('k.ndjson.gz', Buffer.from(`w${i}`), { ...opts, ifNoneMatch: true })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ObjectExistsError);
  });

  it('skips temp files a crash left behind, and never names them *.ndjson.gz', async () => {
    const root = makeTempDir('fs-crash');
    const store = new FileObjectStore({ path: root });
    await store.putBytes('s/a.ndjson.gz', Buffer.from('a'), opts);
    // What a kill -9 between open and rename leaves.
    await writeFile(join(root, 's', '.la-tmp-0123456789abcdef01234567'), 'partial');
    expect(await keys(store)).toEqual(['s/a.ndjson.gz']);
    const names = await readdir(join(root, 's'));
    expect(names.filter((n) => n.endsWith('.ndjson.gz'))).toEqual(['a.ndjson.gz']);
  });

  it('keys cannot escape the root, even through the prefix', () => {
    expect(() => new FileObjectStore({ path: makeTempDir('fs-p'), prefix: '../up' })).toThrow(StorageError);
    const store = new FileObjectStore({ path: makeTempDir('fs-esc') });
    return Promise.all(
      ['../x', 'a/../../x', '/etc/passwd', 'a\\..\\..\\x'].map(async (key) => {
        await expect(store.putBytes(key, Buffer.from('x'), opts)).rejects.toBeInstanceOf(StorageError);
        await expect(store.get(key)).rejects.toBeInstanceOf(StorageError);
      }),
    );
  });

  it('a SHA-256 that does not match the bytes is refused and leaves nothing', async () => {
    const store = new FileObjectStore({ path: makeTempDir('fs-sha') });
    const error = await store.putBytes('k', Buffer.from('abc'), { ...opts, sha256: '0'.repeat(64) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(await store.get('k')).toBeUndefined();
    expect(await keys(store)).toEqual([]);
  });

  it('a folder is not an object: get of a directory key is undefined, listing a missing root is empty', async () => {
    const root = makeTempDir('fs-dir');
    const store = new FileObjectStore({ path: root, prefix: 'archive/' });
    expect(await keys(store)).toEqual([]);
    await store.putBytes('a/b', Buffer.from('x'), opts);
    expect(await store.get('a')).toBeUndefined();
    expect(await store.get('a/b/c')).toBeUndefined();
    await mkdir(join(root, 'archive', 'empty-dir'));
    expect(await keys(store)).toEqual(['a/b']);
    expect(store.describe()).toBe(`file://${root}/archive`);
  });
});

describe('storageConfigSchema and createObjectStore', () => {
  it('accepts both kinds and builds the matching store', async () => {
    const s3 = storageConfigSchema.parse({
      kind: 's3',
      bucket: 'compliance-logs',
      prefix: 'archive/',
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
    });
    const store = createObjectStore(s3);
    expect(store).toBeInstanceOf(S3ObjectStore);
    expect(store.describe()).toBe('s3://compliance-logs/archive/ at http://127.0.0.1:9000');
    await store.close();
    const file = storageConfigSchema.parse({ kind: 'file', path: './archive' });
    expect(createObjectStore(file)).toBeInstanceOf(FileObjectStore);
  });

  it('rejects unknown keys, a wrong kind and bad values with readable messages', () => {
    const messages = (input: unknown): string[] => {
      const result = storageConfigSchema.safeParse(input);
      expect(result.success).toBe(false);
      return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(messages({ kind: 'gcs' })).toEqual(['kind: expected kind "s3" or "file"']);
    expect(messages({ kind: 'file', path: './a', bucket: 'x' }).join()).toMatch(/bucket/);
    expect(messages({ kind: 's3', bucket: 'b-1' }).join()).toMatch(/region: required/);
    expect(messages({ kind: 's3', bucket: 'B', region: 'r' }).join()).toMatch(/bucket: expected a bucket name/);
    expect(messages({ kind: 's3', bucket: 'bkt', region: 'r', endpoint: 'ftp://x' }).join()).toMatch(/endpoint/);
    expect(messages({ kind: 's3', bucket: 'bkt', region: 'r', endpoint: 'http://ak:sk@host' }).join()).toMatch(
      /must not carry credentials/,
    );
    expect(messages({ kind: 's3', bucket: 'bkt', region: 'r', requestChecksumCalculation: 'NEVER' }).join()).toMatch(/WHEN_REQUIRED/);
    expect(messages({ kind: 'file', path: './a', prefix: '../x' }).join()).toMatch(/prefix: must not contain/);
  });
});
