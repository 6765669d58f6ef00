import { z } from 'zod';
import type { DiscoveryOptions } from './read-discovered.js';

/** An instant as the config may write it: ISO-8601, or ms since the epoch. */
export const instantSchema = z.union([
  z.number().int().nonnegative(),
  z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO-8601 time such as 2026-09-01T00:00:00Z'),
]);

/** Milliseconds since the epoch of an {@link instantSchema} value. */
export function instantMs(value: number | string): number {
  return typeof value === 'number' ? value : Date.parse(value);
}

/** The timing fields every `params.discover` has, beside the provider's own filters. */
export const discoveryTimingShape = {
  /** Streams that started from this instant on are archived (a fresh source only; later changes do not rewind). */
  since: instantSchema,
  /**
   * How far before the newest start already listed each listing begins again, so a stream the API
   * lists late (with an earlier start time) is still found. @defaultValue 600
   */
  lookbackSeconds: z
    .number()
    .int()
    .nonnegative()
    .max(7 * 86_400)
    .default(600),
  /** How long a final stream is still read before it is retired (late-written log lines). @defaultValue 300 */
  settleSeconds: z.number().int().nonnegative().max(86_400).default(300),
  /**
   * A stream still not final this long after it started is read to its end once more and retired
   * with a warning, so streams that never finish cannot grow the checkpoint. @defaultValue 604800 (7 days)
   */
  maxActiveSeconds: z
    .number()
    .int()
    .positive()
    .default(7 * 86_400),
  /** Entries per listing call. @defaultValue 100 */
  pageSize: z.number().int().min(1).max(100).default(100),
};

/** The {@link DiscoveryOptions} of parsed discover params and the source's concurrency. */
export function discoveryOptions(
  discover: { lookbackSeconds: number; settleSeconds: number; maxActiveSeconds: number },
  concurrency: number,
): DiscoveryOptions {
  return {
    lookbackMs: discover.lookbackSeconds * 1000,
    settleMs: discover.settleSeconds * 1000,
    maxActiveMs: discover.maxActiveSeconds * 1000,
    concurrency,
  };
}

/** Streams of one source read at once (`params.concurrency`). @defaultValue 4 */
export const concurrencySchema = z.number().int().min(1).max(64).default(4);
