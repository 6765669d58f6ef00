import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const live = new Set<ChildProcess>();
let hooked = false;

/**
 * Spawns a server process for a test and makes sure it dies with the test process: an 'exit'
 * hook SIGKILLs whatever is still running, so a failed or aborted test leaks nothing.
 * (A SIGKILLed test runner cannot run hooks; the S3 server script also exits when its stdin
 * closes for that case. redis-server has no such watch.)
 */
export function spawnChild(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Resolves when `child` has exited (at once when it already has). */
export async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => child.once('exit', () => resolve()));
}

/** Sends `signal`, escalating to SIGKILL after `graceMs`, and waits for the exit. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    await exited(child);
  } finally {
    clearTimeout(timer);
  }
}

/** Collects a child's output (bounded) so a failed start can say why. */
export function captureOutput(child: ChildProcess, limit = 8_192): () => string {
  let text = '';
  const add = (chunk: Buffer): void => {
    if (text.length < limit) text += chunk.toString('utf8').slice(0, limit - text.length);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  return () => text;
}
