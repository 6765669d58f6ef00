import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RunOutcome } from '../drain/index.js';

/** The worker's Prometheus metrics, one registry per process. */
export class ArchiverMetrics {
  readonly registry = new Registry();
  readonly #records: Counter<'source'>;
  readonly #objects: Counter<'source'>;
  readonly #drains: Counter<'source' | 'outcome'>;
  readonly #duration: Histogram<'source'>;
  readonly #lastSuccess: Gauge<'source'>;

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
    this.#lastSuccess = new Gauge({
      name: 'log_archiver_last_success_timestamp_seconds',
      help: 'When each source last drained successfully (alert when it falls behind its schedule)',
      labelNames: ['source'],
      registers: [this.registry],
    });
  }

  /** Counts one drain's outcome. */
  record(outcome: RunOutcome): void {
    const source = outcome.status === 'ok' ? outcome.result.source : outcome.source;
    this.#drains.inc({ source, outcome: outcome.status });
    const result = outcome.status === 'busy' ? undefined : outcome.result;
    const succeeded = outcome.status === 'ok' || (outcome.status === 'stopped' && outcome.committed);
    if (result) {
      this.#records.inc({ source }, result.records);
      this.#objects.inc({ source }, result.objects);
      this.#duration.observe({ source }, result.durationMs / 1000);
    }
    if (succeeded) this.#lastSuccess.set({ source }, Date.now() / 1000);
  }

  /** Serves `/metrics` (Prometheus text format) and `/healthz` on `port`; resolves with the bound port. */
  async serve(port: number, host = '0.0.0.0'): Promise<{ port: number; close(): Promise<void> }> {
    const server: Server = createServer((req, res) => {
      if (req.url === '/metrics') {
        void this.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(text);
          },
          () => {
            res.writeHead(500);
            res.end();
          },
        );
        return;
      }
      res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' });
      res.end(req.url === '/healthz' ? 'ok\n' : 'not found\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return {
      port: (server.address() as AddressInfo).port,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }
}
