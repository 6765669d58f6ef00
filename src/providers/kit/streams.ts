import { ProviderStreamError, ProviderValidationError, SkippedStreamsError } from '../../errors/index.js';
import type { CompletenessFigure, ProviderContext, ProviderPage, ProviderRecord } from '../provider.js';

/** What one stream's reader yields: records, and the stream's own cursor after them. */
export interface StreamPage<S> {
  records: ProviderRecord[];
  state: S;
  /** Totals the provider stated for this stream, when this page finished or re-counted it. */
  completeness?: CompletenessFigure[];
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
  /** Streams read at once. @defaultValue 1 */
  concurrency?: number;
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
 * Reads the streams, up to `set.concurrency` at once, yielding each stream page as a page of the
 * source as soon as it arrives. A page's checkpoint holds, for every stream, the cursor after
 * the last of its pages yielded so far, so it is exact whichever order the streams answer in;
 * a stream's next page is asked for only once the page before it has been taken. An error that
 * concerns one stream only skips that stream for this drain, with a warning, and the others are
 * read; once they are, the drain fails with one error naming the skipped streams, so `status`
 * shows it while the others keep progressing. Any other error fails at once (streams still
 * being read are abandoned: their cursors in the checkpoint are those of their last page taken).
 */
export async function* readStreams<T, S, C>(set: StreamSet<T, S, C>, context: ProviderContext): AsyncGenerator<ProviderPage<C>> {
  const states: Record<string, S> = { ...set.from };
  const skipped: SkippedStream[] = [];
  const limit = Math.max(1, Math.floor(set.concurrency ?? 1));
  const waiting = [...set.streams];
  const running = new Map<string, Running<T, S>>();
  const pull = (reader: Running<T, S>): void => {
    reader.next = reader.iterator.next().then(
      (result): Outcome<T, S> => ({ reader, result }),
      (error: unknown): Outcome<T, S> => ({ reader, error }),
    );
  };
  const startMore = (): void => {
    while (running.size < limit && waiting.length > 0) {
      const stream = waiting.shift()!;
      const key = set.key(stream);
      const iterator = set.read(stream, states[key] ?? set.initial(stream))[Symbol.asyncIterator]();
      const reader: Running<T, S> = { stream, key, iterator, next: undefined as unknown as Promise<Outcome<T, S>> };
      pull(reader);
      running.set(key, reader);
    }
  };
  try {
    startMore();
    while (running.size > 0) {
      const outcome = await Promise.race([...running.values()].map((r) => r.next));
      const { reader } = outcome;
      if ('error' in outcome) {
        running.delete(reader.key);
        const error = outcome.error;
        if (!concernsOneStream(error)) throw error;
        context.logger.warn(
          { [set.field]: reader.stream, at: states[reader.key], providerCode: error.providerCode, err: { message: error.message } },
          `${set.noun} skipped for this drain after an error a retry will not fix; the other ${set.noun}s continue`,
        );
        skipped.push({ id: reader.key, error });
        startMore();
        continue;
      }
      if (outcome.result.done) {
        running.delete(reader.key);
        startMore();
        continue;
      }
      const page = outcome.result.value;
      states[reader.key] = page.state;
      yield {
        records: page.records,
        checkpoint: set.checkpoint({ ...states }),
        ...(page.completeness ? { completeness: page.completeness } : {}),
      };
      pull(reader);
    }
  } finally {
    for (const reader of running.values()) {
      // Abandoned (an error elsewhere, or the consumer stopped): their answers are not wanted.
      void reader.next.catch(() => undefined);
      void reader.iterator.return?.(undefined)?.catch(() => undefined);
    }
  }
  if (skipped.length > 0) throw skippedStreamsError(context, set, skipped);
}

/** A stream being read: its iterator and the page (or error) it is fetching. */
interface Running<T, S> {
  stream: T;
  key: string;
  iterator: AsyncIterator<StreamPage<S>>;
  next: Promise<Outcome<T, S>>;
}

type Outcome<T, S> = { reader: Running<T, S>; result: IteratorResult<StreamPage<S>> } | { reader: Running<T, S>; error: unknown };

/** The one error a drain ends with after skipping streams: names each, not retryable. */
function skippedStreamsError(
  context: ProviderContext,
  set: { noun: string; param: string },
  skipped: readonly SkippedStream[],
): SkippedStreamsError {
  const prefix = `source ${context.sourceId}: `;
  const reasons = skipped.map(
    ({ id, error }) => `${id}: ${error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message}`,
  );
  const first = skipped[0]!.error;
  const fallback = `check the ${set.noun}(s) named (removed? wrong id?) and fix or remove them in sources[].params.${set.param}`;
  const message = `${prefix}${skipped.length} ${set.noun}(s) skipped, the others were read: ${reasons.join('; ')}`;
  return new SkippedStreamsError(
    message,
    skipped.map((s) => s.id),
    {
      source: context.sourceId,
      provider: context.providerId,
      // Codes of one failure are exact; of several, the first's stands for them.
      ...(first.providerCode === undefined ? {} : { providerCode: first.providerCode }),
      ...(first.statusCode === undefined ? {} : { statusCode: first.statusCode }),
      ...(first.requestId === undefined ? {} : { requestId: first.requestId }),
      hint: [...new Set(skipped.map((s) => (s.error instanceof ProviderStreamError && s.error.hint) || fallback))].join('; '),
      cause: first,
    },
  );
}
