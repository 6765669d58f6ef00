import { z } from 'zod';
import cronParser from 'cron-parser';
import { durationSchema as duration } from '../duration.js';

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
export { redisConfigSchema as redisSchema } from '../redis/index.js';

export const checkpointsSchema = z
  .object({
    kind: z.enum(['redis', 'file']).optional(),
    path: z.string().min(1).default('./.archiver-state'),
    /**
     * This deployment's name in the archive's owner record. @defaultValue the coordination state:
     * `redis://host:port/db#prefix`, or `file://<state dir>`. Two deployments with the same name
     * may write one prefix at once (storage arbitrates every commit).
     */
    deployment: z.string().min(1).max(200).optional(),
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
    /**
     * Seconds a drain holds what it has read before committing it, batch full or not, so that a
     * long backlog makes durable progress even when workers restart often. @defaultValue 60
     */
    maxSeconds: z.number().min(1).max(86_400).default(60),
  })
  .strict();

export const workerSchema = z
  .object({
    /** Drains run at once in one worker process. @defaultValue 2 */
    concurrency: z.number().int().min(1).max(64).default(2),
    /** Lease time-to-live; renewed every third of it while draining. @defaultValue 60s */
    leaseTtl: duration.default(60_000).refine((ms) => ms >= 3_000, 'expected at least 3s: a lease is renewed every third of it'),
    /**
     * Longest one worker drain reads a source before it commits what it read and yields its slot;
     * the source is queued again behind the others and resumes from its checkpoint, so a huge
     * backlog cannot starve other sources. (`run-once` always drains until caught up.) @defaultValue 5m
     */
    maxDrainTime: duration.default(300_000).refine((ms) => ms >= 1_000, 'expected at least 1s'),
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

const keyId = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'expected letters, digits, . _ : - (at most 128)');
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');

/** Where the key that signs new manifests and digests comes from. */
const signingSchema = z
  .discriminatedUnion(
    'algorithm',
    [
      z.object({ algorithm: z.literal('ed25519'), keyId, privateKeyFile: z.string().min(1) }).strict(),
      z
        .object({ algorithm: z.literal('hmac-sha256'), keyId, secretEnv: envName.optional(), secretFile: z.string().min(1).optional() })
        .strict(),
    ],
    {
      errorMap: (issue, ctx) =>
        issue.code === z.ZodIssueCode.invalid_union_discriminator
          ? { message: 'expected algorithm "ed25519" or "hmac-sha256"' }
          : { message: ctx.defaultError },
    },
  )
  .superRefine((v, ctx) => {
    if (v.algorithm === 'hmac-sha256' && (v.secretEnv === undefined) === (v.secretFile === undefined)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected exactly one of secretEnv, secretFile' });
    }
  });

/** A key that checks older (or, for an auditor, all) signatures: an Ed25519 public key or an HMAC secret. */
const verifyKeySchema = z
  .object({ publicKeyFile: z.string().min(1).optional(), secretEnv: envName.optional(), secretFile: z.string().min(1).optional() })
  .strict()
  .refine((v) => [v.publicKeyFile, v.secretEnv, v.secretFile].filter((x) => x !== undefined).length === 1, {
    message: 'expected exactly one of publicKeyFile, secretEnv, secretFile',
  });

export const manifestsSchema = z
  .object({
    /** A signed digest of each source's head at least this often. @defaultValue 1h */
    digestInterval: duration.default(3_600_000).refine((ms) => ms >= 1_000, 'expected at least 1s'),
    signing: signingSchema.optional(),
    /** keyId → key, for signatures by older keys (rotation) or, on an auditor's machine, every key. */
    verifyKeys: z.record(keyId, verifyKeySchema).default({}),
    /** Older form of `signing: { algorithm: hmac-sha256, keyId: default, secretEnv: … }`. */
    hmacKeyEnv: envName.optional(),
  })
  .strict();

export type ManifestsSection = z.infer<typeof manifestsSchema>;
