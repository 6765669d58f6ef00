import { z } from 'zod';
import cronParser from 'cron-parser';
import { durationSchema as duration } from './duration.js';

export const SOURCE_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const schedule = z.union([
  z.object({ every: duration }).strict(),
  z
    .object({ cron: z.string(), tz: z.string().optional() })
    .strict()
    .superRefine((value, ctx) => {
      try {
        cronParser.parseExpression(value.cron, value.tz ? { tz: value.tz } : {});
      } catch (error) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['cron'], message: `invalid cron expression: ${(error as Error).message}` });
      }
    }),
]);

export type Schedule = { every: number } | { cron: string; tz?: string | undefined };

/** Shape of one source before its provider checks `params` and `credentials`. */
export const sourceBaseSchema = z
  .object({
    id: z.string().regex(SOURCE_ID, 'expected [a-z0-9][a-z0-9_-]{0,63}'),
    provider: z.string(),
    schedule: schedule.default({ every: 300_000 }),
    endpoint: z.string().url().optional(),
    credentials: z.unknown(),
    params: z.unknown(),
    /** Per-request timeout. @defaultValue http.timeout */
    timeout: duration.optional(),
    enabled: z.boolean().default(true),
  })
  .strict();

/** The `redis` section; its own module, as storage's is. */
export { redisConfigSchema as redisSchema } from './redis-schema.js';

export const checkpointsSchema = z
  .object({
    kind: z.enum(['redis', 'file']).optional(),
    path: z.string().min(1).default('./.archiver-state'),
  })
  .strict();

export const batchSchema = z
  .object({
    /** Records per object at most. @defaultValue 100000 */
    maxRecords: z.number().int().min(1).max(10_000_000).default(100_000),
    /** Uncompressed bytes per object at most. @defaultValue 64 MiB */
    maxBytes: z
      .number()
      .int()
      .min(1024)
      .max(5 * 1024 ** 3)
      .default(64 * 1024 * 1024),
    /** zlib level 1 (fast) … 9 (small). @defaultValue 6 */
    gzipLevel: z.number().int().min(1).max(9).default(6),
  })
  .strict();

export const workerSchema = z
  .object({
    /** Drains run at once in one worker process. @defaultValue 2 */
    concurrency: z.number().int().min(1).max(64).default(2),
    /** Lease time-to-live; renewed every third of it while draining. @defaultValue 60s */
    leaseTtl: duration.default(60_000).refine((ms) => ms >= 3_000, 'expected at least 3s: a lease is renewed every third of it'),
    /** Time SIGTERM gives a drain to flush and commit before it is abandoned. @defaultValue 30s */
    shutdownTimeout: duration.default(30_000).refine((ms) => ms <= 86_400_000, 'expected at most 1d'),
    /** Port of the worker's HTTP endpoints (`/metrics`, `/healthz`, `/readyz`, `/dashboard`); off when unset. */
    metricsPort: z.number().int().min(0).max(65535).optional(),
    /** Address the worker's HTTP port binds to. @defaultValue 0.0.0.0 */
    metricsHost: z.string().min(1).default('0.0.0.0'),
    /** The bull-board dashboard under `/dashboard` on `metricsPort`. */
    dashboard: z
      .object({
        enabled: z.boolean().default(true),
        /** Look, don't touch: no retry, promote, clean or remove buttons. @defaultValue true */
        readOnly: z.boolean().default(true),
        basicAuth: z
          .object({ username: z.string().min(1), password: z.string().min(1) })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

export const httpSchema = z
  .object({
    timeout: duration.default(30_000),
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .default(16 * 1024 * 1024),
    /** Attempts per provider call before the drain stops with the error. @defaultValue 8 */
    maxAttempts: z.number().int().min(1).max(50).default(8),
  })
  .strict();

export const manifestsSchema = z
  .object({
    /** Environment variable holding the HMAC key that signs manifests; unsigned when unset. */
    hmacKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional(),
  })
  .strict();
