import type { CredentialSource } from '../http/index.js';

/**
 * A credential source as the sources of a deployment share it: one per distinct credentials
 * (one STS session, one IAM token), whatever the number of sources that use them.
 */
export interface SharedCredentials<K> extends CredentialSource<K> {
  /** Stable across refreshes (the AccessKey ID, the role, the IAM user): what quotas per account are keyed by. */
  readonly identity: string;
  /** Records that `source` uses these credentials, so that a failure names it. */
  usedBy(source: string): this;
}

/** Whether `value` is a credential source rather than the keys themselves. */
export function isSharedCredentials<K>(value: K | SharedCredentials<K>): value is SharedCredentials<K> {
  return typeof (value as { get?: unknown }).get === 'function' && typeof (value as { identity?: unknown }).identity === 'string';
}

/** Long-lived keys from the config or the environment, answered as they are. */
export function fixedCredentials<K>(credentials: K, identity: string): SharedCredentials<K> {
  const answer = Promise.resolve(credentials);
  const source: SharedCredentials<K> = { identity, get: () => answer, usedBy: () => source };
  return source;
}
