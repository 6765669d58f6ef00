import { z, type ZodType, type ZodTypeDef } from 'zod';

/** A stream being archived: found by listing, not yet final, or final but not read to its end since. */
export interface ActiveStream<S> {
  /** When it started (ms since the epoch): DataWorks `CreateTime`, OOS `StartDate`. */
  time: number;
  /** Its status as the API last reported it. */
  status: string;
  /** When it was first seen in a final status (its own finish time when the API gives one). */
  finalAt?: number | undefined;
  /** Its reader's cursor. */
  cursor: S;
}

/**
 * What a source with `discover` keeps about the streams it found, bounded however many a year
 * brings:
 * - `from`: listing resumes at `from − lookback`; every stream that started before `from` has been
 *   listed (it is active, retired, or retired and forgotten because it is older than the lookback);
 * - `retired`: `[start time, key]` of streams archived to their end and retired, kept only while
 *   they are inside the lookback, so that a re-listed one is recognised;
 * - `active`: streams still being archived (running, or final but not yet read to the end since).
 */
export interface DiscoveryState<S> {
  from: number;
  retired: [number, string][];
  active: Record<string, ActiveStream<S>>;
}

/** Schema of a {@link DiscoveryState} whose cursors are checked by `cursor`. */
export function discoveryStateSchema<S>(cursor: ZodType<S, ZodTypeDef, unknown>): ZodType<DiscoveryState<S>, ZodTypeDef, unknown> {
  const active = z
    .object({
      time: z.number().int(),
      status: z.string(),
      finalAt: z.number().int().optional(),
      cursor,
    })
    .strict();
  return z
    .object({
      from: z.number().int(),
      retired: z.array(z.tuple([z.number().int(), z.string().min(1)])),
      active: z.record(z.string().min(1), active),
    })
    .strict() as unknown as ZodType<DiscoveryState<S>, ZodTypeDef, unknown>;
}

/** A fresh source: nothing listed yet, listing starts at `since`. */
export function initialDiscoveryState<S>(since: number): DiscoveryState<S> {
  return { from: since, retired: [], active: {} };
}

/** Short text for `status`: how many streams are being archived and up to when listing has got. */
export function describeDiscovery(state: DiscoveryState<unknown>, noun: string): string {
  const active = Object.values(state.active);
  const running = active.filter((a) => a.finalAt === undefined).length;
  return (
    `discovery listed up to ${new Date(state.from).toISOString()}; ${active.length} ${noun}(s) active ` +
    `(${running} not final), ${state.retired.length} recently retired`
  );
}
