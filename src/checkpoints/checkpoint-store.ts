import { z } from 'zod';
import type { Lease } from '../leases/index.js';

export const headRefSchema = z.object({
  seq: z.number().int().min(1),
  /** Storage key of the manifest. */
  key: z.string(),
  /** SHA-256 (hex) of the manifest's bytes: the next manifest chains to it. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  token: z.string(),
  totals: z.object({ records: z.number().int().min(0), objects: z.number().int().min(0) }),
});

/** Where a source stands: the last committed manifest and the provider position after it. */
export const sourceStateSchema = z.object({
  head: headRefSchema.nullable(),
  /**
   * Provider checkpoint to resume from. Equals the head manifest's `checkpointAfter`, or is
   * ahead of it when pages since then carried no records (empty windows, finished runs).
   */
  position: z.unknown(),
  updatedAt: z.string(),
});

export type HeadRef = z.infer<typeof headRefSchema>;
export type SourceState = z.infer<typeof sourceStateSchema>;

export const runStatusSchema = z.object({
  lastRunAt: z.string().optional(),
  lastSuccessAt: z.string().optional(),
  lastError: z.object({ at: z.string(), code: z.string(), message: z.string() }).optional(),
  lastDrain: z.object({ records: z.number(), objects: z.number(), pages: z.number(), durationMs: z.number() }).optional(),
});

export type RunStatus = z.infer<typeof runStatusSchema>;

/**
 * A fast cache of each source's position, plus per-source run status for `status`.
 *
 * Not the system of record: the manifests in storage are. After the cache is lost (Redis
 * flushed) the drain rebuilds positions from the manifests. `save` is fenced: it succeeds only
 * while `lease` is current, and throws LeaseLostError otherwise.
 */
export interface CheckpointStore {
  load(source: string): Promise<SourceState | undefined>;
  save(source: string, state: SourceState, lease: Lease): Promise<void>;
  loadStatus(source: string): Promise<RunStatus | undefined>;
  saveStatus(source: string, status: RunStatus): Promise<void>;
  close(): Promise<void>;
}

/** Parses a cached state; a corrupt entry is treated as absent (the manifests are the truth). */
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
