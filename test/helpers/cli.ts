import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnChild } from './children.js';

/** The compiled CLI; `npm test` builds it first (see package.json). */
export const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `log-archiver <args>` to completion (or `command` instead, e.g. the CLI under `script`). */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 120_000,
  command: string[] = [process.execPath, CLI],
): Promise<CliResult> {
  const [file, ...prefix] = command;
  const child = spawn(file!, [...prefix, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Starts a long-running `log-archiver <args>` (worker); output is collected into `output()`. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; output: () => string } {
  const child = spawnChild(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
  let text = '';
  const add = (c: Buffer): void => {
    text += c.toString('utf8');
    if (text.length > 2_000_000) text = text.slice(-1_000_000);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return { child, output: () => text };
}
