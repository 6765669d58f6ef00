import { z } from 'zod';
import { completenessFigureSchema } from '../completeness/index.js';
import type { Lease } from '../leases/index.js';

export const headRefSchema = z.object({
  seq: z.number().int().min(1),
  /** Storage key of the chain entry. */
  key: z.string(),
  /** SHA-256 (hex) of the entry's bytes: the next entry chains to it. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Fencing token of the writer of a data entry; '' for acknowledgements. */
  token: z.string(),
  totals: z.object({ records: z.number().int().min(0), objects: z.number().int().min(0) }),
  /** Data object of a data entry. */
  dataKey: z.string().optional(),
});

/**
 * Where a source stands: the last committed chain entry, the provider checkpoint after it, and
 * the data keys of recent commits (so that sweeping for orphans rarely needs to read manifests).
 */
export const sourceStateSchema = z.preprocess(
  // Before the cursor was called "checkpoint" everywhere it was stored as "position".
  (raw) => (raw && typeof raw === 'object' && 'position' in raw && !('checkpoint' in raw) ? { ...raw, checkpoint: raw.position } : raw),
  z.object({
    head: headRefSchema.nullable(),
    /**
     * Provider checkpoint to resume from. Equals the head entry's `checkpointAfter`, or is ahead
     * of it when pages since then carried no records (empty windows, finished runs).
     */
    checkpoint: z.unknown(),
    recent: z.array(z.object({ seq: z.number().int().min(1), key: z.string() })).optional(),
    updatedAt: z.string(),
  }),
);

export type HeadRef = z.infer<typeof headRefSchema>;
export type SourceState = z.infer<typeof sourceStateSchema>;

export const runStatusSchema = z.object({
  lastRunAt: z.string().optional(),
  lastSuccessAt: z.string().optional(),
  lastError: z.object({ at: z.string(), code: z.string(), message: z.string() }).optional(),
  lastDrain: z
    .object({
      records: z.number(),
      objects: z.number(),
      pages: z.number(),
      durationMs: z.number(),
      /** Guard events of the provider in that drain (behaviours its API does not promise), by guard. */
      guards: z.record(z.string(), z.number()).optional(),
      /** Streams the provider stated totals for in that drain. */
      stated: z.number().optional(),
    })
    .optional(),
  /**
   * The latest provider-stated figure per stream (what `status`, metrics and `reconcile` show),
   * bounded: every stream with a difference (a gap, or more archived than stated; up to 200),
   * and the most recent others (up to 300). Figures of drains that wrote no object are only here.
   */
  completeness: z.array(completenessFigureSchema).optional(),
});

export type RunStatus = z.infer<typeof runStatusSchema>;

/**
 * A fast cache of each source's checkpoint, plus per-source run status for `status`.
 *
 * Not the system of record: the chain in storage is, and every recovery checks the cache against
 * it (a cached head storage lacks is damage, not a reason to rebuild). After the cache is lost the
 * drain rebuilds checkpoints from storage. `save` is fenced: a holder whose lease moved on cannot
 * replace a newer holder's state; it throws LeaseLostError.
 */
export interface CheckpointStore {
  load(source: string): Promise<SourceState | undefined>;
  save(source: string, state: SourceState, lease: Lease): Promise<void>;
  loadStatus(source: string): Promise<RunStatus | undefined>;
  saveStatus(source: string, status: RunStatus): Promise<void>;
  close(): Promise<void>;
}

/** Parses a cached state; a corrupt entry is treated as absent (the chain is the truth). */
export function parseState(text: string | null | undefined): SourceState | undefined {
  if (!text) return undefined;
  try {
    const parsed = sourceStateSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Parses a cached run status; corrupt entries read as absent. */
export function parseStatus(text: string | null | undefined): RunStatus | undefined {
  if (!text) return undefined;
  try {
    const parsed = runStatusSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
