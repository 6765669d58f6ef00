import { SkippedStreamsError } from '../../errors/index.js';
import { readStreams, type StreamPage } from '../kit/index.js';
import type { ProviderContext, ProviderPage } from '../provider.js';
import type { ActiveStream, DiscoveryState } from './discovery-state.js';
import { readDiscovered, type DiscoveredStream, type DiscoveryOptions, type ListingCursor, type ListingPage } from './read-discovered.js';

/** How a provider lists the streams it discovers (DataWorks runs, OOS executions). */
export interface StreamListing<T> {
  list(since: number, page: ListingCursor | undefined): Promise<ListingPage<T>>;
  lookup(streams: readonly [string, ActiveStream<unknown>][]): Promise<Map<string, DiscoveredStream<T>>>;
}

/** A source's streams: those its config lists, and those it finds by listing; see {@link readSourceStreams}. */
export interface SourceStreams<T, S, C> {
  /** What a stream is called in messages (`run`), in log lines (`runId`), and the param listing them (`runIds`). */
  noun: string;
  field: string;
  param: string;
  /** Streams the config lists, by their key, and their cursors (absent: none configured). */
  configured?: { streams: readonly T[]; key(stream: T): string; from: Readonly<Record<string, S>> } | undefined;
  /** Discovery, when the config asks for it. */
  discovery?: { options: DiscoveryOptions; from: DiscoveryState<S>; listing: StreamListing<T>; streamOf(key: string): T } | undefined;
  concurrency: number;
  /** Cursor of a stream never read. */
  initial(): S;
  read(stream: T, cursor: S): AsyncIterable<StreamPage<S>>;
  /** The source's checkpoint from the configured streams' cursors and the discovery state. */
  checkpoint(configured: Record<string, S>, discovered: DiscoveryState<S> | undefined): C;
}

/**
 * Reads the configured streams, then the discovered ones (a stream both configured and listed is
 * read once, as configured). When some configured streams cannot be read, the discovered ones are
 * read all the same and the drain then fails naming the skipped ones.
 */
export async function* readSourceStreams<T, S, C>(set: SourceStreams<T, S, C>, context: ProviderContext): AsyncGenerator<ProviderPage<C>> {
  let configured: Record<string, S> = { ...(set.configured?.from ?? {}) };
  let discovered = set.discovery?.from;
  const checkpoint = (): C => set.checkpoint(configured, discovered);
  let skipped: SkippedStreamsError | undefined;
  if (set.configured) {
    const { streams, key } = set.configured;
    try {
      yield* readStreams(
        {
          noun: set.noun,
          field: set.field,
          param: set.param,
          streams,
          key,
          from: configured,
          initial: () => set.initial(),
          checkpoint: (states) => {
            configured = states;
            return checkpoint();
          },
          read: (stream, cursor) => set.read(stream, cursor),
          concurrency: set.concurrency,
        },
        context,
      );
    } catch (error) {
      if (!(error instanceof SkippedStreamsError) || !set.discovery) throw error;
      skipped = error;
    }
  }
  if (set.discovery) {
    const { listing, streamOf, options, from } = set.discovery;
    const configuredKeys = new Set((set.configured?.streams ?? []).map((s) => set.configured!.key(s)));
    yield* readDiscovered(
      {
        noun: set.noun,
        field: set.field,
        options,
        from,
        list: async (since, page) => {
          const listed = await listing.list(since, page);
          return { ...listed, streams: listed.streams.filter((s) => !configuredKeys.has(s.key)) };
        },
        lookup: (actives) => listing.lookup(actives),
        streamOf: (key) => streamOf(key),
        initial: () => set.initial(),
        read: (stream, cursor) => set.read(stream, cursor),
        checkpoint: (state) => {
          discovered = state;
          return checkpoint();
        },
      },
      context,
    );
  }
  if (skipped) throw skipped;
}
