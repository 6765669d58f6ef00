import { ArchiverError, ConfigError } from '../errors/index.js';

/** What a command prints goes through here, so tests and users see one format. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export const processOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Prints an error for a person: message, every config issue by path, and the hint. */
export function printError(output: Output, error: unknown): void {
  if (error instanceof ConfigError) {
    output.err(`log-archiver: ${error.message}`);
    for (const issue of error.issues) output.err(`  ${issue.path}: ${issue.message}`);
    return;
  }
  if (error instanceof ArchiverError) {
    output.err(`log-archiver: ${error.message} [${error.code}]`);
    if (error.hint) output.err(`  hint: ${error.hint}`);
    return;
  }
  output.err(`log-archiver: ${(error as Error)?.message ?? String(error)}`);
}
