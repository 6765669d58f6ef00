import type { CallsTaken } from '../../http/index.js';
import type { CompletenessFigure, Provider, ProviderContext, ProviderPage, SourceSpec } from '../provider.js';

/** A page as the drain receives it: the provider's page and what its calls cost. */
export type ReadPage<C> = ProviderPage<C> & CallsTaken;

/**
 * Record-less pages with a moved cursor held back before one is passed on anyway, so a long
 * catch-up (months of empty windows) still commits progress now and then. Above the OOS guard
 * against endless empty token pages (100), so such a run commits nothing. @defaultValue 1000
 */
export const FOLD_LIMIT = 1000;

/**
 * Reads a provider's pages for the drain, the one place where no-op pages are folded. A page
 * without records whose checkpoint is where the reader already is, is dropped. A run of
 * record-less pages that move the checkpoint is held back as its latest page: dropped when a page
 * with records follows (whose checkpoint covers it), passed on after {@link FOLD_LIMIT} of them
 * or at the end, and dropped by an error (a cursor that only moved past nothing is not worth
 * committing from a failing read: OOS would otherwise follow a server's endless empty tokens
 * across polls). Each page passed on
 * carries the request ids and bytes of the calls made since the previous one (the call log), and
 * the completeness figures of the pages folded into it (the latest per stream).
 */
export async function* readPages<P, C, K>(
  provider: Provider<P, C, K>,
  source: SourceSpec<P, K>,
  from: C,
  context: ProviderContext,
  foldLimit: number = FOLD_LIMIT,
): AsyncGenerator<ReadPage<C>> {
  // The checkpoint the reader is at; stringified only when a record-less page must be compared.
  let at: C = from;
  let held: ProviderPage<C> | undefined;
  let heldCount = 0;
  // Figures of pages dropped or held: a page that moves nothing may still state a total.
  const figures = new Map<string, CompletenessFigure>();
  const pass = (page: ProviderPage<C>): ReadPage<C> => {
    at = page.checkpoint;
    held = undefined;
    heldCount = 0;
    const { completeness: _own, ...rest } = page;
    const passed: ReadPage<C> = { ...rest, ...context.calls.take() };
    if (figures.size > 0) passed.completeness = [...figures.values()];
    figures.clear();
    return passed;
  };
  for await (const page of provider.pages(source, from, context)) {
    for (const figure of page.completeness ?? []) {
      figures.delete(figure.stream);
      figures.set(figure.stream, figure);
    }
    if (page.records.length > 0) {
      yield pass(page);
      continue;
    }
    if (JSON.stringify(page.checkpoint) === JSON.stringify(at)) {
      held = undefined;
      heldCount = 0;
      continue;
    }
    held = page;
    heldCount += 1;
    if (heldCount >= foldLimit) yield pass(page);
  }
  if (held) yield pass(held);
  else if (figures.size > 0) yield pass({ records: [], checkpoint: at });
}
