import { z } from 'zod';
import { ObjectExistsError } from '../errors/index.js';
import type { ObjectStore } from '../storage/index.js';
import { digestKey, digestPrefix, digestListStart, parseDigestKey } from './layout.js';
import { decodeSigned, encodeSigned } from './manifest.js';
import { probeHighest } from './probe.js';
import { signatureSchema, type KeyRing, type SignatureCheck } from './signing.js';

const sha = z.string().regex(/^[0-9a-f]{64}$/);

/**
 * A signed statement of a source's head at a time (like CloudTrail's digest files): written at
 * least every `manifests.digestInterval`, also when nothing new arrived, and chained to the
 * previous digest. With only read access and the public key, an auditor can tell that entries a
 * digest names were deleted, and that digests stopped (a gap).
 */
export const digestSchema = z.object({
  version: z.literal(1),
  kind: z.literal('digest'),
  source: z.string(),
  n: z.number().int().min(1),
  /** SHA-256 of the previous digest's bytes; null for the first. */
  prev: sha.nullable(),
  /** The newest chain entry at `writtenAt` (null: none yet). */
  head: z.object({ seq: z.number().int().min(1), sha256: sha, key: z.string() }).nullable(),
  totals: z.object({ records: z.number().int().min(0), objects: z.number().int().min(0) }),
  writtenAt: z.string(),
  /** The writer's digest interval in ms: a longer gap to the next digest is a finding. */
  intervalMs: z.number().int().min(1),
  writer: z.string(),
  signature: signatureSchema.optional(),
});

export type Digest = z.infer<typeof digestSchema>;

export interface ReadDigest {
  digest: Digest;
  sha256: string;
  signature: SignatureCheck;
  key: string;
}

/** Reads and decodes digest `n` of `source` (undefined when absent, `problem` when it does not parse). */
export async function readDigest(
  store: ObjectStore,
  keys: KeyRing,
  source: string,
  n: number,
): Promise<ReadDigest | { problem: string; key: string } | undefined> {
  const key = digestKey(source, n);
  const bytes = await store.getCreated(key);
  if (!bytes) return undefined;
  const decoded = decodeSigned(bytes, digestSchema, keys);
  if ('problem' in decoded || decoded.value.n !== n || decoded.value.source !== source)
    return { problem: 'is not a valid digest (altered or foreign)', key };
  return { digest: decoded.value, sha256: decoded.sha256, signature: decoded.signature, key };
}

/**
 * The newest digest of `source` without listing them all: probes numbers 1, 2, 4, … then halves
 * the gap, then lists from there (so a deleted digest in the middle does not hide later ones).
 */
export async function newestDigest(
  store: ObjectStore,
  keys: KeyRing,
  source: string,
  atLeast = 0,
): Promise<ReadDigest | { problem: string; key: string } | undefined> {
  const low = atLeast > 0 ? atLeast : await probeHighest(async (n) => (await store.head(digestKey(source, n))) !== undefined);
  let last = low;
  for await (const item of store.listCreated(digestPrefix(source), low > 0 ? { startAfter: digestListStart(source, low) } : {})) {
    const n = parseDigestKey(item.key);
    if (n !== undefined && n > last) last = n;
  }
  if (last === 0) return undefined;
  return await readDigest(store, keys, source, last);
}

/** Writes digest `n` create-only; false when another writer wrote `n` first. */
export async function writeDigest(
  store: ObjectStore,
  keys: KeyRing,
  digest: Omit<Digest, 'signature'>,
): Promise<{ written: boolean; sha256: string }> {
  const encoded = encodeSigned(digest, keys);
  try {
    await store.putBytes(digestKey(digest.source, digest.n), encoded.bytes, { contentType: 'application/json', ifNoneMatch: true });
    return { written: true, sha256: encoded.sha256 };
  } catch (error) {
    if (error instanceof ObjectExistsError) return { written: false, sha256: encoded.sha256 };
    throw error;
  }
}
