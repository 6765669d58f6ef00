import { createHash } from 'node:crypto';
import { z } from 'zod';
import { completenessFigureSchema } from '../completeness/index.js';
import { type KeyRing, signatureSchema, type SignatureCheck } from './signing.js';

const sha = z.string().regex(/^[0-9a-f]{64}$/);
const totals = z.object({ records: z.number().int().min(0), objects: z.number().int().min(0) });

/** Fields every chain entry has. `prev` is the SHA-256 of the previous entry's bytes (null for #1). */
const common = {
  version: z.literal(2),
  source: z.string(),
  seq: z.number().int().min(1),
  prev: sha.nullable(),
  writer: z.string(),
  writtenAt: z.string(),
  /** Running totals over the chain's data objects up to and including this entry. */
  totals,
  /** Provider checkpoint to resume from after this entry. */
  checkpointAfter: z.unknown(),
  signature: signatureSchema.optional(),
};

/** Describes one data object. */
export const dataManifestSchema = z.object({
  kind: z.literal('data'),
  ...common,
  provider: z.string(),
  /** Fencing token of the drain that wrote the object (also in its key). */
  token: z.string(),
  key: z.string(),
  sha256: sha,
  bytes: z.number().int().min(0),
  records: z.number().int().min(1),
  firstId: z.string(),
  lastId: z.string(),
  checkpointBefore: z.unknown(),
  requestIds: z.array(z.string()),
  /** What the provider stated exists for the streams or windows of this object, beside what was archived (reconcile). */
  completeness: z.array(completenessFigureSchema).optional(),
});

/**
 * Written by recovery when a witness (the checkpoint cache, a digest) knows of a head storage no
 * longer has: the chain itself then records that it was cut, so the loss stays visible after the
 * witness is gone. `prev` is the hash the witness recorded.
 */
export const findingSchema = z.object({
  kind: z.literal('finding'),
  ...common,
  expected: z.object({ seq: z.number().int().min(1), sha256: sha, witness: z.string() }),
  /** The highest entry storage still had. */
  found: z.object({ seq: z.number().int().min(0), sha256: sha.nullable() }),
  problems: z.array(z.string()),
});

/**
 * An operator's recorded acknowledgement of damage (`log-archiver acknowledge`): the chain goes on
 * from `anchor`, the last intact entry, and verify reports what it covers as acknowledged loss.
 */
export const acknowledgementSchema = z.object({
  kind: z.literal('acknowledgement'),
  ...common,
  anchor: z.object({ seq: z.number().int().min(1), sha256: sha }).nullable(),
  covers: z.object({
    /** Entry numbers whose entries are missing, altered or findings. */
    seqs: z.array(z.number().int().min(1)),
    /** Data objects that are missing or altered. */
    objects: z.array(z.string()),
    /** What verify said, for the record. */
    problems: z.array(z.string()),
  }),
  reason: z.string().min(1),
  by: z.string(),
});

export const chainEntrySchema = z.discriminatedUnion('kind', [dataManifestSchema, findingSchema, acknowledgementSchema]);

export type DataManifest = z.infer<typeof dataManifestSchema>;
export type Finding = z.infer<typeof findingSchema>;
export type Acknowledgement = z.infer<typeof acknowledgementSchema>;
export type ChainEntry = z.infer<typeof chainEntrySchema>;
/** A chain entry before it is signed. */
export type UnsignedEntry = DistributiveOmit<ChainEntry, 'signature'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Serialises a signed body (chain entry, digest, owner record): signed when the ring has a signer. */
export function encodeSigned(body: Record<string, unknown>, keys: KeyRing): { bytes: Buffer; sha256: string } {
  const signature = keys.sign(body);
  const signed = signature ? { ...body, signature } : body;
  const bytes = Buffer.from(`${JSON.stringify(signed, null, 2)}\n`, 'utf8');
  return { bytes, sha256: sha256Hex(bytes) };
}

/** Parses signed bytes with `schema` and checks the signature with the ring's keys. */
export function decodeSigned<T>(
  bytes: Buffer,
  schema: z.ZodType<T>,
  keys: KeyRing,
): { value: T; sha256: string; signature: SignatureCheck } | { problem: 'unparseable' } {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { problem: 'unparseable' };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success || typeof raw !== 'object' || raw === null) return { problem: 'unparseable' };
  return { value: parsed.data, sha256: sha256Hex(bytes), signature: keys.check(raw as Record<string, unknown>) };
}

export function encodeEntry(entry: UnsignedEntry, keys: KeyRing): { bytes: Buffer; sha256: string } {
  return encodeSigned(entry as unknown as Record<string, unknown>, keys);
}

export function decodeEntry(bytes: Buffer, keys: KeyRing) {
  return decodeSigned(bytes, chainEntrySchema, keys);
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
