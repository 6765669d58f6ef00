import { Gauge, type Registry } from 'prom-client';
import type { CheckpointStore, RunStatus } from '../src/checkpoints/index.js';
import { completenessDifference } from '../src/completeness/index.js';
import type { SourceConfig } from '../src/config/index.js';

const CACHE_MS = 1_000;

/**
 * Per-source gauges read from the run status every drain records in the checkpoint store, so
 * they hold from the first scrape (before this worker ran anything) and agree across workers:
 * last success, last error, lag and whether the source's last run failed.
 */
export function registerSourceMetrics(registry: Registry, sources: readonly SourceConfig[], checkpoints: CheckpointStore): void {
  const startedAt = Date.now();
  let cached: { at: number; statuses: Promise<Map<string, RunStatus | undefined>> } | undefined;
  const statuses = (): Promise<Map<string, RunStatus | undefined>> => {
    if (!cached || Date.now() - cached.at > CACHE_MS) {
      const load = Promise.all(sources.map(async (s) => [s.id, await checkpoints.loadStatus(s.id).catch(() => undefined)] as const));
      cached = { at: Date.now(), statuses: load.then((entries) => new Map(entries)) };
    }
    return cached.statuses;
  };
  const seconds = (iso: string | undefined): number => (iso ? Date.parse(iso) / 1000 : 0);
  const failing = (status: RunStatus | undefined): boolean =>
    Boolean(status?.lastError && (!status.lastSuccessAt || status.lastError.at > status.lastSuccessAt));

  const gauge = (name: string, help: string, value: (status: RunStatus | undefined, now: number) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['source'],
      registers: [registry],
      async collect() {
        this.reset();
        const now = Date.now();
        for (const [source, status] of await statuses()) this.set({ source }, value(status, now));
      },
    });
  };
  gauge('log_archiver_last_success_timestamp_seconds', 'When each source last drained successfully (0: never)', (s) =>
    seconds(s?.lastSuccessAt),
  );
  gauge('log_archiver_last_error_timestamp_seconds', 'When a drain of each source last failed (0: never)', (s) =>
    seconds(s?.lastError?.at),
  );
  gauge(
    'log_archiver_source_lag_seconds',
    'Seconds since each source last drained successfully (never: since this worker started); alert above a few schedule intervals',
    (s, now) => Math.max(0, now / 1000 - (s?.lastSuccessAt ? seconds(s.lastSuccessAt) : startedAt / 1000)),
  );
  gauge('log_archiver_source_failing', '1 when the last drain of the source failed (its error is newer than its last success)', (s) =>
    failing(s) ? 1 : 0,
  );
  gauge(
    'log_archiver_completeness_gap_streams',
    'Streams or windows whose provider-stated total differs from what is archived (as status and reconcile report them)',
    (s) => (s?.completeness ?? []).filter((f) => completenessDifference(f) !== 0).length,
  );
  new Gauge({
    name: 'log_archiver_completeness_missing',
    help: 'Records or bytes the providers stated and the archive lacks, summed over the gap streams of each source',
    labelNames: ['source', 'unit'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [source, status] of await statuses()) {
        for (const unit of ['records', 'bytes'] as const) {
          const missing = (status?.completeness ?? [])
            .filter((f) => f.unit === unit)
            .reduce((sum, f) => sum + Math.max(0, completenessDifference(f)), 0);
          this.set({ source, unit }, missing);
        }
      }
    },
  });
  new Gauge({
    name: 'log_archiver_last_error_info',
    help: 'The error code of each source whose last drain failed (value 1)',
    labelNames: ['source', 'code'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const [source, status] of await statuses()) if (failing(status)) this.set({ source, code: status!.lastError!.code }, 1);
    },
  });
}
