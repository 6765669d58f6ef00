import type { ProviderRecord } from '../providers/index.js';

/** Bytes a UTF-16 code unit can take in UTF-8, at most (a surrogate pair: 4 for 2). */
const MAX_UTF8_PER_UNIT = 3;

/**
 * Renders envelopes as NDJSON lines in the archive's field order:
 * `{"source","provider","id","fetchedAt","context","record"}`, encoded as UTF-8 straight into one
 * buffer, whose length is the page's byte count. This is the hot path of a drain: a page's lines
 * concatenated as one string first would be a rope that V8 must flatten (copy) before measuring
 * or encoding it, which cost more than rendering; the constant head is serialised once per page.
 */
export function renderEnvelopes(source: string, provider: string, fetchedAt: string, records: readonly ProviderRecord[]): Buffer {
  const head = `{"source":${JSON.stringify(source)},"provider":${JSON.stringify(provider)},"id":`;
  const at = `,"fetchedAt":${JSON.stringify(fetchedAt)},"context":`;
  let out = Buffer.allocUnsafe(64 * 1024);
  let used = 0;
  for (const item of records) {
    const line = `${head}${JSON.stringify(item.id)}${at}${JSON.stringify(item.context)},"record":${JSON.stringify(item.record)}}\n`;
    const room = line.length * MAX_UTF8_PER_UNIT;
    if (out.length - used < room) {
      const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, used + room));
      out.copy(bigger, 0, 0, used);
      out = bigger;
    }
    used += out.write(line, used);
  }
  return out.subarray(0, used);
}
