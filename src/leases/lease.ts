/**
 * Exclusive right to drain one source, cluster-wide, carrying a fencing token.
 *
 * Tokens only grow (a newer holder always has a larger token, even after Redis lost its data,
 * because the counter is re-seeded from the clock and from storage), so storage can tell writers
 * of one source apart. Leases are an optimisation for mutual exclusion: exactly-once comes from
 * storage's create-only writes (see ManifestLedger), not from the lease.
 * `check()` asks the coordinator whether this token is still the current one; it is called right
 * before every commit so that a stalled or partitioned holder cannot commit after losing the lease.
 *
 * Deliberately not part of it: what the holder does; the lease never rolls back writes.
 */
export interface Lease {
  readonly source: string;
  /** Fencing token: 16-digit decimal string, ordered like the number. */
  readonly token: string;
  /** Aborted once the lease is known to be lost (renewal failed or refused). */
  readonly signal: AbortSignal;
  /** Throws LeaseLostError unless this token still holds the lease. */
  check(): Promise<void>;
  /** Stops renewal and releases the lease if still held. */
  release(): Promise<void>;
}

/** Hands out leases; one implementation per coordinator (Redis, local files). */
export interface LeaseManager {
  /**
   * Takes the lease on `source` or throws LeaseBusyError when another holder has it. With
   * `above`, the token is larger than that one (the largest token storage already shows, so
   * that tokens never go backwards after the coordinator lost its state and the clock stepped back).
   */
  acquire(source: string, options?: { above?: string }): Promise<Lease>;
  close(): Promise<void>;
}

/** Formats a fencing token so that string order equals numeric order. */
export function formatToken(value: bigint | number | string): string {
  return BigInt(value).toString().padStart(16, '0');
}
