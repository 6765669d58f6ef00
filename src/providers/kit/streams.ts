import { ProviderStreamError, ProviderValidationError } from '../../errors/index.js';
import type { ProviderContext, ProviderPage, ProviderRecord } from '../provider.js';

/** What one stream's reader yields: records, and the stream's own cursor after them. */
export interface StreamPage<S> {
  records: ProviderRecord[];
  state: S;
}

/**
 * A source made of independent streams (DataWorks runs, OOS executions), each with its own
 * cursor kept under its key in the checkpoint.
 */
export interface StreamSet<T, S, C> {
  /** What one stream is called in messages (`run`), in log lines (`runId`), and the param listing them (`runIds`). */
  noun: string;
  field: string;
  param: string;
  streams: readonly T[];
  /** The stream's key in the checkpoint. */
  key(stream: T): string;
  /** Cursors of the checkpoint read from, by key (streams no longer configured are kept as they are). */
  from: Readonly<Record<string, S>>;
  /** Cursor of a stream never read. */
  initial(stream: T): S;
  /** The source's checkpoint from every stream's cursor. */
  checkpoint(states: Record<string, S>): C;
  /** Pages of one stream from `state`; everything it needs besides the cursor it takes from its closure. */
  read(stream: T, state: S): AsyncIterable<StreamPage<S>>;
}

/** A stream left out of a drain, and why. */
interface SkippedStream {
  id: string;
  error: ProviderValidationError;
}

/**
 * True when an error concerns one stream only: the API refused the request for it (a validation
 * or not-found answer with a provider error code), or the reader found it unreadable. Not auth
 * errors, and not a validation error without a code (the answer was not the API's: a wrong
 * endpoint), which would fail every stream of the source alike.
 */
export function concernsOneStream(error: unknown): error is ProviderValidationError {
  return error instanceof ProviderStreamError || (error instanceof ProviderValidationError && error.providerCode !== undefined);
}

/**
 * Reads the streams one after another, yielding each stream page as a page of the source. An
 * error that concerns one stream only skips that stream for this drain, with a warning, and the
 * others are read; once they are, the drain fails with one error naming the skipped streams, so
 * `status` shows it while the others keep progressing. Any other error fails at once.
 */
export async function* readStreams<T, S, C>(set: StreamSet<T, S, C>, context: ProviderContext): AsyncGenerator<ProviderPage<C>> {
  const states: Record<string, S> = { ...set.from };
  const skipped: SkippedStream[] = [];
  for (const stream of set.streams) {
    const key = set.key(stream);
    try {
      for await (const page of set.read(stream, states[key] ?? set.initial(stream))) {
        states[key] = page.state;
        yield { records: page.records, checkpoint: set.checkpoint({ ...states }) };
      }
    } catch (error) {
      if (!concernsOneStream(error)) throw error;
      context.logger.warn(
        { [set.field]: stream, at: states[key], providerCode: error.providerCode, err: { message: error.message } },
        `${set.noun} skipped for this drain after an error a retry will not fix; the other ${set.noun}s continue`,
      );
      skipped.push({ id: key, error });
    }
  }
  if (skipped.length > 0) throw skippedStreamsError(context, set, skipped);
}

/** The one error a drain ends with after skipping streams: names each, not retryable. */
function skippedStreamsError(
  context: ProviderContext,
  set: { noun: string; param: string },
  skipped: readonly SkippedStream[],
): ProviderValidationError {
  const prefix = `source ${context.sourceId}: `;
  const reasons = skipped.map(
    ({ id, error }) => `${id}: ${error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message}`,
  );
  const first = skipped[0]!.error;
  const fallback = `check the ${set.noun}(s) named (removed? wrong id?) and fix or remove them in sources[].params.${set.param}`;
  return new ProviderValidationError(`${prefix}${skipped.length} ${set.noun}(s) skipped, the others were read: ${reasons.join('; ')}`, {
    source: context.sourceId,
    provider: context.providerId,
    // Codes of one failure are exact; of several, the first's stands for them.
    ...(first.providerCode === undefined ? {} : { providerCode: first.providerCode }),
    ...(first.statusCode === undefined ? {} : { statusCode: first.statusCode }),
    ...(first.requestId === undefined ? {} : { requestId: first.requestId }),
    hint: [...new Set(skipped.map((s) => (s.error instanceof ProviderStreamError && s.error.hint) || fallback))].join('; '),
    cause: first,
  });
}
