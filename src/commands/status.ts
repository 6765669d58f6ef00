import type { ArchiverConfig } from '../config/index.js';
import { loadConfig } from '../config/index.js';
import { getProvider } from '../providers/index.js';
import type { Logger } from '../observability/index.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { manifestPrefix, decodeManifest, type Manifest } from '../archive/index.js';
import { EXIT_OK } from './exit-codes.js';
import type { Output } from './output.js';

export interface SourceStatus {
  source: string;
  provider: string;
  checkpoint: unknown;
  checkpointSummary: string | undefined;
  pending: unknown[] | undefined;
  lastSuccessAt: string | null;
  lastError: { at: string; code: string; message: string } | null;
  recordsArchived: number;
  objectsArchived: number;
  lastObject: string | null;
}

/** Per source: checkpoint, last success, last error, records and objects archived. */
export async function status(options: { config: string; json?: boolean }, output: Output, logger: Logger): Promise<number> {
  const config = await loadConfig(options.config);
  const runtime = await openRuntime(config, { logger, needRedis: false });
  try {
    const rows = await collect(config, runtime);
    if (options.json) {
      output.out(JSON.stringify({ sources: rows }, null, 2));
    } else {
      for (const row of rows) {
        output.out(`${row.source} (${row.provider})`);
        output.out(`  archived:     ${row.recordsArchived} records in ${row.objectsArchived} objects`);
        output.out(`  checkpoint:   ${row.checkpointSummary ?? JSON.stringify(row.checkpoint)}`);
        output.out(`  last success: ${row.lastSuccessAt ?? 'never'}`);
        output.out(`  last error:   ${row.lastError ? `${row.lastError.at} ${row.lastError.code}: ${row.lastError.message}` : 'none'}`);
        if (row.lastObject) output.out(`  last object:  ${row.lastObject}`);
      }
    }
  } finally {
    await runtime.close();
  }
  return EXIT_OK;
}

async function collect(config: ArchiverConfig, runtime: Runtime): Promise<SourceStatus[]> {
  const rows: SourceStatus[] = [];
  for (const source of config.sources) {
    const provider = getProvider(source.provider);
    const state = await runtime.deps.checkpoints.load(source.id);
    const run = await runtime.deps.checkpoints.loadStatus(source.id);
    // Without a cached state (Redis flushed, new machine) the newest manifest still tells.
    let manifest: Manifest | undefined;
    if (!state?.head) manifest = await newestManifest(runtime, source.id);
    const position = state?.position ?? manifest?.checkpointAfter;
    const parsed = position === undefined ? undefined : provider.checkpointSchema.safeParse(position);
    const summary = parsed?.success && provider.summarize ? provider.summarize(parsed.data) : undefined;
    const totals = state?.head?.totals ?? manifest?.totals ?? { records: 0, objects: 0 };
    rows.push({
      source: source.id,
      provider: source.provider,
      checkpoint: position ?? null,
      checkpointSummary: summary?.text,
      pending: summary?.pending,
      lastSuccessAt: run?.lastSuccessAt ?? null,
      lastError: run?.lastError && (!run.lastSuccessAt || run.lastError.at > run.lastSuccessAt) ? run.lastError : null,
      recordsArchived: totals.records,
      objectsArchived: totals.objects,
      lastObject: manifest?.key ?? null,
    });
  }
  return rows;
}

async function newestManifest(runtime: Runtime, source: string): Promise<Manifest | undefined> {
  let last: string | undefined;
  for await (const item of runtime.store.list(manifestPrefix(source))) last = item.key;
  if (!last) return undefined;
  const bytes = await runtime.store.get(last);
  if (!bytes) return undefined;
  const decoded = decodeManifest(bytes, runtime.config.manifests.hmacKey);
  return 'problem' in decoded ? undefined : decoded.manifest;
}
