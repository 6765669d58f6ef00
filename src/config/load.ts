import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { parseDocument } from 'yaml';
import { ConfigError, type ConfigIssue } from '../errors/index.js';
import { providers, providerIds } from '../providers/index.js';
import { storageConfigSchema } from '../storage/index.js';
import { formatPath, interpolateEnv } from './interpolate.js';
import { batchSchema, checkpointsSchema, httpSchema, manifestsSchema, redisSchema, sourceBaseSchema, workerSchema } from './schema.js';
import type { ArchiverConfig, SourceConfig } from './config.js';
import { buildKeyRing } from './manifest-keys.js';
import { proxyEnvOf, type ProxyEnvIssue } from '../http/index.js';

const topSchema = z
  .object({
    redis: redisSchema.optional(),
    storage: z.unknown(),
    checkpoints: checkpointsSchema.default({}),
    batch: batchSchema.default({}),
    worker: workerSchema.default({}),
    http: httpSchema.default({}),
    manifests: manifestsSchema.default({}),
    sources: z.array(z.unknown()).optional(),
  })
  .strict();

export interface LoadOptions {
  /**
   * Accept a config without sources: an auditor's, holding only `storage` and `manifests`
   * (verify finds the sources in storage). @defaultValue false
   */
  sourcesOptional?: boolean;
}

/** Reads, interpolates and validates a config file; throws ConfigError listing every problem. */
export async function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Promise<ArchiverConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read config file ${path}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}`, [], cause);
  }
  return parseConfig(text, env, path, dirname(resolve(path)), options);
}

/** Validates config text; `origin` names the file in messages, `baseDir` anchors relative `${file:…}` paths. */
export function parseConfig(
  text: string,
  env: NodeJS.ProcessEnv = process.env,
  origin = 'config',
  baseDir = process.cwd(),
  options: LoadOptions = {},
): ArchiverConfig {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      `${origin} is not valid YAML`,
      document.errors.map((e) => ({ path: `line ${e.linePos?.[0]?.line ?? '?'}`, message: e.message.split('\n')[0] ?? e.message })),
    );
  }
  const found: ConfigIssue[] = [];
  const wholeValues = new Set<string>();
  const raw = interpolateEnv(document.toJS(), env, found, { baseDir, wholeValues });
  const interpolated = found.length;
  const unresolved = new Set(found.map((i) => i.path));
  const config = validate(raw, env, found, wholeValues, options);
  // Every problem once: a field whose variable or file is missing is reported for that alone,
  // not again for the empty value it was left with.
  const seen = new Set<string>();
  const issues = found.filter((issue, index) => {
    const key = `${issue.path}\u0000${issue.message}`;
    if (seen.has(key) || (index >= interpolated && unresolved.has(issue.path))) return false;
    seen.add(key);
    return true;
  });
  if (issues.length > 0 || !config) {
    throw new ConfigError(`${origin} has ${issues.length} problem${issues.length === 1 ? '' : 's'}`, issues);
  }
  return config;
}

/**
 * `schema.safeParse(value)`, where a whole-string `${VAR}` value becomes the number or boolean the
 * schema expects (`metricsPort: ${METRICS_PORT:-9464}`); a value written in the file keeps its
 * YAML type, and a quoted secret that happens to look like a number stays a string where a
 * string is expected.
 */
function parseTyped<T>(
  typed: ReadonlySet<string>,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  value: unknown,
  base: (string | number)[],
): z.SafeParseReturnType<unknown, T> {
  let result = schema.safeParse(value);
  for (let round = 0; round < 3 && !result.success; round += 1) {
    let changed = false;
    for (const issue of result.error.issues) {
      if (issue.code !== z.ZodIssueCode.invalid_type || issue.received !== 'string') continue;
      if (!typed.has(formatPath([...base, ...issue.path]))) continue;
      changed = coerceAt(value, issue.path, issue.expected) || changed;
    }
    if (!changed) break;
    result = schema.safeParse(value);
  }
  return result;
}

/** Replaces the string at `path` inside `root` by the number or boolean it spells; false when it spells none. */
function coerceAt(root: unknown, path: (string | number)[], expected: string): boolean {
  if (path.length === 0) return false;
  let holder = root as Record<string | number, unknown>;
  for (const part of path.slice(0, -1)) holder = holder[part] as Record<string | number, unknown>;
  const key = path[path.length - 1]!;
  const text = holder[key];
  if (typeof text !== 'string') return false;
  if ((expected === 'number' || expected === 'integer') && /^-?\d+(\.\d+)?$/.test(text.trim())) {
    holder[key] = Number(text.trim());
    return true;
  }
  if (expected === 'boolean' && (text === 'true' || text === 'false')) {
    holder[key] = text === 'true';
    return true;
  }
  return false;
}

function pushZod(issues: ConfigIssue[], error: z.ZodError, base: (string | number)[], typed: ReadonlySet<string>): void {
  for (const issue of error.issues) {
    const path = formatPath([...base, ...issue.path]);
    const fromEnv = issue.code === z.ZodIssueCode.invalid_type && issue.received === 'string' && typed.has(path);
    issues.push({ path, message: fromEnv ? `${describeIssue(issue)} (the substituted value is not one)` : describeIssue(issue) });
  }
}

function describeIssue(issue: z.ZodIssue): string {
  // Never echo received values: they may be secrets. Zod's messages name types, not values.
  if (issue.code === z.ZodIssueCode.invalid_type) {
    return issue.received === 'undefined' ? `required (expected ${issue.expected})` : `expected ${issue.expected}, got ${issue.received}`;
  }
  if (issue.code === z.ZodIssueCode.invalid_enum_value) return `expected one of ${issue.options.join(', ')}`;
  if (issue.code === z.ZodIssueCode.invalid_literal) return `expected ${JSON.stringify(issue.expected)}`;
  if (issue.code === z.ZodIssueCode.unrecognized_keys) return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  if (issue.code === z.ZodIssueCode.invalid_union) {
    const inner = issue.unionErrors.flatMap((e) => e.issues).map((i) => i.message);
    return `does not match any allowed form (${[...new Set(inner)].slice(0, 3).join('; ')})`;
  }
  return issue.message;
}

function validate(
  raw: unknown,
  env: NodeJS.ProcessEnv,
  issues: ConfigIssue[],
  typed: ReadonlySet<string>,
  options: LoadOptions,
): ArchiverConfig | undefined {
  const top = parseTyped(typed, topSchema, raw ?? {}, []);
  if (top.success && !options.sourcesOptional && (top.data.sources ?? []).length === 0) {
    issues.push({ path: 'sources', message: 'expected at least one source' });
  }
  if (!top.success) {
    pushZod(issues, top.error, [], typed);
  }
  const storage = parseTyped(typed, storageConfigSchema, (raw as { storage?: unknown } | null)?.storage, ['storage']);
  if (!storage.success) pushZod(issues, storage.error, ['storage'], typed);
  const rawSources = Array.isArray((raw as { sources?: unknown } | null)?.sources) ? (raw as { sources: unknown[] }).sources : [];
  const sources: SourceConfig[] = [];
  const seen = new Map<string, number>();
  const httpTimeout = top.success ? top.data.http.timeout : 30_000;
  rawSources.forEach((candidate, index) => {
    // Every check runs even when an earlier one failed, so one pass lists every problem.
    const base = parseTyped(typed, sourceBaseSchema, candidate, ['sources', index]);
    if (!base.success) pushZod(issues, base.error, ['sources', index], typed);
    const raw = (candidate ?? {}) as Record<string, unknown>;
    const id = typeof raw.id === 'string' ? raw.id : undefined;
    if (id !== undefined) {
      const previous = seen.get(id);
      if (previous !== undefined) {
        issues.push({ path: formatPath(['sources', index, 'id']), message: `duplicate id ${id} (also sources[${previous}])` });
      } else {
        seen.set(id, index);
      }
    }
    const provider = typeof raw.provider === 'string' ? providers.get(raw.provider) : undefined;
    if (typeof raw.provider === 'string' && !provider) {
      issues.push({
        path: formatPath(['sources', index, 'provider']),
        message: `unknown provider ${JSON.stringify(raw.provider)}; expected one of ${providerIds.join(', ')}`,
      });
    }
    if (!provider) return;
    const params = parseTyped(typed, provider.paramsSchema, raw.params ?? {}, ['sources', index, 'params']);
    if (!params.success) pushZod(issues, params.error, ['sources', index, 'params'], typed);
    const withEnv = provider.cloud.credentialsWithEnv(raw.credentials, env);
    const credentials = provider.cloud.credentialsSchema.safeParse(withEnv);
    if (!credentials.success) {
      if (raw.credentials === undefined && Object.keys(withEnv ?? {}).length === 0) {
        issues.push({
          path: formatPath(['sources', index, 'credentials']),
          message: `required: set credentials, or ${provider.cloud.credentialsEnvHint} in the environment`,
        });
      } else {
        pushZod(issues, credentials.error, ['sources', index, 'credentials'], typed);
      }
    }
    if (!base.success || !params.success || !credentials.success) return;
    const source = base.data;
    const endpoint = source.endpoint ?? provider.defaultEndpoint(params.data);
    if (!endpoint) {
      issues.push({ path: formatPath(['sources', index, 'endpoint']), message: 'required: set endpoint, or a region in params' });
      return;
    }
    sources.push({
      id: source.id,
      provider: source.provider,
      schedule: source.schedule,
      endpoint,
      credentials: credentials.data,
      params: params.data,
      timeoutMs: source.timeout ?? httpTimeout,
      enabled: source.enabled,
    });
  });
  if (!top.success || !storage.success || issues.length > 0) return undefined;
  const data = top.data;
  const checkpointsKind = data.checkpoints.kind ?? (data.redis ? 'redis' : 'file');
  if (checkpointsKind === 'redis' && !data.redis) {
    issues.push({ path: 'checkpoints.kind', message: 'redis checkpoints need a redis section (redis.url)' });
    return undefined;
  }
  const keys = buildKeyRing(data.manifests, env, issues);
  const proxyIssues: ProxyEnvIssue[] = [];
  const proxy = proxyEnvOf(env, proxyIssues);
  for (const issue of proxyIssues) issues.push({ path: `environment ${issue.variable}`, message: issue.message });
  if (issues.length > 0) return undefined;
  return {
    redis: data.redis,
    storage: storage.data,
    checkpoints: { kind: checkpointsKind, path: data.checkpoints.path, deployment: data.checkpoints.deployment },
    batch: data.batch,
    worker: {
      concurrency: data.worker.concurrency,
      leaseTtlMs: data.worker.leaseTtl,
      maxDrainMs: data.worker.maxDrainTime,
      shutdownTimeoutMs: data.worker.shutdownTimeout,
      metricsPort: data.worker.metricsPort,
      metricsHost: data.worker.metricsHost,
      dashboard: { ...data.worker.dashboard, basicAuth: data.worker.dashboard.basicAuth },
    },
    http: { timeoutMs: data.http.timeout, maxBodyBytes: data.http.maxBodyBytes, maxAttempts: data.http.maxAttempts, proxy },
    manifests: { keys, digestIntervalMs: data.manifests.digestInterval },
    sources,
  };
}
