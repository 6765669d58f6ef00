import { hostname, userInfo } from 'node:os';
import { z } from 'zod';
import { ArchiveOwnedError, ObjectExistsError } from '../errors/index.js';
import type { ObjectStore } from '../storage/index.js';
import { OWNER, ownerKey, parseOwnerKey } from './layout.js';
import { decodeSigned, encodeSigned } from './manifest.js';
import { signatureSchema, type KeyRing } from './signing.js';

/**
 * Who writes this prefix: the deployment (its coordination state: a Redis and prefix, or a state
 * directory) recorded when the prefix was first written, and each deliberate handover after.
 * Records are numbered and created create-only; the highest is the owner.
 */
export const ownerRecordSchema = z.object({
  version: z.literal(1),
  kind: z.literal('owner'),
  n: z.number().int().min(1),
  deployment: z.string().min(1),
  since: z.string(),
  writer: z.string(),
  by: z.string(),
  reason: z.string(),
  previous: z.string().nullable(),
  signature: signatureSchema.optional(),
});

export type OwnerRecord = z.infer<typeof ownerRecordSchema>;

export interface OwnerOptions {
  deployment: string;
  writer: string;
  keys: KeyRing;
  /** How long an assertion holds before storage is asked again. @defaultValue 30000 */
  recheckMs?: number;
}

/** Refuses writes from a deployment that does not own the prefix; records first ownership and handovers. */
export class OwnerGuard {
  #checkedAt = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: OwnerOptions,
  ) {}

  get deployment(): string {
    return this.options.deployment;
  }

  /** The current owner record, or undefined for a prefix nobody has written yet. */
  async current(): Promise<OwnerRecord | undefined> {
    let last: string | undefined;
    for await (const item of this.store.listCreated(OWNER)) if (parseOwnerKey(item.key) !== undefined) last = item.key;
    if (!last) return undefined;
    const bytes = await this.store.getCreated(last);
    if (!bytes) return undefined;
    const decoded = decodeSigned(bytes, ownerRecordSchema, this.options.keys);
    return 'problem' in decoded ? undefined : decoded.value;
  }

  /** Throws ArchiveOwnedError unless this deployment owns the prefix; claims an unowned one. */
  async assert(): Promise<void> {
    if (Date.now() - this.#checkedAt < (this.options.recheckMs ?? 30_000)) return;
    let owner = await this.current();
    if (!owner) owner = await this.#write(1, 'first write to this prefix', null);
    if (owner.deployment !== this.options.deployment) {
      this.#checkedAt = 0;
      throw new ArchiveOwnedError(owner.deployment, this.options.deployment, this.store.describe(), owner.since);
    }
    this.#checkedAt = Date.now();
  }

  /** Makes this deployment the owner, deliberately; the previous owner refuses its next drain. */
  async handover(reason: string): Promise<{ previous: OwnerRecord | undefined; record: OwnerRecord }> {
    for (;;) {
      const previous = await this.current();
      const n = previous ? previous.n + 1 : 1;
      try {
        const record = await this.#write(n, reason, previous?.deployment ?? null, false);
        this.#checkedAt = Date.now();
        return { previous, record };
      } catch (error) {
        if (!(error instanceof ObjectExistsError)) throw error;
      }
    }
  }

  async #write(n: number, reason: string, previous: string | null, rereadOnRace = true): Promise<OwnerRecord> {
    const record: Omit<OwnerRecord, 'signature'> = {
      version: 1,
      kind: 'owner',
      n,
      deployment: this.options.deployment,
      since: new Date().toISOString(),
      writer: this.options.writer,
      by: operator(),
      reason,
      previous,
    };
    const { bytes } = encodeSigned(record, this.options.keys);
    try {
      await this.store.putBytes(ownerKey(n), bytes, { contentType: 'application/json', ifNoneMatch: true });
      return record as OwnerRecord;
    } catch (error) {
      // Another process claimed it first: that record is the owner.
      if (rereadOnRace && error instanceof ObjectExistsError) {
        const owner = await this.current();
        if (owner) return owner;
      }
      throw error;
    }
  }
}

/** `user@host` of whoever runs the command, for the records they write. */
export function operator(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers)
  }
  return `${user}@${hostname()}`;
}
