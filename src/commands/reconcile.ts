import { decodeEntry, layout } from '../archive/index.js';
import { completenessDifference, type CompletenessFigure } from '../completeness/index.js';
import { loadConfig, type ArchiverConfig } from '../config/index.js';
import { ConfigError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { EXIT_FAILED, EXIT_OK } from './exit-codes.js';
import type { Output } from './output.js';
import { selectSources } from './select-sources.js';

export interface ReconcileOptions {
  config: string;
  source?: string[];
  /** Only streams and windows starting at or after this instant (ISO-8601 or a date). */
  since?: string;
  json?: boolean;
}

/** One stream whose stated total and archived count differ. */
export interface ReconcileGap extends CompletenessFigure {
  /** stated − archived − pending: positive, records or bytes missing; negative, more archived than stated. */
  difference: number;
}

/** Per source: what the provider stated, what is archived of it, and where they differ. */
export interface ReconcileSource {
  source: string;
  provider: string | undefined;
  /** Streams and windows the provider stated a total for. */
  streams: number;
  stated: { records: number; bytes: number };
  archived: { records: number; bytes: number };
  pending: { records: number; bytes: number };
  gaps: ReconcileGap[];
  /** Manifests that could not be read (run `verify`); their figures are not counted. */
  unreadableManifests: number;
}

/**
 * Compares, per source, the totals the provider stated (SDDP `TotalCount` per window, DWS `count`,
 * DataArts `number`, a DataWorks log's length at NextOffset -1, OOS entries per execution) with
 * what was archived of them, as the manifests record it and, for drains that wrote no object,
 * the run status; exit 0 when every stream matches, 1 naming each that does not, 3 when storage
 * cannot be reached. A config with `storage` and no `sources` reconciles every source in storage.
 */
export async function reconcile(options: ReconcileOptions, output: Output, logger: Logger): Promise<number> {
  const since = instant(options.since);
  const config = await loadConfig(options.config);
  const runtime = await openRuntime(config, { logger, needRedis: false, write: false });
  try {
    const sources = await sourcesOf(config, runtime, options.source);
    const rows: ReconcileSource[] = [];
    for (const { id, provider } of sources) rows.push(await reconcileSource(runtime, id, provider, since));
    const gaps = rows.reduce((n, r) => n + r.gaps.length, 0);
    if (options.json) {
      output.out(JSON.stringify({ ok: gaps === 0, gaps, sources: rows }, null, 2));
    } else {
      for (const row of rows) print(output, row);
      output.out(
        gaps === 0 ? 'reconcile: every stated total is archived' : `reconcile: ${gaps} stream(s) differ from what the provider stated`,
      );
    }
    return gaps === 0 ? EXIT_OK : EXIT_FAILED;
  } finally {
    await runtime.close();
  }
}

async function sourcesOf(
  config: ArchiverConfig,
  runtime: Runtime,
  names: readonly string[] | undefined,
): Promise<{ id: string; provider: string | undefined }[]> {
  if (config.sources.length > 0) return selectSources(config, names).map((s) => ({ id: s.id, provider: s.provider }));
  // An auditor's config: every source that has a chain in storage.
  const found = new Set<string>();
  for await (const folder of runtime.store.listFolders(layout.MANIFESTS)) {
    const source = layout.sourceOfFolder(folder, layout.MANIFESTS);
    if (source) found.add(source);
  }
  const wanted = names && names.length > 0 ? [...found].filter((s) => names.includes(s)) : [...found];
  return wanted.sort().map((id) => ({ id, provider: undefined }));
}

async function reconcileSource(
  runtime: Runtime,
  source: string,
  provider: string | undefined,
  since: number | undefined,
): Promise<ReconcileSource> {
  const latest = new Map<string, CompletenessFigure>();
  const take = (figure: CompletenessFigure): void => {
    latest.delete(figure.stream);
    latest.set(figure.stream, figure);
  };
  let unreadable = 0;
  let providerId = provider;
  for await (const item of runtime.store.list(layout.manifestPrefix(source))) {
    if (layout.parseManifestKey(item.key) === undefined) continue;
    const bytes = await runtime.store.get(item.key);
    if (!bytes) continue;
    const decoded = decodeEntry(bytes, runtime.config.manifests.keys);
    // Unreadable or not signed as the keys require: not counted (verify says why).
    if ('problem' in decoded || decoded.signature === 'invalid') {
      unreadable += 1;
      continue;
    }
    const entry = decoded.value;
    if (entry.kind !== 'data') continue;
    providerId ??= entry.provider;
    for (const figure of entry.completeness ?? []) take(figure);
  }
  // Newer than any manifest: the figures of the latest drains, those that wrote no object included.
  const status = await runtime.deps.checkpoints.loadStatus(source).catch(() => undefined);
  for (const figure of status?.completeness ?? []) take(figure);

  const row: ReconcileSource = {
    source,
    provider: providerId,
    streams: 0,
    stated: { records: 0, bytes: 0 },
    archived: { records: 0, bytes: 0 },
    pending: { records: 0, bytes: 0 },
    gaps: [],
    unreadableManifests: unreadable,
  };
  for (const figure of latest.values()) {
    // A figure of unknown time (at 0: a configured run or execution) is always in range.
    if (since !== undefined && figure.at !== 0 && figure.at < since) continue;
    row.streams += 1;
    row.stated[figure.unit] += figure.stated;
    row.archived[figure.unit] += figure.archived;
    row.pending[figure.unit] += figure.pending ?? 0;
    const difference = completenessDifference(figure);
    if (difference !== 0) row.gaps.push({ ...figure, difference });
  }
  row.gaps.sort((a, b) => a.at - b.at || (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
  return row;
}

function print(output: Output, row: ReconcileSource): void {
  const amounts = (figures: { records: number; bytes: number }): string =>
    [figures.records ? `${figures.records} records` : '', figures.bytes ? `${figures.bytes} bytes` : ''].filter(Boolean).join(', ') || '0';
  if (row.streams === 0) {
    output.out(`${row.source}: no stated totals recorded yet`);
  } else {
    const pending = row.pending.records + row.pending.bytes > 0 ? `, ${amounts(row.pending)} pending (not final yet)` : '';
    output.out(`${row.source}: ${row.streams} stream(s); stated ${amounts(row.stated)}; archived ${amounts(row.archived)}${pending}`);
  }
  for (const gap of row.gaps) {
    const what = gap.difference > 0 ? `${gap.difference} ${gap.unit} missing` : `${-gap.difference} ${gap.unit} more archived than stated`;
    output.out(
      `GAP ${row.source} ${gap.stream}: stated ${gap.stated}, archived ${gap.archived}${gap.pending ? `, pending ${gap.pending}` : ''} (${what})${gap.note ? `: ${gap.note}` : ''}`,
    );
  }
  if (row.unreadableManifests > 0) output.out(`${row.source}: ${row.unreadableManifests} manifest(s) unreadable, not counted (run verify)`);
}

function instant(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) {
    throw new ConfigError('invalid option', [
      { path: '--since', message: 'expected an ISO-8601 time or date (2026-11-21, 2026-11-21T10:00:00Z)' },
    ]);
  }
  return ms;
}
