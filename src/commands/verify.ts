import { verifyArchive, type ExpectedHead } from '../archive/index.js';
import { loadConfig } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { openRuntime } from '../runtime.js';
import { EXIT_FAILED, EXIT_OK } from './exit-codes.js';
import type { Output } from './output.js';

/** Checks the archive against its manifests; exit 0 intact, 1 with what is wrong and where. */
export async function verify(options: { config: string; json?: boolean }, output: Output, logger: Logger): Promise<number> {
  const config = await loadConfig(options.config);
  const runtime = await openRuntime(config, { logger, needRedis: false });
  try {
    const expectedHeads = new Map<string, ExpectedHead>();
    for (const source of config.sources) {
      const state = await runtime.deps.checkpoints.load(source.id).catch(() => undefined);
      if (state?.head) expectedHeads.set(source.id, state.head);
    }
    const report = await verifyArchive(runtime.store, {
      hmacKey: config.manifests.hmacKey,
      expectedHeads,
      sources: config.sources.map((s) => s.id),
    });
    if (options.json) {
      output.out(JSON.stringify(report, null, 2));
    } else {
      for (const s of report.sources) {
        const pending = s.pending.length > 0 ? `, ${s.pending.length} upload(s) in flight` : '';
        output.out(`${s.source}: ${s.objects} objects, ${s.records} records, ${s.manifests} manifests${pending}`);
      }
      for (const p of report.problems) output.out(`DAMAGE ${p.kind} ${p.source} ${p.key}: ${p.detail}`);
      output.out(report.ok ? `verify: archive intact (${runtime.store.describe()})` : `verify: ${report.problems.length} problem(s) found`);
    }
    return report.ok ? EXIT_OK : EXIT_FAILED;
  } finally {
    await runtime.close();
  }
}
