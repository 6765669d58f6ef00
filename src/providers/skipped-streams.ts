import { ProviderValidationError } from '../errors/index.js';
import type { SourceSpec } from './provider.js';

/** A stream (a run, an execution) left out of a drain, and why. */
export interface SkippedStream {
  id: string;
  error: ProviderValidationError;
  /** What to do about this one, when it is more specific than "check the id". */
  hint?: string;
}

/**
 * True when the API refused the request for one stream (a validation or not-found answer with a
 * provider error code). Not auth errors, and not a validation error without a code (the answer
 * was not the API's: a wrong endpoint), which would fail every stream of the source alike.
 */
export function concernsOneStream(error: unknown): error is ProviderValidationError {
  return error instanceof ProviderValidationError && error.providerCode !== undefined;
}

/** The one error a drain ends with after skipping streams: names each, not retryable. */
export function skippedStreamsError(
  source: SourceSpec<unknown, unknown>,
  noun: string,
  param: string,
  skipped: readonly SkippedStream[],
): ProviderValidationError {
  const prefix = `source ${source.id}: `;
  const reasons = skipped.map(
    ({ id, error }) => `${id}: ${error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message}`,
  );
  const first = skipped[0]!.error;
  return new ProviderValidationError(`${prefix}${skipped.length} ${noun}(s) skipped, the others were read: ${reasons.join('; ')}`, {
    source: source.id,
    provider: source.provider,
    // Codes of one failure are exact; of several, the first's stands for them.
    ...(first.providerCode === undefined ? {} : { providerCode: first.providerCode }),
    ...(first.statusCode === undefined ? {} : { statusCode: first.statusCode }),
    ...(first.requestId === undefined ? {} : { requestId: first.requestId }),
    hint: [
      ...new Set(
        skipped.map((s) => s.hint ?? `check the ${noun}(s) named (removed? wrong id?) and fix or remove them in sources[].params.${param}`),
      ),
    ].join('; '),
    cause: first,
  });
}
