import { ArchiverError } from './archiver-error.js';

/** Another drain of this source holds the lease; this one must not start. */
export class LeaseBusyError extends ArchiverError {
  constructor(readonly source: string) {
    super(`source ${source} is being drained by another worker`, {
      code: 'ERR_LEASE_BUSY',
      retryable: true,
      hint: 'nothing to do: the running drain covers this poll',
    });
  }
}

/**
 * The lease expired or was taken over (fencing token no longer current). The holder must stop
 * without moving the checkpoint: a newer drain owns the source now.
 */
export class LeaseLostError extends ArchiverError {
  constructor(
    readonly source: string,
    readonly token: string,
    cause?: unknown,
  ) {
    super(`lease on source ${source} lost (fencing token ${token} is stale)`, {
      code: 'ERR_LEASE_LOST',
      retryable: true,
      hint: 'the drain was abandoned; a newer drain resumes from the last commit',
      cause,
    });
  }
}
