import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { decodeEntry, layout, sha256Hex, type DataManifest, type KeyRing } from '../archive/index.js';
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
  const store = createObjectStore(config.storage, { proxy: config.http.proxy });
  const write = output.write ?? (async (chunk: string) => output.out(chunk.replace(/\n$/, '')));
  let exported = 0;
  let objects = 0;
  try {
    for await (const manifest of chain(store, options.source, config.manifests.keys)) {
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
 * The data manifests of `source` in chain order (one entry per number, created create-only),
 * each checked against the one before. Acknowledgements (an operator's recorded loss) are passed
 * over, and the chain goes on from their anchor; a finding (unacknowledged damage) stops export.
 */
async function* chain(store: ObjectStore, source: string, keys: KeyRing): AsyncGenerator<DataManifest> {
  let prev: string | null = null;
  let last = 0;
  // Holes and findings are damage unless an acknowledgement after them covers them.
  let pending: { seq: number; message: string; key: string }[] = [];
  for await (const item of store.listCreated(layout.manifestPrefix(source))) {
    const seq = layout.parseManifestKey(item.key);
    if (seq === undefined) continue;
    for (let s = last + 1; s < seq; s += 1)
      pending.push({ seq: s, message: `manifest #${s} is missing`, key: layout.manifestKey(source, s) });
    const bytes = await store.getCreated(item.key);
    if (!bytes) throw new ExportDamageError(`manifest #${seq} vanished`, item.key);
    const decoded = decodeEntry(bytes, keys);
    if ('problem' in decoded || decoded.signature === 'invalid') throw new ExportDamageError(`manifest #${seq} is altered`, item.key);
    const entry = decoded.value;
    if (entry.kind === 'finding') pending.push({ seq, message: `entry #${seq} records damage`, key: item.key });
    else if (entry.kind === 'acknowledgement') {
      const covered = new Set(entry.covers.seqs);
      pending = pending.filter((p) => !covered.has(p.seq));
    } else {
      const first = pending[0];
      if (first) throw new ExportDamageError(first.message, first.key);
      if (seq === last + 1 && entry.prev !== prev) throw new ExportDamageError(`manifest #${seq} does not chain to #${seq - 1}`, item.key);
      yield entry;
    }
    prev = decoded.sha256;
    last = seq;
  }
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
