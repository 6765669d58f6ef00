import { verifyArchive, type ExpectedHead, type Problem, type VerifyReport } from '../archive/index.js';
import { loadConfig } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { createObjectStore } from '../storage/index.js';
import { EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, exitCodeForError } from './exit-codes.js';
import { printError, type Output } from './output.js';

export interface VerifyCommandOptions {
  config: string;
  json?: boolean;
  source?: string[];
}

/**
 * Checks the archive against its chains; exit 0 intact, 1 with what is wrong and where, 3 when
 * storage (or a configured checkpoint store) cannot be reached. Works from an auditor's config
 * holding only `storage` and `manifests`: the sources are then found in storage.
 */
export async function verify(options: VerifyCommandOptions, output: Output, logger: Logger): Promise<number> {
  const config = await loadConfig(options.config, process.env, { sourcesOptional: true });
  let runtime: Runtime | undefined;
  const store = config.sources.length > 0 ? undefined : createObjectStore(config.storage);
  try {
    const expectedHeads = new Map<string, ExpectedHead>();
    if (config.sources.length > 0) {
      // The checkpoint cache of the deployment is a witness of each source's newest entry.
      runtime = await openRuntime(config, { logger, needRedis: false, write: false });
      for (const source of config.sources) {
        const state = await runtime.deps.checkpoints.load(source.id);
        if (state?.head) expectedHeads.set(source.id, state.head);
      }
    }
    const target = runtime?.store ?? store!;
    const report = await verifyArchive(target, {
      keys: config.manifests.keys,
      expectedHeads,
      sources: config.sources.map((s) => s.id),
      ...(options.source && options.source.length > 0 ? { only: options.source } : {}),
    });
    print(report, options.json === true, output, target.describe());
    return report.ok ? EXIT_OK : EXIT_FAILED;
  } catch (error) {
    if (exitCodeForError(error) !== EXIT_UNAVAILABLE) throw error;
    printError(output, error);
    output.err('verify: storage could not be read: nothing was judged');
    return EXIT_UNAVAILABLE;
  } finally {
    await runtime?.close();
    await store?.close();
  }
}

function print(report: VerifyReport, json: boolean, output: Output, location: string): void {
  if (json) {
    output.out(JSON.stringify(report, null, 2));
    return;
  }
  for (const s of report.sources) {
    const extra = [
      s.pending.length > 0 ? `${s.pending.length} upload(s) in flight` : '',
      s.unsigned > 0 ? `${s.unsigned} unsigned entries before signing was turned on` : '',
      s.acknowledgements > 0 ? `${s.acknowledgements} acknowledgement(s)` : '',
    ].filter((x) => x !== '');
    output.out(
      `${s.source}: ${s.objects} objects, ${s.records} records, ${s.manifests} manifests${extra.length > 0 ? `, ${extra.join(', ')}` : ''}`,
    );
  }
  const line = (label: string, p: Problem): string => `${label} ${p.kind} ${p.source} ${p.key}: ${p.detail}`;
  for (const p of report.acknowledged) output.out(line('ACKNOWLEDGED', p));
  for (const p of report.problems) output.out(line('DAMAGE', p));
  output.out(report.ok ? `verify: archive intact (${location})` : `verify: ${report.problems.length} problem(s) found`);
}
