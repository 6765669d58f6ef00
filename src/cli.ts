#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE } from './commands/exit-codes.js';
import { printError, processOutput } from './commands/output.js';
import { runOnce } from './commands/run-once.js';
import { status } from './commands/status.js';
import { verify } from './commands/verify.js';
import { demo } from './commands/demo.js';
import { loadConfig } from './config/index.js';
import { ConfigError } from './errors/index.js';
import { createLogger } from './observability/index.js';
import { VERSION } from './version.js';

// Commands print and choose exit codes; everything else lives in the modules they call.
const logger = createLogger();
const output = processOutput;

async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = new Command()
    .name('log-archiver')
    .description('Archives cloud provider logs into S3-compatible storage as gzip NDJSON, exactly once.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  program
    .command('worker')
    .description('run job schedulers and drain workers until SIGTERM/SIGINT (needs redis)')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .action(async (options: { config: string }) => {
      const config = await loadConfig(options.config);
      if (!config.redis) throw new ConfigError('worker needs redis', [{ path: 'redis.url', message: 'required by the worker' }]);
      const { runWorker } = await import('../jobs/worker.js');
      await runWorker(config, logger);
    });

  program
    .command('run-once')
    .description('drain every (or each named) source until caught up, then exit: 0 ok, 1 a source failed, 2 usage/config')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .option('-s, --source <id...>', 'only these sources')
    .action(async (options: { config: string; source?: string[] }) => {
      code = await runOnce(options, output, logger);
    });

  program
    .command('status')
    .description('per source: checkpoint, last success, last error, records and objects archived')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .option('--json', 'machine-readable output')
    .action(async (options: { config: string; json?: boolean }) => {
      code = await status(options, output, logger);
    });

  program
    .command('verify')
    .description('check the archive against its manifests: 0 intact, 1 something missing, altered or unreadable')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .option('--json', 'machine-readable output')
    .action(async (options: { config: string; json?: boolean }) => {
      code = await verify(options, output, logger);
    });

  program
    .command('demo')
    .description('start local simulators of the five provider APIs and archive them into ./demo-archive')
    .option('-d, --dir <dir>', 'archive directory', './demo-archive')
    .action(async (options: { dir: string }) => {
      code = await demo(options, output);
    });

  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    printError(output, error);
    return error instanceof ConfigError ? EXIT_USAGE : 1;
  }
  return code;
}

const exitCode = await main(process.argv);
// Exit explicitly once logs are flushed: a half-closed socket must not keep a cron job alive.
logger.flush(() => process.exit(exitCode));
