import { createHmac, createPrivateKey, createPublicKey, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { z } from 'zod';

// RFC 8785 (JCS) by one of its authors; a CommonJS module whose typings claim an ES default export.
const canonicalize = createRequire(import.meta.url)('canonicalize') as (input: unknown) => string | undefined;

/** How a manifest, digest or owner record is signed: over the RFC 8785 (JCS) form of its body without `signature`. */
export const signatureSchema = z
  .object({
    algorithm: z.enum(['ed25519', 'hmac-sha256']),
    keyId: z.string().min(1).max(128),
    /** Base64 of the Ed25519 signature or the HMAC-SHA256 tag. */
    value: z.string().min(1),
  })
  .strict();

export type Signature = z.infer<typeof signatureSchema>;
export type SignatureAlgorithm = Signature['algorithm'];

/** What checking one signed body found. */
export type SignatureCheck = 'valid' | 'invalid' | 'unsigned' | 'unknown-key';

/** A key that can check signatures of one key id. */
export interface VerifyKey {
  algorithm: SignatureAlgorithm;
  verify(payload: Buffer, signature: Buffer): boolean;
}

/** The key new bodies are signed with. */
export interface SigningKey extends VerifyKey {
  keyId: string;
  sign(payload: Buffer): Buffer;
}

/** An Ed25519 signing key from PEM (PKCS#8); its public half verifies too. */
export function ed25519SigningKey(keyId: string, privatePem: string | Buffer): SigningKey {
  const privateKey = createPrivateKey(privatePem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`key ${keyId} is a ${privateKey.asymmetricKeyType} key, not ed25519`);
  const publicKey = createPublicKey(privateKey);
  return {
    keyId,
    algorithm: 'ed25519',
    sign: (payload) => sign(null, payload, privateKey),
    verify: (payload, signature) => verifyEd25519(publicKey, payload, signature),
  };
}

/** An Ed25519 public key from PEM (SPKI): what an auditor holds. */
export function ed25519VerifyKey(publicPem: string | Buffer): VerifyKey {
  const key = createPublicKey(publicPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key, not ed25519`);
  return { algorithm: 'ed25519', verify: (payload, signature) => verifyEd25519(key, payload, signature) };
}

/** An HMAC-SHA256 key: whoever can check it can also forge, so it proves nothing to a third party. */
export function hmacSigningKey(keyId: string, secret: Buffer): SigningKey {
  const tag = (payload: Buffer): Buffer => createHmac('sha256', secret).update(payload).digest();
  return {
    keyId,
    algorithm: 'hmac-sha256',
    sign: tag,
    verify: (payload, signature) => {
      const expected = tag(payload);
      return expected.length === signature.length && timingSafeEqual(expected, signature);
    },
  };
}

function verifyEd25519(key: KeyObject, payload: Buffer, signature: Buffer): boolean {
  try {
    return verify(null, payload, key, signature);
  } catch {
    return false;
  }
}

/** The bytes a signature covers: the body without `signature`, in JCS form. */
export function signedPayload(body: Record<string, unknown>): Buffer {
  const { signature: _signature, ...rest } = body;
  const text = canonicalize(rest);
  if (text === undefined) throw new Error('body cannot be canonicalised');
  return Buffer.from(text, 'utf8');
}

/**
 * The signing key and every key that may check old signatures, by key id. Rotation adds a key
 * id; old bodies keep verifying with the old id's key (kept in `manifests.verifyKeys`).
 */
export class KeyRing {
  readonly #keys = new Map<string, VerifyKey>();

  constructor(
    readonly signer: SigningKey | undefined,
    verifyKeys: ReadonlyMap<string, VerifyKey> = new Map(),
  ) {
    for (const [id, key] of verifyKeys) this.#keys.set(id, key);
    if (signer) this.#keys.set(signer.keyId, signer);
  }

  static readonly none = new KeyRing(undefined);

  /** Whether any key is known: without one, signatures cannot be checked at all. */
  get checks(): boolean {
    return this.#keys.size > 0;
  }

  /** The signature for `body`, or undefined when no signing key is configured. */
  sign(body: Record<string, unknown>): Signature | undefined {
    if (!this.signer) return undefined;
    return {
      algorithm: this.signer.algorithm,
      keyId: this.signer.keyId,
      value: this.signer.sign(signedPayload(body)).toString('base64'),
    };
  }

  /** Checks the `signature` of a parsed body against the key its key id names. */
  check(body: Record<string, unknown>): SignatureCheck {
    const parsed = signatureSchema.safeParse(body.signature);
    if (body.signature === undefined) return 'unsigned';
    if (!parsed.success) return 'invalid';
    const key = this.#keys.get(parsed.data.keyId);
    if (!key) return 'unknown-key';
    if (key.algorithm !== parsed.data.algorithm) return 'invalid';
    return key.verify(signedPayload(body), Buffer.from(parsed.data.value, 'base64')) ? 'valid' : 'invalid';
  }
}
