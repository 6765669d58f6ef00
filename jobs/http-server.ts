import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from '../src/observability/index.js';

/** One readiness check's verdict, as `/readyz` shows it. */
export interface CheckResult {
  ok: boolean;
  detail: string;
}

export interface WorkerHttpOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** Process alive and its BullMQ worker running (or stopping on purpose). */
  healthy: () => boolean;
  /** Redis, storage, schedulers: every check must pass for 200. */
  readiness: () => Promise<Record<string, CheckResult>>;
  dashboard: { enabled: boolean; readOnly: boolean; basicAuth: { username: string; password: string } | undefined };
  queue: Queue;
  logger: Logger;
}

/** Path of the bull-board dashboard on the worker's HTTP port. */
export const DASHBOARD_PATH = '/dashboard';

/**
 * The worker's HTTP port: `/metrics` (Prometheus), `/healthz` (alive), `/readyz` (dependencies
 * and schedulers) and the bull-board dashboard under `/dashboard`, read-only unless configured
 * otherwise and behind basic auth when credentials are set. Probes and metrics stay open: a
 * kubelet or Prometheus without the dashboard's password must still reach them.
 */
export async function serveWorkerHttp(options: WorkerHttpOptions): Promise<{ port: number; close(): Promise<void> }> {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', (_req, res) => {
    options.registry.metrics().then(
      (text) => res.type(options.registry.contentType).send(text),
      (error: Error) => {
        options.logger.warn({ err: { message: error.message } }, 'metrics collection failed');
        res.status(500).type('text/plain').send('metrics collection failed\n');
      },
    );
  });
  app.get('/healthz', (_req, res) => {
    const ok = options.healthy();
    res
      .status(ok ? 200 : 503)
      .type('text/plain')
      .send(ok ? 'ok\n' : 'worker is not running\n');
  });
  app.get('/readyz', (_req, res) => {
    options.readiness().then(
      (checks) => {
        const ready = Object.values(checks).every((c) => c.ok);
        res.status(ready ? 200 : 503).json({ ready, checks });
      },
      (error: Error) => res.status(503).json({ ready: false, error: error.message }),
    );
  });
  if (options.dashboard.enabled) {
    const board = new ExpressAdapter();
    board.setBasePath(DASHBOARD_PATH);
    const readOnly = options.dashboard.readOnly;
    createBullBoard({
      queues: [
        new BullMQAdapter(options.queue, {
          readOnlyMode: readOnly,
          allowRetries: !readOnly,
          description: 'one drain job per source run; job schedulers named source:<id>',
        }),
      ],
      serverAdapter: board,
      options: { uiConfig: { boardTitle: 'log-archiver' } },
    });
    const auth = options.dashboard.basicAuth;
    if (auth) app.use(DASHBOARD_PATH, basicAuth(auth.username, auth.password));
    app.use(DASHBOARD_PATH, board.getRouter());
  }
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('not found\n');
  });
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(options.port, options.host ?? '0.0.0.0', (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function basicAuth(username: string, password: string): (req: Request, res: Response, next: NextFunction) => void {
  // Compared as digests so the comparison takes the same time whatever the lengths.
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  const expected = digest(`${username}:${password}`);
  return (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString('utf8') : '';
    if (given && timingSafeEqual(digest(given), expected)) {
      next();
      return;
    }
    res
      .set('WWW-Authenticate', 'Basic realm="log-archiver", charset="UTF-8"')
      .status(401)
      .type('text/plain')
      .send('authentication required\n');
  };
}
