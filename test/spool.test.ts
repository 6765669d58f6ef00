import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchSpool } from '../src/drain/index.js';
import { makeTempDir, removeTempDir } from './helpers/temp-dir.js';

describe('batch spool', () => {
  const dir = makeTempDir('spool');
  afterAll(() => removeTempDir(dir));

  it('writes gzip whose SHA-256 and size it reports, and counts records and bytes', async () => {
    const spool = await BatchSpool.open(dir, 6);
    const lines = '{"a":1}\n{"a":2}\n';
    await spool.write(lines, Buffer.byteLength(lines), 2, 'x:1', 'x:2');
    const batch = await spool.finish();
    const bytes = readFileSync(batch.path);
    expect(batch).toMatchObject({ records: 2, firstId: 'x:1', lastId: 'x:2', bytes: bytes.length });
    expect(batch.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(gunzipSync(bytes).toString('utf8')).toBe(lines);
    await spool.discard();
    expect(existsSync(batch.path)).toBe(false);
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
});
