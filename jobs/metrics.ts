import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunOutcome } from '../src/drain/index.js';

/** The worker's Prometheus metrics, one registry per process; the worker's HTTP server serves it. */
export class ArchiverMetrics {
  readonly registry = new Registry();
  readonly #records: Counter<'source'>;
  readonly #objects: Counter<'source'>;
  readonly #drains: Counter<'source' | 'outcome'>;
  readonly #duration: Histogram<'source'>;
  readonly #guards: Counter<'source' | 'guard'>;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'log_archiver_' });
    this.#records = new Counter({
      name: 'log_archiver_records_archived_total',
      help: 'Records committed to the archive',
      labelNames: ['source'],
      registers: [this.registry],
    });
    this.#objects = new Counter({
      name: 'log_archiver_objects_archived_total',
      help: 'Data objects committed to the archive',
      labelNames: ['source'],
      registers: [this.registry],
    });
    this.#drains = new Counter({
      name: 'log_archiver_drains_total',
      help: 'Drains by outcome: ok, failed, busy (another drain held the lease) or stopped (by a shutdown)',
      labelNames: ['source', 'outcome'],
      registers: [this.registry],
    });
    this.#duration = new Histogram({
      name: 'log_archiver_drain_duration_seconds',
      help: 'Wall time of drains that ran',
      labelNames: ['source'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800],
      registers: [this.registry],
    });
    this.#guards = new Counter({
      name: 'log_archiver_provider_guard_events_total',
      help: 'Times a provider API did something its documents do not promise and the provider guarded against it, by guard',
      labelNames: ['source', 'guard'],
      registers: [this.registry],
    });
  }

  /** Starts every source's counters at 0, so a series exists from the first scrape (rate() and absent() work). */
  declareSources(sources: readonly string[]): void {
    for (const source of sources) {
      this.#records.inc({ source }, 0);
      this.#objects.inc({ source }, 0);
      for (const outcome of ['ok', 'failed', 'busy', 'stopped']) this.#drains.inc({ source, outcome }, 0);
    }
  }

  /** Counts one drain's outcome. */
  record(outcome: RunOutcome): void {
    const source = outcome.status === 'ok' ? outcome.result.source : outcome.source;
    this.#drains.inc({ source, outcome: outcome.status });
    const result = outcome.status === 'busy' ? undefined : outcome.result;
    if (result) {
      this.#records.inc({ source }, result.records);
      this.#objects.inc({ source }, result.objects);
      this.#duration.observe({ source }, result.durationMs / 1000);
      for (const [guard, count] of Object.entries(result.guards)) this.#guards.inc({ source, guard }, count);
    }
  }
}
