import { ArchiverError } from './archiver-error.js';

/**
 * Credentials could not be obtained or refreshed (STS, the instance metadata service, IAM). Names
 * what the credentials are and the sources that use them, never a secret; `hint` says what to fix.
 * Retryable when the issuer failed for a while (throttling, 5xx, network), not when it refused.
 */
export class CredentialError extends ArchiverError {
  constructor(
    readonly credentials: string,
    readonly sources: readonly string[],
    message: string,
    options: { hint: string; retryable: boolean; cause?: unknown },
  ) {
    super(`${credentials} (sources ${sources.join(', ') || 'none yet'}): ${message}`, {
      code: 'ERR_CREDENTIALS',
      hint: options.hint,
      retryable: options.retryable,
      cause: options.cause,
    });
  }
}
