/**
 * The naive archiver the mixed case compares with: the script a user would write first. One
 * source after another, every page fetched in turn through the product's own provider code (same
 * HTTP client, signing, retries and rate limits), every envelope kept in memory, then one gzip per
 * stream and one file write. No leases, no spool, no manifests, no checkpoints.
 *
 * Usage: node dist/bench/naive-archiver.js <config.yaml> <out-dir>; prints `{records, files}` and
 * its own resource usage as JSON on stdout.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadConfig } from '../src/config/index.js';
import { silentLogger } from '../src/observability/index.js';
import { getProvider, providerContext, readPages } from '../src/providers/index.js';
import { openRuntime } from '../src/runtime.js';

const [configPath, outDir] = process.argv.slice(2);
if (!configPath || !outDir) throw new Error('usage: naive-archiver <config.yaml> <out-dir>');
const config = await loadConfig(configPath);
const runtime = await openRuntime(config, { logger: silentLogger(), needRedis: false });
const { deps } = runtime;
let records = 0;
let files = 0;
for (const source of config.sources) {
  const provider = getProvider(source.provider);
  const context = providerContext(
    {
      http: deps.http,
      rateLimiter: deps.rateLimiter,
      logger: deps.logger,
      signal: new AbortController().signal,
      retry: deps.providerRetry,
      now: Date.now,
    },
    { id: source.id, provider: source.provider },
  );
  const spec = {
    id: source.id,
    provider: source.provider,
    endpoint: source.endpoint,
    credentials: provider.cloud.credentialSource(source.credentials, { sourceId: source.id, params: source.params }, deps.credentials),
    params: source.params,
    timeoutMs: source.timeoutMs,
  };
  const streams = new Map<string, string[]>();
  for await (const page of readPages(provider, spec, provider.initialCheckpoint(source.params, Date.now()), context)) {
    const fetchedAt = new Date().toISOString();
    for (const item of page.records) {
      const stream = JSON.stringify(item.context);
      let lines = streams.get(stream);
      if (!lines) {
        lines = [];
        streams.set(stream, lines);
      }
      lines.push(
        JSON.stringify({
          source: source.id,
          provider: source.provider,
          id: item.id,
          fetchedAt,
          context: item.context,
          record: item.record,
        }),
      );
    }
    records += page.records.length;
  }
  mkdirSync(join(outDir, source.id), { recursive: true });
  for (const [stream, lines] of streams) {
    const name = createHash('sha256').update(stream).digest('hex').slice(0, 16);
    writeFileSync(join(outDir, source.id, `${name}.ndjson.gz`), gzipSync(`${lines.join('\n')}\n`, { level: config.batch.gzipLevel }));
    files += 1;
  }
}
await runtime.close();
const usage = process.resourceUsage();
process.stdout.write(
  `${JSON.stringify({ records, files, cpuUserMs: usage.userCPUTime / 1000, cpuSystemMs: usage.systemCPUTime / 1000, maxRssBytes: usage.maxRSS * 1024 })}\n`,
);
process.exit(0);
