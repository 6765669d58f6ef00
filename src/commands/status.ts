import { completenessDifference, type CompletenessFigure } from '../completeness/index.js';
import type { ArchiverConfig, SourceConfig } from '../config/index.js';
import { loadConfig } from '../config/index.js';
import { getProvider } from '../providers/index.js';
import type { Logger } from '../observability/index.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { ArchiveTamperedError } from '../errors/index.js';
import { EXIT_OK } from './exit-codes.js';
import type { Output } from './output.js';
import { describeSchedule, formatDuration, nextRunFromSchedule } from './schedule-info.js';

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
  /** Number of the newest chain entry in storage. */
  head: number;
  lastObject: string | null;
  /** Damage near the head that stops the source until acknowledged (status, logs and the drain say so); empty when intact. */
  damage: string[];
  /** The provider-stated totals of the latest drains (what `reconcile` and the completeness metrics report). */
  completeness: { streams: number; gaps: (CompletenessFigure & { difference: number })[] };
  /** Guard events of the last drain: API behaviours the provider guarded against. */
  guards: Record<string, number>;
}

/** Per source: schedule, next run, checkpoint, last success, lag, last error, totals, last object, damage. */
export async function status(options: { config: string; json?: boolean }, output: Output, logger: Logger): Promise<number> {
  const config = await loadConfig(options.config);
  const runtime = await openRuntime(config, { logger, needRedis: false, write: false });
  try {
    const rows = await collect(config, runtime);
    const owner = await runtime.owner.current();
    if (options.json) {
      output.out(JSON.stringify({ owner: owner ?? null, deployment: runtime.owner.deployment, sources: rows }, null, 2));
    } else {
      if (owner && owner.deployment !== runtime.owner.deployment) {
        output.out(
          `archive owner: ${owner.deployment} (since ${owner.since}); this config is ${runtime.owner.deployment}: it may not write here`,
        );
      }
      for (const row of rows) {
        output.out(`${row.source} (${row.provider})${row.enabled ? '' : ' [disabled]'}`);
        output.out(`  schedule:     ${row.schedule}${row.nextRunAt ? `, next run ${row.nextRunAt}` : ''}`);
        output.out(`  archived:     ${row.recordsArchived} records in ${row.objectsArchived} objects (${row.head} chain entries)`);
        output.out(`  checkpoint:   ${row.checkpointSummary ?? JSON.stringify(row.checkpoint)}`);
        const lag = row.lagSeconds === null ? '' : ` (${formatDuration(row.lagSeconds * 1000)} ago)`;
        output.out(`  last success: ${row.lastSuccessAt ?? 'never'}${lag}`);
        output.out(`  last error:   ${row.lastError ? `${row.lastError.at} ${row.lastError.code}: ${row.lastError.message}` : 'none'}`);
        output.out(`  last object:  ${row.lastObject ?? 'none'}`);
        const gaps = row.completeness.gaps.map((g) => `${g.stream} (stated ${g.stated}, archived ${g.archived} ${g.unit})`);
        output.out(
          `  completeness: ${row.completeness.streams} stream(s) stated; ${gaps.length === 0 ? 'no gap' : `${gaps.length} differ: ${gaps.join('; ')}`}`,
        );
        const guards = Object.entries(row.guards);
        if (guards.length > 0) output.out(`  guards:       ${guards.map(([g, n]) => `${g} ×${n}`).join(', ')} (last drain)`);
        for (const d of row.damage) output.out(`  DAMAGE:       ${d}`);
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
    runtime.redis && runtime.keys
      ? // Loaded only with Redis: the scheduler module brings BullMQ.
        await (await import('../../jobs/schedulers.js')).schedulerNextRuns(runtime.redis, runtime.keys.bullmqPrefix)
      : new Map<string, number>();
  const rows: SourceStatus[] = [];
  for (const source of config.sources) {
    const provider = getProvider(source.provider);
    const state = await runtime.deps.checkpoints.load(source.id);
    const run = await runtime.deps.checkpoints.loadStatus(source.id);
    // Storage is the record: the chain near the cached head (or its top, found without listing
    // the history) names the last object, stands in for a lost cache, and says what is damaged.
    const assessment = await runtime.deps.ledger.assess(source.id, state?.head ?? null);
    const top = assessment.top > 0 ? await runtime.deps.ledger.readEntry(source.id, assessment.top) : undefined;
    const entry = top?.entry;
    const sameHead = state?.head !== null && state?.head !== undefined && top !== undefined && state.head.sha256 === top.sha256;
    const checkpoint = sameHead && state?.checkpoint !== undefined ? state.checkpoint : (entry?.checkpointAfter ?? undefined);
    const parsed = checkpoint === undefined || checkpoint === null ? undefined : provider.checkpointSchema.safeParse(checkpoint);
    const summary = parsed?.success && provider.summarize ? provider.summarize(parsed.data) : undefined;
    const totals = entry?.totals ?? state?.head?.totals ?? { records: 0, objects: 0 };
    const lastSuccessAt = run?.lastSuccessAt ?? null;
    const damage = assessment.problems.map((p) => p.text);
    let lastError = run?.lastError && (!run.lastSuccessAt || run.lastError.at > run.lastSuccessAt) ? run.lastError : null;
    if (!lastError && damage.length > 0) {
      const error = new ArchiveTamperedError(source.id, damage);
      lastError = { at: new Date(now).toISOString(), code: error.code, message: error.message };
    }
    rows.push({
      source: source.id,
      provider: source.provider,
      enabled: source.enabled,
      schedule: describeSchedule(source.schedule),
      nextRunAt: nextRun(source, scheduled, run?.lastRunAt, now),
      checkpoint: checkpoint ?? null,
      checkpointSummary: summary?.text,
      pending: summary?.pending,
      lastRunAt: run?.lastRunAt ?? null,
      lastSuccessAt,
      lagSeconds: lastSuccessAt ? Math.max(0, Math.round((now - Date.parse(lastSuccessAt)) / 1000)) : null,
      lastError,
      recordsArchived: totals.records,
      objectsArchived: totals.objects,
      head: assessment.top,
      lastObject: entry?.kind === 'data' ? entry.key : null,
      damage,
      completeness: {
        streams: run?.completeness?.length ?? 0,
        gaps: (run?.completeness ?? []).flatMap((f) => {
          const difference = completenessDifference(f);
          return difference === 0 ? [] : [{ ...f, difference }];
        }),
      },
      guards: run?.lastDrain?.guards ?? {},
    });
  }
  return rows;
}

function nextRun(source: SourceConfig, scheduled: ReadonlyMap<string, number>, lastRunAt: string | undefined, now: number): string | null {
  if (!source.enabled) return null;
  const next = scheduled.get(source.id) ?? nextRunFromSchedule(source.schedule, lastRunAt ? Date.parse(lastRunAt) : undefined, now);
  return new Date(next).toISOString();
}
