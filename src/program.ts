import { Command, CommanderError, Option } from 'commander';
import {
  acknowledge,
  demo,
  EXIT_CODES,
  EXIT_USAGE,
  exitCodeForError,
  exportRecords,
  handover,
  printError,
  processOutput,
  reconcile,
  routeToLogger,
  runOnce,
  status,
  validate,
  verify,
} from './commands/index.js';
import { loadConfig } from './config/index.js';
import { ConfigError } from './errors/index.js';
import { createLogger, type Logger } from './observability/index.js';
import { VERSION } from './version.js';

// Commands print and choose exit codes; everything else lives in the modules they call.
const output = processOutput;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

async function main(argv: string[]): Promise<{ code: number; logger: Logger | undefined }> {
  const level = process.env.LOG_LEVEL;
  if (level !== undefined && level !== '' && !LOG_LEVELS.includes(level)) {
    output.err(
      `log-archiver: LOG_LEVEL=${JSON.stringify(level).slice(0, 40)} is not a log level; expected one of ${LOG_LEVELS.join(', ')}`,
    );
    return { code: EXIT_USAGE, logger: undefined };
  }
  const logger = createLogger(level ? { level } : {});
  routeToLogger(logger);
  let code = 0;
  const program = new Command()
    .name('log-archiver')
    .description('Archives cloud provider logs into S3-compatible storage as gzip NDJSON, exactly once.')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text), writeOut: (text) => output.out(text.replace(/\n$/, '')) })
    .addHelpText('after', `\nExit codes (every command):\n${EXIT_CODES.map((e) => `  ${e.code}  ${e.meaning}`).join('\n')}`);

  program
    .command('worker')
    .description('run job schedulers and drain workers until SIGTERM/SIGINT (needs redis); exit 0 on a clean stop')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .action(async (options: { config: string }) => {
      const config = await loadConfig(options.config);
      if (!config.redis) throw new ConfigError('worker needs redis', [{ path: 'redis.url', message: 'required by the worker' }]);
      const { runWorker } = await import('../jobs/worker.js');
      await runWorker(config, logger);
    });

  program
    .command('run-once')
    .description('drain every (or each named) source until caught up, then exit: 0 ok, 1 a source failed, 4 a lease was held, 5 stopped')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .option('-s, --source <id...>', 'only these sources')
    .option('-q, --quiet', 'no progress; print only sources that did not succeed')
    .addOption(new Option('--progress-every <duration>', 'interval of progress lines when stdout is not a terminal').default('30s'))
    .action(async (options: { config: string; source?: string[]; quiet?: boolean; progressEvery: string }) => {
      code = await runOnce(options, output, logger);
    });

  program
    .command('status')
    .description('per source: schedule, next run, checkpoint, last success, lag, last error, records and objects archived')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .option('--json', 'machine-readable output')
    .action(async (options: { config: string; json?: boolean }) => {
      code = await status(options, output, logger);
    });

  program
    .command('verify')
    .description('check the archive against its manifests: 0 intact, 1 something missing, altered or unreadable, 3 storage unreachable')
    .requiredOption('-c, --config <file>', 'config file (YAML); storage and manifests are enough')
    .option('-s, --source <id...>', 'only these sources')
    .option('--until <time>', 'an archive no longer written to: digest gaps after this ISO-8601 time are not findings')
    .option(
      '--since <seq|time>',
      'only entries from this number, or written from this ISO-8601 time, on (checking the link into the first)',
    )
    .option('--state <file>', 'incremental: check only what came after the last intact run recorded in this file')
    .option('--json', 'machine-readable output')
    .action(async (options: { config: string; json?: boolean; source?: string[]; until?: string; since?: string; state?: string }) => {
      code = await verify(options, output, logger);
    });

  program
    .command('validate')
    .description(
      'check the config without touching the network: 0 valid, 2 every problem by path; --connect also tries Redis, storage and each source (1 refused, 3 unreachable)',
    )
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .option('--connect', 'also connect to Redis, storage and every source API (read-only)')
    .action(async (options: { config: string; connect?: boolean }) => {
      code = await validate(options, output, logger);
    });

  program
    .command('export')
    .description('stream the archived records of a source as NDJSON, each object checked against its manifest: 0 done, 1 damage found')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .requiredOption('-s, --source <id>', 'the source to export')
    .option('--since <time>', 'records fetched at or after this ISO-8601 time or date')
    .option('--until <time>', 'records fetched before this ISO-8601 time or date')
    .option('--records', 'print each provider record alone instead of the whole envelope')
    .action(async (options: { config: string; source: string; since?: string; until?: string; records?: boolean }) => {
      code = await exportRecords(options, output, logger);
    });

  program
    .command('acknowledge')
    .description("record an operator's acknowledgement of a source's damage in its chain, so the source archives again")
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .requiredOption('-s, --source <id>', 'the damaged source')
    .requiredOption('--reason <text>', 'why (kept in the archive)')
    .option('--json', 'machine-readable output')
    .action(async (options: { config: string; source: string; reason: string; json?: boolean }) => {
      code = await acknowledge(options, output, logger);
    });

  program
    .command('handover')
    .description("make this config's deployment the owner of the archive prefix (stop the previous one first)")
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .requiredOption('--reason <text>', 'why (kept in the archive)')
    .action(async (options: { config: string; reason: string }) => {
      code = await handover(options, output, logger);
    });

  program
    .command('reconcile')
    .description('compare archived counts with the totals the providers stated: 0 all archived, 1 a gap (named), 3 storage unreachable')
    .requiredOption('-c, --config <file>', 'config file (YAML)')
    .option('-s, --source <id...>', 'only these sources')
    .option('--since <time>', 'only streams and windows starting at or after this ISO-8601 time or date')
    .option('--json', 'machine-readable output')
    .action(async (options: { config: string; source?: string[]; since?: string; json?: boolean }) => {
      code = await reconcile(options, output, logger);
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
      return { code: error.exitCode === 0 ? 0 : EXIT_USAGE, logger };
    }
    printError(output, error);
    return { code: exitCodeForError(error), logger };
  }
  return { code, logger };
}

const { code: exitCode, logger } = await main(process.argv);
// Exit explicitly once stdout and the logs are flushed: a half-closed socket must not keep a cron
// job alive, and an exit must not cut off the end of an export written to a pipe.
await new Promise<void>((resolve) => (processOutput.closed ? resolve() : process.stdout.write('', () => resolve())));
if (logger) logger.flush(() => process.exit(exitCode));
else process.exit(exitCode);
