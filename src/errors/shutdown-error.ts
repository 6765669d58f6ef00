import { ArchiverError } from './archiver-error.js';

/** The process is shutting down; work in flight is abandoned without committing. */
export class ShutdownError extends ArchiverError {
  constructor(cause?: unknown) {
    super('shutting down: drain abandoned', { code: 'ERR_SHUTDOWN', retryable: true, cause });
  }
}
