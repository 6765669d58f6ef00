import { operator, verifySource } from '../archive/index.js';
import { loadConfig } from '../config/index.js';
import { LeaseBusyError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { openRuntime } from '../runtime.js';
import { EXIT_FAILED, EXIT_OK } from './exit-codes.js';
import type { Output } from './output.js';
import { selectSources } from './select-sources.js';

export interface AcknowledgeOptions {
  config: string;
  source: string;
  reason: string;
  json?: boolean;
}

/**
 * Records an operator's acknowledgement of a source's damage as a chain entry, so that the
 * source archives again (from its last intact entry) and verify reports the loss as acknowledged,
 * never as silence. Exit 0 when recorded (or nothing to acknowledge), 1 when the source is busy.
 */
export async function acknowledge(options: AcknowledgeOptions, output: Output, logger: Logger): Promise<number> {
  const config = await loadConfig(options.config);
  const [source] = selectSources(config, [options.source]);
  const runtime = await openRuntime(config, { logger, needRedis: false });
  try {
    let lease;
    try {
      lease = await runtime.deps.leases.acquire(source!.id);
    } catch (error) {
      if (!(error instanceof LeaseBusyError)) throw error;
      output.err(`acknowledge: another drain holds the lease of ${source!.id}; try again when it has stopped`);
      return EXIT_FAILED;
    }
    try {
      const cached = await runtime.deps.checkpoints.load(source!.id);
      const checked = await verifySource(runtime.store, source!.id, {
        keys: config.manifests.keys,
        expected: cached?.head ?? undefined,
        concurrency: 8,
        read: (operation) => operation(),
      });
      const assessment = await runtime.deps.ledger.assess(source!.id, cached?.head ?? null);
      if (checked.problems.length === 0 && assessment.problems.length === 0) {
        output.out(`acknowledge: ${source!.id} has no unacknowledged damage; nothing recorded`);
        return EXIT_OK;
      }
      const { head, entry } = await runtime.deps.ledger.acknowledge(source!.id, cached?.head ?? null, {
        reason: options.reason,
        by: operator(),
        extra: checked.problems.map((p) => ({
          ...(p.seq !== undefined ? { seq: p.seq } : {}),
          key: p.key,
          text: `${p.kind} ${p.key}: ${p.detail}`,
        })),
      });
      const checkpoint = entry.checkpointAfter ?? undefined;
      await runtime.deps.checkpoints.save(source!.id, { head, checkpoint, recent: [], updatedAt: new Date().toISOString() }, lease);
      if (options.json) {
        output.out(JSON.stringify({ source: source!.id, entry }, null, 2));
      } else {
        output.out(`acknowledge: recorded ${head.key} for ${source!.id}`);
        if (entry.kind === 'acknowledgement') {
          for (const text of entry.covers.problems) output.out(`  acknowledged: ${text}`);
          output.out(
            entry.anchor
              ? `  the source continues from entry #${entry.anchor.seq}; records of lost objects after it are archived again if the provider still has them`
              : '  the source starts over from the provider’s first checkpoint',
          );
        }
      }
      return EXIT_OK;
    } finally {
      await lease.release();
    }
  } finally {
    await runtime.close();
  }
}
