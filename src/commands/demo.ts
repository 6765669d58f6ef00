import type { Output } from './output.js';

/** Placeholder until the simulators land. */
export async function demo(_options: { dir: string }, output: Output): Promise<number> {
  output.err('demo: not ready');
  return 1;
}
