import { ArchiverError } from './archiver-error.js';

/** An object store operation failed; `retryable` says whether trying again may help. */
export class StorageError extends ArchiverError {
  readonly key: string | undefined;

  constructor(message: string, options: { key?: string; retryable: boolean; cause?: unknown; hint?: string }) {
    super(message, { code: 'ERR_STORAGE', retryable: options.retryable, cause: options.cause, hint: options.hint });
    this.key = options.key;
  }
}

/** A create-only write found the key already taken. */
export class ObjectExistsError extends StorageError {
  constructor(key: string) {
    super(`object ${key} already exists`, { key, retryable: false });
  }
}
