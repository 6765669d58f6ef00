import { loadConfig } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { openRuntime } from '../runtime.js';
import { EXIT_OK } from './exit-codes.js';
import type { Output } from './output.js';

/**
 * Makes this config's deployment the owner of the archive prefix, deliberately: writes the next
 * owner record; the previous owner's drains refuse from then on. Stop the previous deployment first.
 */
export async function handover(options: { config: string; reason: string }, output: Output, logger: Logger): Promise<number> {
  const config = await loadConfig(options.config);
  const runtime = await openRuntime(config, { logger, needRedis: false, write: false });
  try {
    await runtime.store.prepare();
    const { previous, record } = await runtime.owner.handover(options.reason);
    output.out(
      previous
        ? `handover: ${runtime.store.describe()} now belongs to ${record.deployment} (was ${previous.deployment} since ${previous.since})`
        : `handover: ${runtime.store.describe()} now belongs to ${record.deployment}`,
    );
    return EXIT_OK;
  } finally {
    await runtime.close();
  }
}
