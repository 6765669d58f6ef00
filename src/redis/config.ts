import { z } from 'zod';
import { durationSchema } from '../duration.js';

/** `host:port`, `[v6]:port` or a bare host (the topology's default port). */
const hostPort = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?$/, 'expected host:port (e.g. 10.0.0.1:6379 or [::1]:6379)');

/**
 * TLS to Redis nodes. PEM text, usually `${file:/path}` (a Kubernetes Secret volume); without
 * `ca` the system's trust store is used, as for any TLS client.
 */
const tlsOptionsSchema = z
  .object({
    /** CA certificate(s) the server's certificate must chain to (PEM). */
    ca: z.string().min(1).optional(),
    /** Client certificate for mutual TLS (PEM); needs `key`. */
    cert: z.string().min(1).optional(),
    /** Client private key for mutual TLS (PEM). */
    key: z.string().min(1).optional(),
    /** Verify the server's certificate. Turn off only for a test server. @defaultValue true */
    rejectUnauthorized: z.boolean().default(true),
    /** Name the server certificate must carry, when it differs from the host connected to (SNI too). */
    servername: z.string().min(1).optional(),
  })
  .strict()
  .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), { message: 'cert and key go together (mutual TLS)' });

/** `true` is TLS with the system's trust store. */
const tlsSchema = z.union([z.literal(true).transform(() => tlsOptionsSchema.parse({})), tlsOptionsSchema]);

export type RedisTlsOptions = z.infer<typeof tlsOptionsSchema>;

/**
 * Address translation, when nodes announce addresses this process cannot reach (NAT, Kubernetes
 * without `*-announce-ip`): `"10.0.0.1:6379": "203.0.113.7:7001"`.
 */
const natMapSchema = z.record(hostPort, hostPort);

const sentinelSchema = z
  .object({
    /** Master set name (`sentinel monitor <name> …`). */
    name: z.string().min(1),
    /** Sentinels to ask for the current master; port 26379 when omitted. */
    nodes: z.array(hostPort).min(1, 'expected at least one sentinel'),
    /** ACL user of the sentinels themselves (their `requirepass`/ACL, not the master's). */
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /** Translation of the master and replica addresses the sentinels announce. */
    natMap: natMapSchema.optional(),
    /** TLS to the sentinels: `true` uses `redis.tls`'s options (or the system trust store), an object its own. Off when unset. */
    tls: z.union([z.literal(true), tlsOptionsSchema]).optional(),
  })
  .strict();

const clusterSchema = z
  .object({
    /** Some of the cluster's nodes (the rest are discovered); port 6379 when omitted. */
    nodes: z.array(hostPort).min(1, 'expected at least one node'),
    /** Translation of the node addresses the cluster announces. */
    natMap: natMapSchema.optional(),
  })
  .strict();

/** The `redis` section: exactly one of `url`, `sentinel` or `cluster`, plus what they share. */
export const redisConfigSchema = z
  .object({
    /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
    url: z
      .string()
      .regex(/^rediss?:\/\/[^\s]+$/, 'expected a redis:// or rediss:// URL')
      .optional(),
    sentinel: sentinelSchema.optional(),
    cluster: clusterSchema.optional(),
    /** ACL user of the data nodes; overrides the URL's. */
    username: z.string().min(1).optional(),
    /** Password of the data nodes (ACL or `requirepass`); overrides the URL's. */
    password: z.string().min(1).optional(),
    /** Database number; not with `cluster` (which has only 0). */
    db: z.number().int().min(0).max(15).optional(),
    /** TLS to the data nodes: implied by `rediss://`; with `sentinel` or `cluster`, turns it on. */
    tls: tlsSchema.optional(),
    /**
     * Replicas a lease must reach (Redis `WAIT`) before its drain starts, so that a failover to a
     * replica keeps it. @defaultValue 1 with `sentinel`, 0 otherwise
     */
    leaseReplicas: z.number().int().min(0).max(16).optional(),
    /** How long a lease write waits for those replicas. @defaultValue 1s */
    leaseReplicaTimeout: durationSchema.optional(),
    /** Time to establish a connection. @defaultValue 10s */
    connectTimeout: durationSchema.optional(),
    /** Namespace of every key; the keys are `{prefix}:…`, so they share one Cluster hash slot. */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'expected 1-64 letters, digits, _ . : - (the {…} hash tag is added, do not write it)')
      .default('log-archiver'),
  })
  .strict()
  .superRefine((redis, ctx) => {
    const given = (['url', 'sentinel', 'cluster'] as const).filter((k) => redis[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: given.length === 0 ? ['url'] : [given[1]!],
        message: given.length === 0 ? 'required: url, sentinel or cluster' : `give one of url, sentinel, cluster (got ${given.join(', ')})`,
      });
    }
    if (redis.url !== undefined && redis.tls !== undefined && !redis.url.startsWith('rediss://')) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['tls'], message: 'TLS options need a rediss:// url' });
    }
    if (redis.url !== undefined) {
      try {
        const db = new URL(redis.url).pathname.slice(1);
        if (db !== '' && !/^\d{1,2}$/.test(db))
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['url'], message: 'the path must be a database number' });
      } catch {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['url'], message: 'expected a redis:// or rediss:// URL' });
      }
    }
    if (redis.cluster !== undefined && redis.db !== undefined && redis.db !== 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['db'], message: 'Redis Cluster has only database 0' });
    }
  });

/** The parsed `redis` section. */
export type RedisConfig = z.infer<typeof redisConfigSchema>;
