import { SkippedStreamsError } from '../../errors/index.js';
import { readStreams, type StreamPage } from '../kit/index.js';
import type { ProviderContext, ProviderPage } from '../provider.js';
import type { ActiveStream, DiscoveryState } from './discovery-state.js';

/** A stream as a listing (or a lookup) reports it. */
export interface DiscoveredStream<T> {
  key: string;
  stream: T;
  /** When it started (ms since the epoch). */
  time: number;
  status: string;
  final: boolean;
  /** When it finished (ms), if the API says. */
  finishedAt?: number | undefined;
}

/** Where the next listing page starts: a page number or a token. */
export type ListingCursor = string | number;

/** One page of a listing: streams oldest first, the cursor of the next page, and the total when the API states one. */
export interface ListingPage<T> {
  streams: DiscoveredStream<T>[];
  next: ListingCursor | undefined;
  total?: number | undefined;
}

/** Timing of discovery; see the provider's `discover` params. */
export interface DiscoveryOptions {
  /** How far before the newest start seen a listing begins again: streams listed late are still found. */
  lookbackMs: number;
  /** How long after a stream turned final it is still read before it is retired. */
  settleMs: number;
  /** A stream not final this long after it started is read once more, then retired with a warning. */
  maxActiveMs: number;
  /** Streams read at once. */
  concurrency: number;
}

/** What a provider tells {@link readDiscovered} about its API. */
export interface DiscoverySet<T, S, C> {
  /** What a stream is called in messages (`run`), in log lines (`runId`). */
  noun: string;
  field: string;
  options: DiscoveryOptions;
  from: DiscoveryState<S>;
  /** One page of the streams that started at or after `since`, oldest first; `page` undefined for the first. */
  list(since: number, page: ListingCursor | undefined): Promise<ListingPage<T>>;
  /** Current state of active streams listing no longer covers (started before the listing window); missing: not found. */
  lookup(streams: readonly [string, ActiveStream<S>][]): Promise<Map<string, DiscoveredStream<T>>>;
  /** The stream an active key names. */
  streamOf(key: string, active: ActiveStream<S>): T;
  initial(stream: T): S;
  read(stream: T, cursor: S): AsyncIterable<StreamPage<S>>;
  /** The source's checkpoint with `state` as its discovery part. */
  checkpoint(state: DiscoveryState<S>): C;
}

/** Listings restarted per drain when the listed total shrinks (pages shifted under us). */
const MAX_LISTING_RESTARTS = 3;

/**
 * Archives the streams a source finds by listing (DataWorks runs, OOS executions) until each is
 * final and read to its end, then retires it, so the checkpoint holds only streams still in
 * progress plus those retired within the lookback.
 *
 * One drain: the state of every active stream the listing window will not cover is looked up;
 * then the listing is paged from `from − lookback`, oldest first, and after each listing page the
 * streams that page brought (the first round: every active stream) are read, concurrently, each
 * to its end. A stream is retired when it was final before this read, the read reached its end,
 * and it has been final for the settle delay; a stream older than `maxActiveMs` is retired after
 * a complete read whatever its status, with a warning. `from` moves to the newest start listed,
 * never past the local clock, so a start time in the future cannot hide the streams after it.
 * A stream that cannot be read is skipped as the kit skips one (the others go on, the drain then
 * fails naming it); once older than `maxActiveMs` it is retired with a warning instead.
 */
export async function* readDiscovered<T, S, C>(set: DiscoverySet<T, S, C>, context: ProviderContext): AsyncGenerator<ProviderPage<C>> {
  const { lookbackMs, settleMs, maxActiveMs, concurrency } = set.options;
  let from = set.from.from;
  const retired = new Map<string, number>(set.from.retired.map(([time, key]) => [key, time]));
  const active = new Map<string, ActiveStream<S>>(Object.entries(set.from.active).map(([k, a]) => [k, { ...a }]));
  const windowStart = (): number => from - lookbackMs;
  // A copy: the drain may commit a page's checkpoint while the next page is being read, and the
  // entries of `active` move on with it.
  const state = (): DiscoveryState<S> => ({
    from,
    retired: [...retired].map(([key, time]): [number, string] => [time, key]).sort((a, b) => a[0] - b[0] || compare(a[1], b[1])),
    active: Object.fromEntries([...active].sort(([a], [b]) => compare(a, b)).map(([k, a]) => [k, structuredClone(a)])),
  });
  const read = new Set<string>();
  const skipped: SkippedStreamsError[] = [];
  let toRead: string[] = [];

  const absorb = (found: DiscoveredStream<T>, listedSince?: number): void => {
    if (retired.has(found.key)) return;
    const known = active.get(found.key);
    // Older than the window asked for (an API rounding its bounds): retired and forgotten already.
    if (!known && listedSince !== undefined && found.time < listedSince) return;
    const entry: ActiveStream<S> = known ?? { time: found.time, status: found.status, cursor: set.initial(found.stream) };
    entry.status = found.status;
    if (found.final) entry.finalAt ??= found.finishedAt ?? context.now();
    else entry.finalAt = undefined;
    active.set(found.key, entry);
    if (!read.has(found.key) && !toRead.includes(found.key)) toRead.push(found.key);
  };

  // 1. Active streams the listing will not show again: ask for them one by one. The first round
  // reads every active stream, whatever the listing says of it.
  const old = [...active].filter(([, a]) => a.time < windowStart());
  if (old.length > 0) {
    const found = await set.lookup(old);
    for (const [key] of old) {
      const current = found.get(key);
      if (current) absorb(current);
    }
  }
  toRead = [...active.keys()];

  // 2. The listing, a page at a time, each followed by reading what it brought.
  let page: ListingCursor | undefined;
  let since = windowStart();
  let total: number | undefined;
  let restarts = 0;
  for (let listing = true; listing; ) {
    const listed = await set.list(since, page);
    if (listed.total !== undefined && total !== undefined && listed.total < total && restarts < MAX_LISTING_RESTARTS) {
      // Fewer than a page ago: an earlier stream vanished and the pages shifted, which can skip
      // one. List again from the start of the (advanced) window; known streams are recognised.
      restarts += 1;
      context.guard(
        'discovery-listing-shifted',
        { before: total, now: listed.total },
        `the ${set.noun} listing shrank while it was paged; listing again`,
      );
      page = undefined;
      total = undefined;
      since = windowStart();
      continue;
    }
    total = listed.total;
    for (const found of listed.streams) absorb(found, since);
    const newest = listed.streams.reduce((max, s) => Math.max(max, s.time), Number.NEGATIVE_INFINITY);
    const now = context.now();
    if (newest > now + lookbackMs) {
      context.guard(
        'discovery-future-start',
        { start: new Date(newest).toISOString() },
        `a ${set.noun} starts in the future; the listing cursor stays at the local clock`,
      );
    }
    from = Math.max(from, Math.min(newest, now));
    for (const [key, time] of retired) if (time < windowStart()) retired.delete(key);
    page = listed.next;
    listing = page !== undefined && listed.streams.length > 0;

    const round = toRead;
    toRead = [];
    yield* readRound(round);
    yield { records: [], checkpoint: set.checkpoint(state()) };
  }
  if (skipped.length > 0) throw skipped.length === 1 ? skipped[0]! : mergeSkipped(skipped);

  async function* readRound(keys: string[]): AsyncGenerator<ProviderPage<C>> {
    if (keys.length === 0) return;
    const finalBefore = new Set(keys.filter((k) => active.get(k)?.finalAt !== undefined));
    const done = new Set<string>();
    for (const key of keys) read.add(key);
    const cursors: Record<string, S> = Object.fromEntries(keys.map((k) => [k, active.get(k)!.cursor]));
    const streams = keys.map((key) => ({ key, stream: set.streamOf(key, active.get(key)!) }));
    try {
      yield* readStreams(
        {
          noun: set.noun,
          field: set.field,
          param: 'discover',
          streams,
          key: (s) => s.key,
          from: cursors,
          initial: (s) => set.initial(s.stream),
          checkpoint: (states) => {
            for (const [key, cursor] of Object.entries(states)) {
              const entry = active.get(key);
              if (entry) entry.cursor = cursor;
            }
            return set.checkpoint(state());
          },
          read: async function* (s, cursor) {
            yield* set.read(s.stream, cursor);
            done.add(s.key);
          },
          concurrency,
        },
        context,
      );
    } catch (error) {
      if (!(error instanceof SkippedStreamsError)) throw error;
      const now = context.now();
      const unreadable = error.streams.filter((key) => now - (active.get(key)?.time ?? now) >= maxActiveMs);
      for (const key of unreadable) {
        context.guard(
          'discovery-unreadable',
          { [set.field]: key, maxActiveSeconds: maxActiveMs / 1000 },
          `${set.noun} ${key} could not be read and is older than maxActiveSeconds: retired without its remaining log (a gap)`,
        );
        retire(key);
      }
      if (unreadable.length < error.streams.length) skipped.push(error);
    }
    const now = context.now();
    for (const key of done) {
      const entry = active.get(key);
      if (!entry) continue;
      if (finalBefore.has(key) && entry.finalAt !== undefined && now >= entry.finalAt + settleMs) retire(key);
      else if (now - entry.time >= maxActiveMs) {
        context.guard(
          'discovery-abandoned',
          { [set.field]: key, status: entry.status, maxActiveSeconds: maxActiveMs / 1000 },
          `${set.noun} ${key} is still not final after maxActiveSeconds; read to its end and retired (later log lines are not archived)`,
        );
        retire(key);
      }
    }
  }

  function retire(key: string): void {
    const entry = active.get(key);
    active.delete(key);
    if (entry && entry.time >= windowStart()) retired.set(key, entry.time);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One error for the streams skipped over several rounds of one drain. */
function mergeSkipped(errors: readonly SkippedStreamsError[]): SkippedStreamsError {
  const first = errors[0]!;
  return new SkippedStreamsError(
    errors.map((e) => e.message).join('; '),
    errors.flatMap((e) => e.streams),
    {
      ...(first.source === undefined ? {} : { source: first.source }),
      ...(first.provider === undefined ? {} : { provider: first.provider }),
      ...(first.providerCode === undefined ? {} : { providerCode: first.providerCode }),
      ...(first.hint === undefined ? {} : { hint: first.hint }),
      cause: first,
    },
  );
}
