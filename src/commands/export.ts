import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { decodeManifest, manifestPrefix, parseSeqKey, sha256Hex, type Manifest } from '../archive/index.js';
import { loadConfig } from '../config/index.js';
import { ArchiverError, ConfigError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { createObjectStore, type ObjectStore } from '../storage/index.js';
import { EXIT_FAILED, EXIT_OK } from './exit-codes.js';
import type { Output } from './output.js';

export interface ExportOptions {
  config: string;
  source: string;
  /** Records fetched at or after this instant (ISO-8601, or a date). */
  since?: string;
  /** Records fetched before this instant. */
  until?: string;
  /** Print each record's `record` (the provider's item) instead of the whole envelope. */
  records?: boolean;
}

/** The archive says something is wrong: export stops before printing anything of that object. */
class ExportDamageError extends ArchiverError {
  constructor(message: string, key: string) {
    super(`${message} (${key})`, {
      code: 'ERR_ARCHIVE_DAMAGED',
      hint: 'run `log-archiver verify` for the full report; nothing after this point was exported',
    });
  }
}

/**
 * Streams the archived records of one source as NDJSON on stdout, in archive order, each object
 * read whole and checked against its manifest's SHA-256 before any of its lines is printed.
 * `--since`/`--until` select by the envelope's `fetchedAt`; objects written before `since` are
 * skipped unread (their records were all fetched earlier).
 */
export async function exportRecords(options: ExportOptions, output: Output, logger: Logger): Promise<number> {
  const since = instant(options.since, '--since');
  const until = instant(options.until, '--until');
  const config = await loadConfig(options.config);
  if (!config.sources.some((s) => s.id === options.source)) {
    throw new ConfigError('unknown source', [{ path: '--source', message: `no source with id ${options.source} in the config` }]);
  }
  const store = createObjectStore(config.storage);
  const write = output.write ?? (async (chunk: string) => output.out(chunk.replace(/\n$/, '')));
  let exported = 0;
  let objects = 0;
  try {
    for await (const manifest of chain(store, options.source, config.manifests.hmacKey)) {
      if (output.closed) break;
      if (since !== undefined && Date.parse(manifest.writtenAt) < since) continue;
      const bytes = await store.get(manifest.key);
      if (!bytes) throw new ExportDamageError(`object #${manifest.seq} is missing`, manifest.key);
      if (sha256Hex(bytes) !== manifest.sha256)
        throw new ExportDamageError(`object #${manifest.seq} does not match its manifest's SHA-256`, manifest.key);
      objects += 1;
      let past = true;
      const lines = createInterface({ input: Readable.from([bytes]).pipe(createGunzip()), crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of lines) {
        if (line === '' || output.closed) continue;
        const envelope = JSON.parse(line) as { fetchedAt: string; record: unknown };
        const at = Date.parse(envelope.fetchedAt);
        if (until !== undefined && at >= until) continue;
        past = false;
        if (since !== undefined && at < since) continue;
        await write(`${options.records ? JSON.stringify(envelope.record) : line}\n`);
        exported += 1;
      }
      // Fetch times grow along a source's chain: once an object starts at `until`, so do the rest.
      if (until !== undefined && past) break;
    }
  } catch (error) {
    if (error instanceof ExportDamageError) {
      output.err(`log-archiver: export stopped after ${exported} records: ${error.message} [${error.code}]`);
      output.err(`  hint: ${error.hint}`);
      return EXIT_FAILED;
    }
    throw error;
  } finally {
    await store.close();
  }
  logger.info({ source: options.source, records: exported, objects }, 'export finished');
  return EXIT_OK;
}

/**
 * The committed manifests of `source` in order. Where a fenced-out writer left a second manifest
 * at a number, the one that chains to the previous counts (the newest such, as verify decides).
 */
async function* chain(store: ObjectStore, source: string, hmacKey: Buffer | undefined): AsyncGenerator<Manifest> {
  let prev: string | null = null;
  let last = 0;
  let group: { seq: number; entries: { manifest: Manifest; sha256: string; key: string }[] } | undefined;
  const settle = (): Manifest => {
    const { seq, entries } = group!;
    if (seq !== last + 1) throw new ExportDamageError(`manifest #${last + 1} is missing`, entries[0]!.key);
    const chosen = entries.findLast((e) => e.manifest.prev === prev);
    if (!chosen) throw new ExportDamageError(`manifest #${seq} does not chain to #${seq - 1}`, entries[0]!.key);
    prev = chosen.sha256;
    last = seq;
    return chosen.manifest;
  };
  for await (const item of store.list(manifestPrefix(source))) {
    const parsed = parseSeqKey(item.key);
    if (!parsed) continue;
    const bytes = await store.get(item.key);
    if (!bytes) continue;
    const decoded = decodeManifest(bytes, hmacKey);
    if ('problem' in decoded) throw new ExportDamageError(`manifest is ${decoded.problem}`, item.key);
    if (group && group.seq !== parsed.seq) yield settle();
    if (!group || group.seq !== parsed.seq) group = { seq: parsed.seq, entries: [] };
    group.entries.push({ manifest: decoded.manifest, sha256: decoded.sha256, key: item.key });
  }
  if (group) yield settle();
}

function instant(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms))
    throw new ConfigError('invalid option', [
      { path: option, message: 'expected an ISO-8601 time or date (2026-11-21, 2026-11-21T10:00:00Z)' },
    ]);
  return ms;
}
