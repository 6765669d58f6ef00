import type { ProviderPage } from '../provider.js';

/**
 * Pages of at most `size` items from a list the provider has sorted (APIs that answer a whole
 * list per call: DataArts access logs, DWS audit records). `page` builds each page from its chunk
 * and the items still to come (a checkpoint must not move past those).
 */
export function* chunkPages<T, C>(
  items: readonly T[],
  size: number,
  page: (chunk: readonly T[], rest: readonly T[]) => ProviderPage<C>,
): Generator<ProviderPage<C>> {
  const step = Math.max(1, size);
  for (let start = 0; start < items.length; start += step) {
    yield page(items.slice(start, start + step), items.slice(start + step));
  }
}
