/**
 * One `verify` bench case, in a process of its own (so peak RSS is the case's): builds a file
 * archive of one source with N chain entries (each a small gzip object, one a minute — the default
 * batch.maxSeconds of a steady source) signed with Ed25519, and a digest an hour, written straight
 * to disk in the archive's layout (the ledger would fsync every key); then runs verifyArchive over
 * it as an auditor does (the public key only) and prints one JSON line: entries, digests, seconds,
 * peak RSS, the largest live heap seen after a full GC, problems.
 *
 *   node dist/bench/verify-case.js build <dir> <entries>
 *   node dist/bench/verify-case.js verify <dir>
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import {
  ed25519SigningKey,
  ed25519VerifyKey,
  encodeEntry,
  encodeSigned,
  KeyRing,
  layout,
  sha256Hex,
  verifyArchive,
} from '../src/archive/index.js';
import { FileObjectStore } from '../src/storage/index.js';

const [mode, dirArgument, countText] = process.argv.slice(2);
if ((mode !== 'build' && mode !== 'verify') || !dirArgument) throw new Error('usage: verify-case build <dir> <entries> | verify <dir>');
const dir: string = dirArgument;
const source = 'bench-verify';
const root = join(dir, 'archive');
const ENTRY_EVERY_MS = 60_000;
const DIGEST_EVERY_MS = 3_600_000;
const write = (key: string, bytes: Buffer): void => {
  const path = join(root, ...key.split('/'));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
};

if (mode === 'build') build(Number(countText));
else await check();

function build(entries: number): void {
  const builtAt = performance.now();
  mkdirSync(dir, { recursive: true });
  const pair = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'public.pem'), pair.publicKey.export({ type: 'spki', format: 'pem' }));
  const keys = new KeyRing(ed25519SigningKey('bench-2026', pair.privateKey.export({ type: 'pkcs8', format: 'pem' })));
  const start = Date.now() - entries * ENTRY_EVERY_MS;
  let prev: string | null = null;
  let digest: { n: number; sha256: string | null; at: number } = { n: 0, sha256: null, at: start };
  for (let seq = 1; seq <= entries; seq += 1) {
    const at = new Date(start + seq * ENTRY_EVERY_MS);
    const line = `${JSON.stringify({ source, provider: 'bench', id: `r${seq}`, fetchedAt: at.toISOString(), context: {}, record: { n: seq } })}\n`;
    const body = gzipSync(line);
    const token = '0000000000000001';
    const key = layout.dataKey(source, seq, token, at);
    write(key, body);
    const encoded = encodeEntry(
      {
        kind: 'data',
        version: 2,
        source,
        seq,
        prev,
        writer: 'bench',
        writtenAt: at.toISOString(),
        totals: { records: seq, objects: seq },
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
      keys,
    );
    write(layout.manifestKey(source, seq), encoded.bytes);
    prev = encoded.sha256;
    if (at.getTime() - digest.at >= DIGEST_EVERY_MS || seq === entries) {
      const n = digest.n + 1;
      const signed = encodeSigned(
        {
          version: 1,
          kind: 'digest',
          source,
          n,
          prev: digest.sha256,
          head: { seq, sha256: encoded.sha256, key: layout.manifestKey(source, seq) },
          totals: { records: seq, objects: seq },
          writtenAt: at.toISOString(),
          intervalMs: DIGEST_EVERY_MS,
          writer: 'bench',
        },
        keys,
      );
      write(layout.digestKey(source, n), signed.bytes);
      digest = { n, sha256: signed.sha256, at: at.getTime() };
    }
  }
  writeFileSync(join(dir, 'until.txt'), new Date(start + entries * ENTRY_EVERY_MS).toISOString());
  process.stdout.write(`${JSON.stringify({ entries, digests: digest.n, buildSeconds: (performance.now() - builtAt) / 1000 })}\n`);
}

async function check(): Promise<void> {
  // The live set: heap in use soon after each full (mark-compact) collection, the largest seen.
  let liveHeapBytes = 0;
  const gcs = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      liveHeapBytes = Math.max(liveHeapBytes, process.memoryUsage().heapUsed);
    }
  });
  gcs.observe({ entryTypes: ['gc'] });
  const keys = new KeyRing(undefined, new Map([['bench-2026', ed25519VerifyKey(readFileSync(join(dir, 'public.pem')))]]));
  const until = new Date(readFileSync(join(dir, 'until.txt'), 'utf8'));
  const started = performance.now();
  const report = await verifyArchive(new FileObjectStore({ path: root }), { keys, now: () => until.getTime() });
  const seconds = (performance.now() - started) / 1000;
  gcs.disconnect();
  const summary = report.sources[0];
  process.stdout.write(
    `${JSON.stringify({
      entries: summary?.manifests ?? 0,
      digests: summary?.digests ?? 0,
      seconds,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      liveHeapBytes,
      problems: report.problems.length,
      firstProblem: report.problems[0]?.detail,
      objects: summary?.objects ?? 0,
    })}\n`,
  );
}
