import { readFileSync } from 'node:fs';
import { ed25519SigningKey, ed25519VerifyKey, hmacSigningKey, KeyRing, type SigningKey, type VerifyKey } from '../archive/index.js';
import type { ConfigIssue } from '../errors/index.js';
import type { ManifestsSection } from './schema.js';

/**
 * The key ring of the `manifests` section: the signing key and every verification key, read now
 * so that a missing file or variable is a config error (exit 2) before anything starts.
 */
export function buildKeyRing(section: ManifestsSection, env: NodeJS.ProcessEnv, issues: ConfigIssue[]): KeyRing {
  const readFile = (path: string, at: string): Buffer | undefined => {
    try {
      return readFileSync(path);
    } catch (error) {
      issues.push({ path: at, message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}` });
      return undefined;
    }
  };
  const readEnv = (name: string, at: string): Buffer | undefined => {
    const value = env[name];
    if (!value) {
      issues.push({ path: at, message: `environment variable ${name} is not set` });
      return undefined;
    }
    return Buffer.from(value, 'utf8');
  };
  let signer: SigningKey | undefined;
  const signing = section.signing;
  try {
    if (signing?.algorithm === 'ed25519') {
      const pem = readFile(signing.privateKeyFile, 'manifests.signing.privateKeyFile');
      if (pem) signer = ed25519SigningKey(signing.keyId, pem);
    } else if (signing?.algorithm === 'hmac-sha256') {
      const secret = signing.secretEnv
        ? readEnv(signing.secretEnv, 'manifests.signing.secretEnv')
        : readFile(signing.secretFile!, 'manifests.signing.secretFile');
      if (secret) signer = hmacSigningKey(signing.keyId, secret);
    } else if (section.hmacKeyEnv) {
      const secret = readEnv(section.hmacKeyEnv, 'manifests.hmacKeyEnv');
      if (secret) signer = hmacSigningKey('default', secret);
    }
  } catch (error) {
    issues.push({ path: 'manifests.signing', message: `unusable key: ${(error as Error).message}` });
  }
  const verifyKeys = new Map<string, VerifyKey>();
  for (const [id, spec] of Object.entries(section.verifyKeys)) {
    const at = `manifests.verifyKeys.${id}`;
    try {
      if (spec.publicKeyFile) {
        const pem = readFile(spec.publicKeyFile, `${at}.publicKeyFile`);
        if (pem) verifyKeys.set(id, ed25519VerifyKey(pem));
      } else {
        const secret = spec.secretEnv ? readEnv(spec.secretEnv, `${at}.secretEnv`) : readFile(spec.secretFile!, `${at}.secretFile`);
        if (secret) verifyKeys.set(id, hmacSigningKey(id, secret));
      }
    } catch (error) {
      issues.push({ path: at, message: `unusable key: ${(error as Error).message}` });
    }
  }
  return new KeyRing(signer, verifyKeys);
}
