/**
 * Where a cloud client gets the credentials of each request. Asked before every attempt, so a
 * source that refreshes (STS AssumeRole, OIDC, an instance role, an IAM token) hands out fresh
 * ones and the client never holds keys past their expiry.
 *
 * Not part of it: caching and refresh timing (the source's business), and which credential
 * kinds exist (each cloud's credential schema).
 */
export interface CredentialSource<K> {
  /** The credentials to sign the next attempt with. */
  get(signal?: AbortSignal): Promise<K>;
}

/** A source that always answers the same credentials (keys from the config or environment). */
export function staticCredentials<K>(credentials: K): CredentialSource<K> {
  const answer = Promise.resolve(credentials);
  return { get: () => answer };
}

/** `credentials` as a source: a source as is, plain credentials as a static source. */
export function credentialSourceOf<K extends object>(credentials: K | CredentialSource<K>): CredentialSource<K> {
  return isCredentialSource(credentials) ? credentials : staticCredentials(credentials);
}

function isCredentialSource<K extends object>(value: K | CredentialSource<K>): value is CredentialSource<K> {
  return typeof (value as { get?: unknown }).get === 'function';
}
