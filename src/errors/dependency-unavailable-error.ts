import { ArchiverError } from './archiver-error.js';

/** Redis or storage could not be reached, so nothing was judged; the process exits 3. */
export class DependencyUnavailableError extends ArchiverError {
  readonly dependency: 'redis' | 'storage';

  /** `where` names the dependency for a person (a URL without credentials, a bucket). */
  constructor(dependency: 'redis' | 'storage', where: string, cause?: unknown) {
    const reason = cause instanceof Error && cause.message ? `: ${cause.message}` : '';
    super(`cannot reach ${dependency} at ${where}${reason}`, {
      code: 'ERR_UNAVAILABLE',
      retryable: true,
      hint:
        dependency === 'redis'
          ? 'check that Redis is running and that redis.url (host, port, TLS, password) is right'
          : 'check that the storage endpoint is up and reachable, and the bucket and credentials are right',
      cause,
    });
    this.dependency = dependency;
  }
}
