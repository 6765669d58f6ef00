/**
 * Where a drain's wall time goes, measured from outside the drain: wraps (in this process only)
 * the provider's page iterator, `BatchSpool.write` / `finish` and `ManifestLedger.commit`, and
 * adds up the time each takes. No source file is changed.
 *
 * The drain asks for the next page before it handles the one in hand, so a page's fetch overlaps
 * rendering, gzip and commits: the fetch figure is time in flight, not time the drain waited, and
 * the figures do not add up to the wall time. What the JS thread itself was busy with is measured
 * apart, by the event loop's utilisation (drain-case.ts).
 */
import { ManifestLedger } from '../src/archive/index.js';
import { BatchSpool } from '../src/drain/spool.js';
import { getProvider } from '../src/providers/index.js';

export interface Phases {
  /** The provider's next page in flight: HTTP round trip, the simulator's answer, parsing, records. */
  fetchMs: number;
  /** Awaiting `BatchSpool.write`: gzip consuming the page (it waits for 'drain'). */
  spoolWriteMs: number;
  /** Awaiting `BatchSpool.finish`: flushing gzip and the spool file. */
  spoolFinishMs: number;
  /** Awaiting `ManifestLedger.commit`: intent, object upload, manifest. */
  commitMs: number;
  pages: number;
}

export function instrument(providerId: string): Phases {
  const phases: Phases = { fetchMs: 0, spoolWriteMs: 0, spoolFinishMs: 0, commitMs: 0, pages: 0 };
  const timed = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, add: (ms: number) => void) =>
    async function (this: unknown, ...args: A): Promise<R> {
      const t = performance.now();
      try {
        return await fn.apply(this, args);
      } finally {
        add(performance.now() - t);
      }
    };

  const spool = BatchSpool.prototype as unknown as Record<'write' | 'finish', (...args: unknown[]) => Promise<unknown>>;
  spool.write = timed(spool.write, (ms) => (phases.spoolWriteMs += ms));
  spool.finish = timed(spool.finish, (ms) => (phases.spoolFinishMs += ms));
  const ledger = ManifestLedger.prototype as unknown as Record<'commit', (...args: unknown[]) => Promise<unknown>>;
  ledger.commit = timed(ledger.commit, (ms) => (phases.commitMs += ms));

  const provider = getProvider(providerId) as { pages: (...args: unknown[]) => AsyncIterable<unknown> };
  const pages = provider.pages;
  provider.pages = (...args: unknown[]) => {
    const iterable = pages(...args);
    return {
      [Symbol.asyncIterator]() {
        const iterator = iterable[Symbol.asyncIterator]();
        return {
          next: timed(
            () => iterator.next(),
            (ms) => {
              phases.fetchMs += ms;
              phases.pages += 1;
            },
          ),
          return: (value?: unknown) => iterator.return?.(value) ?? Promise.resolve({ done: true as const, value }),
          throw: (error?: unknown) => iterator.throw?.(error) ?? Promise.reject(error),
        };
      },
    };
  };
  return phases;
}
