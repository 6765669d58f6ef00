import { CredentialRegistry, type CredentialServices } from '../credentials/index.js';
import { loadConfig, type ArchiverConfig, type RedisConfig, type SourceConfig } from '../config/index.js';
import { ArchiverError } from '../errors/index.js';
import { HttpClient, defaultRetryPolicy, describeProxy } from '../http/index.js';
import type { Logger } from '../observability/index.js';
import { getProvider, providerContext, readPages } from '../providers/index.js';
import { LocalRateLimiter } from '../ratelimit/index.js';
import { createRedisClient, describeRedis } from '../redis/index.js';
import { createObjectStore, type ObjectStore } from '../storage/index.js';
import { EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE } from './exit-codes.js';
import type { Output } from './output.js';
import { describeSchedule } from './schedule-info.js';

export interface ValidateOptions {
  config: string;
  /** Also try Redis, storage and every source's credentials (one read-only call each). */
  connect?: boolean;
}

type Check = { what: string; ok: boolean; detail: string; dependency: boolean };

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Checks a config without touching the network (exit 0, or 2 listing every problem by path);
 * with `--connect` also reaches Redis, storage and each source's API: 1 when a provider refuses
 * a source, 3 when Redis or storage cannot be reached.
 */
export async function validate(options: ValidateOptions, output: Output, logger: Logger): Promise<number> {
  const config = await loadConfig(options.config);
  // Built once and closed here: the summary describes it and `--connect` lists it.
  const store = createObjectStore(config.storage, { proxy: config.http.proxy });
  try {
    output.out(`${options.config}: valid`);
    for (const line of summary(config, store)) output.out(`  ${line}`);
    return options.connect ? await connect(config, store, output, logger) : EXIT_OK;
  } finally {
    await store.close();
  }
}

async function connect(config: ArchiverConfig, store: ObjectStore, output: Output, logger: Logger): Promise<number> {
  const checks: Check[] = [];
  if (config.redis) checks.push(await checkRedis(config.redis, logger));
  checks.push(await checkStorage(store));
  const http = new HttpClient({
    timeoutMs: Math.min(config.http.timeoutMs, CONNECT_TIMEOUT_MS),
    maxBodyBytes: config.http.maxBodyBytes,
    proxy: config.http.proxy,
  });
  try {
    const retry = { ...defaultRetryPolicy, maxAttempts: 2, maxElapsedMs: CONNECT_TIMEOUT_MS };
    const credentials = new CredentialRegistry().services({ http, retry, logger });
    for (const source of config.sources.filter((s) => s.enabled)) checks.push(await checkSource(source, http, credentials, logger));
  } finally {
    await http.close();
  }
  for (const check of checks) output.out(`${check.ok ? 'ok    ' : 'FAILED'} ${check.what}: ${check.detail}`);
  const failed = checks.filter((c) => !c.ok);
  if (failed.some((c) => !c.dependency)) return EXIT_FAILED;
  return failed.length > 0 ? EXIT_UNAVAILABLE : EXIT_OK;
}

function summary(config: ArchiverConfig, store: ObjectStore): string[] {
  const lines = [
    `storage:     ${store.describe()}`,
    `checkpoints: ${config.checkpoints.kind}${config.checkpoints.kind === 'file' ? ` (${config.checkpoints.path})` : ''}`,
  ];
  if (config.redis) lines.push(`redis:       ${describeRedis(config.redis)} (prefix ${config.redis.prefix})`);
  const { proxy } = config.http;
  if (proxy) {
    const via = (['https:', 'http:'] as const).map((p) => {
      const through = describeProxy(proxy, p);
      return `${p}// ${through === undefined ? 'direct' : `via ${through}`}`;
    });
    lines.push(`proxy:       ${via.join(', ')}; direct for ${proxy.NO_PROXY}`);
  }
  if (config.worker.metricsPort !== undefined) {
    const board = config.worker.dashboard;
    const dashboard = board.enabled
      ? `, /dashboard ${board.readOnly ? 'read-only' : 'read-write'}${board.basicAuth ? ' with basic auth' : ''}`
      : '';
    lines.push(`http:        ${config.worker.metricsHost}:${config.worker.metricsPort} (/metrics, /healthz, /readyz${dashboard})`);
  }
  lines.push(`sources:     ${config.sources.length}`);
  for (const s of config.sources)
    lines.push(`  ${s.id} (${s.provider}) ${describeSchedule(s.schedule)}${s.enabled ? '' : ' [disabled]'} ${s.endpoint}`);
  return lines;
}

async function checkRedis(config: RedisConfig, logger: Logger): Promise<Check> {
  const what = `redis ${describeRedis(config)}`;
  const redis = createRedisClient(
    { ...config, connectTimeout: config.connectTimeout ?? CONNECT_TIMEOUT_MS },
    { role: 'commands', logger, failFast: true },
  );
  let firstError: Error | undefined;
  redis.on('error', (error: Error) => {
    firstError ??= error;
  });
  try {
    await redis.connect();
    await redis.ping();
    return { what, ok: true, detail: 'PING answered', dependency: true };
  } catch (error) {
    return { what, ok: false, detail: (firstError ?? (error as Error)).message, dependency: true };
  } finally {
    redis.disconnect();
  }
}

async function checkStorage(store: ObjectStore): Promise<Check> {
  const what = `storage ${store.describe()}`;
  try {
    // Listing only: a check must never write into a WORM bucket.
    for await (const _ of store.list('')) break;
    return { what, ok: true, detail: 'listing answered', dependency: true };
  } catch (error) {
    return { what, ok: false, detail: describe(error), dependency: true };
  }
}

async function checkSource(source: SourceConfig, http: HttpClient, credentials: CredentialServices, logger: Logger): Promise<Check> {
  const what = `source ${source.id}`;
  const provider = getProvider(source.provider);
  const spec = {
    id: source.id,
    provider: source.provider,
    endpoint: source.endpoint,
    // Temporary credentials are obtained here (STS, IAM, the metadata service): part of what is checked.
    credentials: provider.cloud.credentialSource(source.credentials, { sourceId: source.id, params: source.params }, credentials),
    params: source.params,
    timeoutMs: source.timeoutMs,
  };
  const context = providerContext(
    {
      http,
      rateLimiter: new LocalRateLimiter(),
      logger,
      signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS * 3),
      retry: { ...defaultRetryPolicy, maxAttempts: 2, maxElapsedMs: CONNECT_TIMEOUT_MS },
      now: Date.now,
    },
    { id: source.id, provider: source.provider },
  );
  const pages = readPages(provider, spec, provider.initialCheckpoint(source.params, Date.now()), context);
  try {
    // One page (read-only), then stop: enough to prove the endpoint, credentials and parameters.
    const first = await pages.next();
    const records = first.done ? 0 : first.value.records.length;
    return { what, ok: true, detail: `${source.endpoint} answered (${records} records on the first page)`, dependency: false };
  } catch (error) {
    return { what, ok: false, detail: describe(error), dependency: false };
  } finally {
    await pages.return(undefined);
  }
}

function describe(error: unknown): string {
  if (error instanceof ArchiverError) return `${error.message} [${error.code}]${error.hint ? ` (${error.hint})` : ''}`;
  return (error as Error)?.message ?? String(error);
}
