import type { ArchiverConfig, SourceConfig } from '../config/index.js';
import { loadConfig } from '../config/index.js';
import { getProvider } from '../providers/index.js';
import type { Logger } from '../observability/index.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { manifestPrefix, decodeManifest, type Manifest } from '../archive/index.js';
import { EXIT_OK } from './exit-codes.js';
import type { Output } from './output.js';
import { describeSchedule, formatDuration, nextRunFromSchedule } from './schedule-info.js';
import { schedulerNextRuns } from '../../jobs/schedulers.js';

export interface SourceStatus {
  source: string;
  provider: string;
  enabled: boolean;
  /** As the config spells it: `every 5m`, `cron 0 * * * *`. */
  schedule: string;
  /** When the next drain is due: the worker's job scheduler when Redis holds one, else from the schedule. */
  nextRunAt: string | null;
  checkpoint: unknown;
  checkpointSummary: string | undefined;
  pending: unknown[] | undefined;
  lastRunAt: string | null;
  lastSuccessAt: string | null;
  /** Seconds since the last successful drain (null: never succeeded). */
  lagSeconds: number | null;
  lastError: { at: string; code: string; message: string } | null;
  recordsArchived: number;
  objectsArchived: number;
  lastObject: string | null;
}

/** Per source: schedule, next run, checkpoint, last success, lag, last error, totals, last object. */
export async function status(options: { config: string; json?: boolean }, output: Output, logger: Logger): Promise<number> {
  const config = await loadConfig(options.config);
  const runtime = await openRuntime(config, { logger, needRedis: false });
  try {
    const rows = await collect(config, runtime);
    if (options.json) {
      output.out(JSON.stringify({ sources: rows }, null, 2));
    } else {
      for (const row of rows) {
        output.out(`${row.source} (${row.provider})${row.enabled ? '' : ' [disabled]'}`);
        output.out(`  schedule:     ${row.schedule}${row.nextRunAt ? `, next run ${row.nextRunAt}` : ''}`);
        output.out(`  archived:     ${row.recordsArchived} records in ${row.objectsArchived} objects`);
        output.out(`  checkpoint:   ${row.checkpointSummary ?? JSON.stringify(row.checkpoint)}`);
        const lag = row.lagSeconds === null ? '' : ` (${formatDuration(row.lagSeconds * 1000)} ago)`;
        output.out(`  last success: ${row.lastSuccessAt ?? 'never'}${lag}`);
        output.out(`  last error:   ${row.lastError ? `${row.lastError.at} ${row.lastError.code}: ${row.lastError.message}` : 'none'}`);
        output.out(`  last object:  ${row.lastObject ?? 'none'}`);
      }
    }
  } finally {
    await runtime.close();
  }
  return EXIT_OK;
}

async function collect(config: ArchiverConfig, runtime: Runtime): Promise<SourceStatus[]> {
  const now = Date.now();
  const scheduled =
    runtime.redis && runtime.keys ? await schedulerNextRuns(runtime.redis, runtime.keys.bullmqPrefix) : new Map<string, number>();
  const rows: SourceStatus[] = [];
  for (const source of config.sources) {
    const provider = getProvider(source.provider);
    const state = await runtime.deps.checkpoints.load(source.id);
    const run = await runtime.deps.checkpoints.loadStatus(source.id);
    // The newest manifest names the last object; it also stands in for a lost cache (Redis flushed).
    const manifest = await newestManifest(runtime, source.id, state?.head?.key);
    const position = state?.position ?? manifest?.checkpointAfter;
    const parsed = position === undefined ? undefined : provider.checkpointSchema.safeParse(position);
    const summary = parsed?.success && provider.summarize ? provider.summarize(parsed.data) : undefined;
    const totals = state?.head?.totals ?? manifest?.totals ?? { records: 0, objects: 0 };
    const lastSuccessAt = run?.lastSuccessAt ?? null;
    rows.push({
      source: source.id,
      provider: source.provider,
      enabled: source.enabled,
      schedule: describeSchedule(source.schedule),
      nextRunAt: nextRun(source, scheduled, run?.lastRunAt, now),
      checkpoint: position ?? null,
      checkpointSummary: summary?.text,
      pending: summary?.pending,
      lastRunAt: run?.lastRunAt ?? null,
      lastSuccessAt,
      lagSeconds: lastSuccessAt ? Math.max(0, Math.round((now - Date.parse(lastSuccessAt)) / 1000)) : null,
      lastError: run?.lastError && (!run.lastSuccessAt || run.lastError.at > run.lastSuccessAt) ? run.lastError : null,
      recordsArchived: totals.records,
      objectsArchived: totals.objects,
      lastObject: manifest?.key ?? null,
    });
  }
  return rows;
}

function nextRun(source: SourceConfig, scheduled: ReadonlyMap<string, number>, lastRunAt: string | undefined, now: number): string | null {
  if (!source.enabled) return null;
  const next = scheduled.get(source.id) ?? nextRunFromSchedule(source.schedule, lastRunAt ? Date.parse(lastRunAt) : undefined, now);
  return new Date(next).toISOString();
}

async function newestManifest(runtime: Runtime, source: string, headKey: string | undefined): Promise<Manifest | undefined> {
  let last = headKey;
  if (last === undefined) for await (const item of runtime.store.list(manifestPrefix(source))) last = item.key;
  if (!last) return undefined;
  const bytes = await runtime.store.get(last);
  if (!bytes) return undefined;
  const decoded = decodeManifest(bytes, runtime.config.manifests.hmacKey);
  return 'problem' in decoded ? undefined : decoded.manifest;
}
