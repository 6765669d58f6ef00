import { ArchiverError, ConfigError } from '../errors/index.js';

/** What a command prints goes through here, so tests and users see one format. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
  /** True once the reader of stdout went away (`verify | head -1`): further lines are dropped. */
  readonly closed?: boolean;
  /** Whether stdout is a terminal (live progress) rather than a file or pipe (plain lines). */
  readonly isTTY?: boolean;
  /** Writes raw text to stdout (NDJSON streams); resolves once the stream can take more. */
  write?(chunk: string): Promise<void>;
}

let stdoutClosed = false;
// EPIPE: the reader closed the pipe. Not a failure of the command: the rest of the output is
// dropped, and the command finishes and exits with its own code.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') {
    stdoutClosed = true;
    return;
  }
  throw error;
});
process.stderr.on('error', () => undefined);

export const processOutput: Output = {
  out: (line) => {
    if (!stdoutClosed) process.stdout.write(`${line}\n`);
  },
  err: (line) => process.stderr.write(`${line}\n`),
  get closed() {
    return stdoutClosed;
  },
  get isTTY() {
    return process.stdout.isTTY === true;
  },
  write: (chunk) =>
    new Promise<void>((resolve) => {
      if (stdoutClosed || process.stdout.write(chunk)) {
        resolve();
        return;
      }
      const done = (): void => {
        process.stdout.off('drain', done);
        process.stdout.off('error', done);
        resolve();
      };
      process.stdout.once('drain', done);
      process.stdout.once('error', done);
    }),
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
