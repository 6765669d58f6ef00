/**
 * Base of every error the archiver raises on purpose.
 *
 * `code` is stable and machine-readable; `hint` tells an operator what to do. Messages never
 * carry secrets: callers pass identifiers (source id, request id), never credentials.
 */
export class ArchiverError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  /** True when repeating the same operation later may succeed. */
  readonly retryable: boolean;

  constructor(message: string, options: { code: string; hint?: string; retryable?: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.hint = options.hint;
    this.retryable = options.retryable ?? false;
  }
}
