import { z } from 'zod';

/**
 * What a provider states exists in one stream or window, beside what is archived of it: a page
 * carries it, a manifest records it (optional field `completeness`), `status` and metrics show
 * it, `reconcile` compares it. Provider-neutral: a stream is a name stable across drains (`run
 * 10001`, `window 2026-01-01T00:00:00.000Z`), and a later figure of the same stream replaces an
 * earlier one.
 */
export const completenessFigureSchema = z
  .object({
    /** The stream or window the figure is about. */
    stream: z.string().min(1),
    /** What the counts are of: records, or bytes (DataWorks logs). */
    unit: z.enum(['records', 'bytes']),
    /** The provider's own figure (SDDP `TotalCount`, DWS `count`, DataArts `number`, a log's length at NextOffset -1). */
    stated: z.number().int().nonnegative(),
    /** How much of it is in the archive. */
    archived: z.number().int().nonnegative(),
    /** Part of `stated` not archived yet for a reason that is not a gap (runs not final). @defaultValue 0 */
    pending: z.number().int().nonnegative().optional(),
    /** Start (ms since the epoch) of the time the stream covers, for `reconcile --since`; 0 when unknown. */
    at: z.number().int().nonnegative(),
    /** Why the figures differ, when the provider knows (`3 items outside the asked window`). */
    note: z.string().optional(),
    /** SHA-256 (hex) of the archived bytes, when the stream is a file copied whole (DWS audit-log dumps). */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  })
  .strict();

export type CompletenessFigure = z.infer<typeof completenessFigureSchema>;

/** What `stated` leaves unaccounted for: positive is a gap, negative more archived than stated. */
export function completenessDifference(figure: CompletenessFigure): number {
  return figure.stated - figure.archived - (figure.pending ?? 0);
}
