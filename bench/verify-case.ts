/**
 * One `verify` bench case, in a process of its own (so peak RSS is the case's): builds a file
 * archive of one source with N chain entries (each a small gzip object) and digests, written
 * straight to disk in the archive's layout (the ledger would fsync every key), then runs
 * verifyArchive over it and prints one JSON line: entries, seconds, peak RSS, problems.
 *
 *   node dist/bench/verify-case.js build <dir> <entries>
 *   node dist/bench/verify-case.js verify <dir>
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeEntry, KeyRing, layout, sha256Hex, verifyArchive } from '../src/archive/index.js';
import { FileObjectStore } from '../src/storage/index.js';

const [mode, dir, countText] = process.argv.slice(2);
if ((mode !== 'build' && mode !== 'verify') || !dir) throw new Error('usage: verify-case build <dir> <entries> | verify <dir>');
const source = 'bench-verify';
const root = join(dir, 'archive');
const write = (key: string, bytes: Buffer): void => {
  const path = join(root, ...key.split('/'));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
};

if (mode === 'build') build(Number(countText));
else await check();

function build(entries: number): void {
  const builtAt = performance.now();
  let prev: string | null = null;
  const start = Date.now() - entries * 1_000;
  let records = 0;
  for (let seq = 1; seq <= entries; seq += 1) {
    const at = new Date(start + seq * 1_000);
    const line = `${JSON.stringify({ source, provider: 'bench', id: `r${seq}`, fetchedAt: at.toISOString(), context: {}, record: { n: seq } })}\n`;
    const body = gzipSync(line);
    const token = '0000000000000001';
    const key = layout.dataKey(source, seq, token, at);
    write(key, body);
    records += 1;
    const encoded = encodeEntry(
      {
        kind: 'data',
        version: 2,
        source,
        seq,
        prev,
        writer: 'bench',
        writtenAt: at.toISOString(),
        totals: { records, objects: seq },
        checkpointAfter: { n: seq },
        provider: 'bench',
        token,
        key,
        sha256: sha256Hex(body),
        bytes: body.length,
        records: 1,
        firstId: `r${seq}`,
        lastId: `r${seq}`,
        checkpointBefore: { n: seq - 1 },
        requestIds: [],
      },
      KeyRing.none,
    );
    write(layout.manifestKey(source, seq), encoded.bytes);
    prev = encoded.sha256;
  }
  process.stdout.write(`${JSON.stringify({ entries, buildSeconds: (performance.now() - builtAt) / 1000 })}\n`);
}

async function check(): Promise<void> {
  const started = performance.now();
  const report = await verifyArchive(new FileObjectStore({ path: root }), { digestIntervalMs: 10 * 365 * 86_400_000 });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    `${JSON.stringify({
      entries: report.sources[0]?.manifests ?? 0,
      seconds,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      problems: report.problems.length,
      objects: report.sources[0]?.objects ?? 0,
    })}\n`,
  );
}
