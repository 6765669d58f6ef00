/**
 * Runs the raw bound of a provider shape (`raw-case.ts`) in a fresh process and compares drains
 * with it: records per CPU second of the archiver's drain over those of the raw bound.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawResult, RawSpec } from './raw-case.js';

const here = dirname(fileURLToPath(import.meta.url));

export type { RawResult, RawSpec };

/** The raw bound of `spec`, measured in a process of its own (the same node flags as the drains). */
export async function runRawBound(spec: RawSpec, nodeArgs: readonly string[] = []): Promise<RawResult> {
  const child = spawn(process.execPath, [...nodeArgs, join(here, 'raw-case.js'), JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  if (code !== 0) throw new Error(`raw bound (${spec.shape}) exited ${code}: ${err.trim().slice(-2000)}`);
  return JSON.parse(out.trim().split('\n').pop()!) as RawResult;
}

/** Records per CPU second. */
export function recordsPerCpuSecond(records: number, cpuSec: number): number {
  return cpuSec > 0 ? records / cpuSec : 0;
}
