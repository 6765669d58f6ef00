import { chownSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchSpool, resolveSpoolDir } from '../src/drain/index.js';
import { ConfigError } from '../src/errors/index.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

describe('batch spool', () => {
  const dir = makeTempDir('spool');
  afterAll(() => removeTempDir(dir));

  it('writes gzip whose SHA-256 and size it reports, and counts records and bytes', async () => {
    const spool = await BatchSpool.open(dir, 6);
    const lines = '{"a":1}\n{"a":2}\n';
    await spool.write(Buffer.from(lines), 2, 'x:1', 'x:2');
    const batch = await spool.finish();
    const bytes = readFileSync(batch.path);
    expect(batch).toMatchObject({ records: 2, firstId: 'x:1', lastId: 'x:2', bytes: bytes.length });
    expect(batch.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(gunzipSync(bytes).toString('utf8')).toBe(lines);
    await spool.discard();
    expect(existsSync(batch.path)).toBe(false);
  });

  it('keeps the order of small and large pages, whatever it stages, and hands every buffer back', async () => {
    const spool = await BatchSpool.open(dir, 1);
    const pages: Buffer[] = [];
    let given = 0;
    // Small pages (staged together), a large one (straight to gzip), and small ones after it: a
    // stage flushed late would put records out of order.
    const sizes = [...Array.from({ length: 40 }, () => 30_000), 600_000, ...Array.from({ length: 50 }, () => 25_000), 300_000, 10];
    for (const [i, size] of sizes.entries()) {
      const line = `{"page":${i},"pad":"${'x'.repeat(Math.max(0, size - 30))}"}\n`;
      const page = Buffer.from(line);
      pages.push(page);
      await spool.write(page, 1, `p:${i}`, `p:${i}`, () => {
        given += 1;
      });
    }
    const batch = await spool.finish();
    expect(gunzipSync(readFileSync(batch.path)).equals(Buffer.concat(pages))).toBe(true);
    expect(batch).toMatchObject({ records: sizes.length, firstId: 'p:0', lastId: `p:${sizes.length - 1}` });
    expect(spool.bytes).toBe(Buffer.concat(pages).length);
    expect(given).toBe(sizes.length);
    await spool.discard();
  });

  it('sweeps files of processes that died mid-batch, and only those', async () => {
    const sweepDir = join(dir, 'sweep');
    mkdirSync(sweepDir, { recursive: true });
    const dead = join(sweepDir, 'batch-999999-abcdef012345.spool');
    const mine = join(sweepDir, `batch-${process.pid}-abcdef012345.spool`);
    const foreign = join(sweepDir, 'notes.txt');
    for (const path of [dead, mine, foreign]) writeFileSync(path, 'x');
    expect(await BatchSpool.sweep(sweepDir)).toBe(1);
    expect([existsSync(dead), existsSync(mine), existsSync(foreign)]).toEqual([false, true, true]);
  });

  it("never touches another user's spool file, even of a dead process, and does not fail on it", async () => {
    const shared = join(dir, 'shared');
    mkdirSync(shared, { recursive: true });
    const theirs = join(shared, 'batch-999998-abcdef012345.spool');
    writeFileSync(theirs, 'x');
    const uid = process.getuid!();
    if (uid === 0) chownSync(theirs, 12345, 12345);
    const dead = join(shared, 'batch-999997-abcdef012345.spool');
    writeFileSync(dead, 'x');
    expect(await BatchSpool.sweep(shared)).toBe(uid === 0 ? 1 : 2);
    if (uid === 0) expect(existsSync(theirs)).toBe(true);
    expect(existsSync(dead)).toBe(false);
  });

  it('defaults to a private directory per user, refuses a default another user made, honours LOG_ARCHIVER_SPOOL_DIR', async () => {
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp, { recursive: true });
    const uid = process.getuid!();
    const fallback = await resolveSpoolDir({ TMPDIR: tmp });
    expect(fallback).toBe(join(tmp, `log-archiver-${uid}`, 'spool'));
    expect(statSync(join(tmp, `log-archiver-${uid}`)).mode & 0o777).toBe(0o700);
    const chosen = join(dir, 'chosen');
    expect(await resolveSpoolDir({ LOG_ARCHIVER_SPOOL_DIR: chosen })).toBe(chosen);
    if (uid === 0) {
      // Someone else got to the default's predictable name first: not used.
      const squatted = join(dir, 'tmp2');
      mkdirSync(join(squatted, 'log-archiver-0'), { recursive: true });
      chownSync(join(squatted, 'log-archiver-0'), 12345, 12345);
      await expect(resolveSpoolDir({ TMPDIR: squatted })).rejects.toThrow(ConfigError);
      await expect(resolveSpoolDir({ TMPDIR: squatted })).rejects.toThrow(/belongs to another user \(uid 12345\)/);
      // A chosen directory may be a mount owned by someone else: it only has to be a directory.
      const mount = join(dir, 'mount');
      mkdirSync(mount);
      chownSync(mount, 12345, 12345);
      expect(await resolveSpoolDir({ LOG_ARCHIVER_SPOOL_DIR: mount })).toBe(mount);
    }
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    await expect(resolveSpoolDir({ LOG_ARCHIVER_SPOOL_DIR: file })).rejects.toThrow(ConfigError);
  });
});
