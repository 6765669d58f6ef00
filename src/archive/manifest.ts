import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/** Describes one data object; manifests of a source form a hash chain through `prev`. */
export const manifestSchema = z.object({
  version: z.literal(1),
  source: z.string(),
  provider: z.string(),
  seq: z.number().int().min(1),
  token: z.string(),
  key: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().min(0),
  records: z.number().int().min(1),
  firstId: z.string(),
  lastId: z.string(),
  checkpointBefore: z.unknown(),
  checkpointAfter: z.unknown(),
  /** SHA-256 of the previous manifest's bytes; null for the first. */
  prev: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
  writer: z.string(),
  requestIds: z.array(z.string()),
  writtenAt: z.string(),
  /** Running totals over the chain up to and including this object. */
  totals: z.object({ records: z.number().int(), objects: z.number().int() }),
  /** HMAC-SHA256 (hex) of the manifest without this field, when a key is configured. */
  hmac: z.string().optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;

/** Serialises a manifest, signing it when a key is given; returns the bytes and their hash. */
export function encodeManifest(manifest: Omit<Manifest, 'hmac'>, hmacKey?: Buffer): { bytes: Buffer; sha256: string } {
  // Parsing first puts keys in schema order, the order decodeManifest sees, so both sides sign
  // the same serialisation.
  const body: Manifest = manifestSchema.parse(manifest);
  if (hmacKey) body.hmac = createHmac('sha256', hmacKey).update(JSON.stringify(body)).digest('hex');
  const bytes = Buffer.from(`${JSON.stringify(body, null, 2)}\n`, 'utf8');
  return { bytes, sha256: sha256Hex(bytes) };
}

export type ManifestProblem = 'unparseable' | 'bad-signature' | 'unsigned';

/** Parses manifest bytes and checks the signature when a key is given. */
export function decodeManifest(bytes: Buffer, hmacKey?: Buffer): { manifest: Manifest; sha256: string } | { problem: ManifestProblem } {
  let manifest: Manifest;
  try {
    const parsed = manifestSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    if (!parsed.success) return { problem: 'unparseable' };
    manifest = parsed.data;
  } catch {
    return { problem: 'unparseable' };
  }
  if (hmacKey) {
    if (!manifest.hmac) return { problem: 'unsigned' };
    const { hmac, ...rest } = manifest;
    const expected = createHmac('sha256', hmacKey).update(JSON.stringify(rest)).digest();
    const given = Buffer.from(hmac, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { problem: 'bad-signature' };
  }
  return { manifest, sha256: sha256Hex(bytes) };
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
