import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyRing, ManifestLedger, type SpooledBatch } from '../../src/archive/index.js';
import { silentLogger } from '../../src/observability/index.js';
import type { ObjectStore } from '../../src/storage/index.js';

/** Hex SHA-256 of a text. */
export function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A spooled batch in `dir` whose bytes are "bytes of <name>", holding `records` records `<name>:0…`. */
export function spooledBatch(dir: string, name: string, records = 3): SpooledBatch {
  const path = join(dir, `${name}.spool`);
  const bytes = `bytes of ${name}`;
  writeFileSync(path, bytes);
  return { path, sha256: sha(bytes), bytes: Buffer.byteLength(bytes), records, firstId: `${name}:0`, lastId: `${name}:${records - 1}` };
}

/** A ledger over `store` with quick retries, as the ledger tests use it. */
export function testLedger(store: ObjectStore, options: { keys?: KeyRing; digestIntervalMs?: number } = {}): ManifestLedger {
  return new ManifestLedger(store, {
    keys: options.keys ?? KeyRing.none,
    logger: silentLogger(),
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 1000 },
    writer: 'test',
    ...(options.digestIntervalMs !== undefined ? { digestIntervalMs: options.digestIntervalMs } : {}),
  });
}
