import { ArchiverError } from './archiver-error.js';

/** Where a provider error happened; all optional because a transport failure knows little. */
export interface ProviderErrorDetails {
  source?: string;
  provider?: string;
  statusCode?: number;
  /** The provider's own error code (`Throttling.User`, `APIGW.0308`, …). */
  providerCode?: string;
  requestId?: string;
  hint?: string;
  cause?: unknown;
}

/** Base of errors from a provider API call. Subclasses decide whether a retry may help. */
export class ProviderError extends ArchiverError {
  readonly source: string | undefined;
  readonly provider: string | undefined;
  readonly statusCode: number | undefined;
  readonly providerCode: string | undefined;
  readonly requestId: string | undefined;

  constructor(message: string, code: string, retryable: boolean, details: ProviderErrorDetails = {}) {
    super(message, { code, retryable, hint: details.hint, cause: details.cause });
    this.source = details.source;
    this.provider = details.provider;
    this.statusCode = details.statusCode;
    this.providerCode = details.providerCode;
    this.requestId = details.requestId;
  }
}

/** The provider asked us to slow down; retried after `retryAfterMs` when the provider said so. */
export class ProviderThrottledError extends ProviderError {
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: ProviderErrorDetails & { retryAfterMs?: number } = {}) {
    super(message, 'ERR_PROVIDER_THROTTLED', true, details);
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** 5xx from the provider; retried with backoff. */
export class ProviderServerError extends ProviderError {
  constructor(message: string, details: ProviderErrorDetails = {}) {
    super(message, 'ERR_PROVIDER_SERVER', true, details);
  }
}

/** Timeout, reset or refused connection; retried with backoff. */
export class ProviderNetworkError extends ProviderError {
  constructor(message: string, details: ProviderErrorDetails = {}) {
    super(message, 'ERR_PROVIDER_NETWORK', true, details);
  }
}

/** A body we cannot trust: malformed, truncated, HTML, too large, unsafe keys, wrong shape. Retried. */
export class ProviderResponseError extends ProviderError {
  constructor(message: string, details: ProviderErrorDetails = {}) {
    super(message, 'ERR_PROVIDER_RESPONSE', true, details);
  }
}

/** Credentials rejected or missing permission; never retried: a person must fix the config. */
export class ProviderAuthError extends ProviderError {
  constructor(message: string, details: ProviderErrorDetails = {}) {
    super(message, 'ERR_PROVIDER_AUTH', false, details);
  }
}

/** The request itself is wrong (bad parameter, unknown resource); never retried. */
export class ProviderValidationError extends ProviderError {
  constructor(message: string, details: ProviderErrorDetails = {}) {
    super(message, 'ERR_PROVIDER_VALIDATION', false, details);
  }
}

/**
 * One stream of a source (a run, an execution) cannot be read as it stands, though the API
 * answered (a line longer than the configured cap); never retried. The other streams are read.
 */
export class ProviderStreamError extends ProviderValidationError {}

/**
 * A drain read the other streams of its source, then stopped because some could not be read
 * (each named in the message); `streams` are their keys in the checkpoint. Never retried.
 */
export class SkippedStreamsError extends ProviderValidationError {
  readonly streams: readonly string[];

  constructor(message: string, streams: readonly string[], details: ProviderErrorDetails = {}) {
    super(message, details);
    this.streams = streams;
  }
}
