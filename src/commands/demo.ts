import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { verifyArchive } from '../archive/index.js';
import { parseConfig } from '../config/index.js';
import { runSource, type RunOutcome } from '../drain/index.js';
import { createLogger } from '../observability/index.js';
import { openRuntime } from '../runtime.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
import type { Output } from './output.js';

/**
 * Zero-setup tour: local simulators of the five provider APIs, two polls with new data between
 * them, file storage and file checkpoints, then a verify and a command to look at the result.
 */
export async function demo(options: { dir: string }, output: Output): Promise<number> {
  const dir = resolve(options.dir);
  const stateDir = join(dir, '.state');
  const configPath = join(dir, '.demo-config.yaml');
  // The simulators start empty each time, so an earlier demo's archive and checkpoints would not
  // match them: start over, but only in a directory an earlier demo made.
  const entries = await readdir(dir).catch(() => [] as string[]);
  if (entries.length > 0) {
    if (!entries.includes('.demo-config.yaml')) {
      output.err(`demo: ${dir} exists and is not a demo archive; choose another --dir`);
      return EXIT_USAGE;
    }
    await rm(dir, { recursive: true, force: true });
  }
  const simulators = await loadSimulators();
  if (!simulators) {
    output.err(
      'demo: the provider simulators are not part of this installation (the container image leaves them out); run the demo from a clone or the npm package',
    );
    return EXIT_USAGE;
  }
  const { SimulatorFleet } = simulators;
  await mkdir(dir, { recursive: true });
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const fleet = new SimulatorFleet({ perGrow: 60, sddpWindowSeconds: 1 });
  await fleet.start();
  output.out('log-archiver demo: simulators of the five provider APIs are running on 127.0.0.1');
  try {
    const text = fleet.configYaml({
      storage: { kind: 'file', path: dir },
      checkpoints: { kind: 'file', path: stateDir },
      batch: { maxRecords: 200, maxBytes: 1048576, gzipLevel: 6, maxSeconds: 60 },
    });
    await writeFile(configPath, text);
    const config = parseConfig(text, process.env, configPath);
    let failed = false;
    for (let poll = 1; poll <= 2; poll += 1) {
      fleet.grow();
      // Masking runs are read only from closed windows: wait for this round's window to settle.
      await new Promise((r) => setTimeout(r, Math.max(0, fleet.sddpSettledAt() - Date.now())));
      fleet.settle();
      const runtime = await openRuntime(config, { logger, needRedis: false });
      try {
        output.out(`\npoll ${poll}:`);
        for (const source of config.sources) {
          const outcome = await runSource(runtime.deps, source);
          output.out(`  ${line(outcome)}`);
          failed ||= outcome.status === 'failed';
        }
      } finally {
        await runtime.close();
      }
    }
    const runtime = await openRuntime(config, { logger, needRedis: false });
    try {
      const report = await verifyArchive(runtime.store, { sources: config.sources.map((s) => s.id) });
      output.out(`\nwrote ${await countObjects(dir)} objects under ${relative(process.cwd(), dir) || '.'}:`);
      for (const s of report.sources)
        output.out(`  ${s.source.padEnd(20)} ${String(s.records).padStart(5)} records in ${s.objects} objects`);
      output.out(
        report.ok ? 'verify: every object matches its manifest and every chain is intact' : `verify: ${report.problems.length} problems`,
      );
      const sample = await firstObject(dir, 'dq-scan-log');
      output.out('\nlook at it:');
      if (sample) output.out(`  zcat ${relative(process.cwd(), sample)} | head -3 | jq .`);
      output.out(`  npx log-archiver status -c ${relative(process.cwd(), configPath)}`);
      output.out(`  npx log-archiver verify -c ${relative(process.cwd(), configPath)}`);
      return failed || !report.ok ? EXIT_FAILED : EXIT_OK;
    } finally {
      await runtime.close();
    }
  } finally {
    await fleet.stop();
  }
}

/**
 * The simulators, loaded only by this command: they live beside the product (`simulators/`), not
 * in it, and an installation may leave them out. Undefined when they are not there.
 */
async function loadSimulators(): Promise<typeof import('../../simulators/index.js') | undefined> {
  try {
    return await import('../../simulators/index.js');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

function line(outcome: RunOutcome): string {
  switch (outcome.status) {
    case 'ok':
      return `${outcome.result.source.padEnd(20)} +${outcome.result.records} records, ${outcome.result.objects} new objects`;
    case 'busy':
      return `${outcome.source.padEnd(20)} skipped: busy`;
    case 'failed':
      return `${outcome.source.padEnd(20)} FAILED: ${outcome.error.message}`;
    case 'stopped':
      return `${outcome.source.padEnd(20)} stopped`;
  }
}

async function countObjects(dir: string): Promise<number> {
  let count = 0;
  for (const entry of await readdir(dir, { recursive: true })) if (entry.endsWith('.ndjson.gz')) count += 1;
  return count;
}

async function firstObject(dir: string, source: string): Promise<string | undefined> {
  const entries = (await readdir(join(dir, source), { recursive: true }).catch(() => [] as string[]))
    .filter((e) => e.endsWith('.ndjson.gz'))
    .sort();
  if (entries.length === 0) return undefined;
  const path = join(dir, source, entries[0]!);
  return (await stat(path)).isFile() ? path : undefined;
}
