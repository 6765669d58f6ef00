import { gunzipSync } from 'node:zlib';
import type { ObjectStore } from '../../src/storage/index.js';

/** One archived line, parsed. */
export interface Envelope {
  source: string;
  provider: string;
  id: string;
  fetchedAt: string;
  context: Record<string, unknown>;
  record: unknown;
}

/** Every envelope in every `.ndjson.gz` object of the store, with the key it came from. */
export async function readArchive(store: ObjectStore): Promise<{ envelopes: (Envelope & { key: string })[]; keys: string[] }> {
  const keys: string[] = [];
  for await (const item of store.list('')) if (item.key.endsWith('.ndjson.gz')) keys.push(item.key);
  const envelopes: (Envelope & { key: string })[] = [];
  for (const key of keys) {
    const bytes = await store.get(key);
    // Removed between the listing and the read: debris a live drain swept, no longer in the archive.
    if (!bytes) continue;
    const text = gunzipSync(bytes).toString('utf8');
    for (const line of text.split('\n')) {
      if (line === '') continue;
      envelopes.push({ ...(JSON.parse(line) as Envelope), key });
    }
  }
  return { envelopes, keys };
}

/** Compares archive ids with the expected ids: what is missing and what is there twice. */
export function compareIds(
  archived: readonly { id: string; source?: string }[],
  expected: readonly string[],
): { missing: string[]; duplicated: string[]; unexpected: string[] } {
  const counts = new Map<string, number>();
  for (const e of archived) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
  const want = new Set(expected);
  return {
    missing: expected.filter((id) => !counts.has(id)),
    duplicated: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
    unexpected: [...counts.keys()].filter((id) => !want.has(id)),
  };
}
