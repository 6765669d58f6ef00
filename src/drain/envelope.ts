import type { ProviderRecord } from '../providers/index.js';

/**
 * Renders envelopes as NDJSON lines in the archive's field order:
 * `{"source","provider","id","fetchedAt","context","record"}`. The constant head is serialised
 * once per page rather than per record: this is the hot path of a drain.
 */
export function renderEnvelopes(source: string, provider: string, fetchedAt: string, records: readonly ProviderRecord[]): string {
  const head = `{"source":${JSON.stringify(source)},"provider":${JSON.stringify(provider)},"id":`;
  const at = `,"fetchedAt":${JSON.stringify(fetchedAt)},"context":`;
  let out = '';
  for (const item of records) {
    out += `${head}${JSON.stringify(item.id)}${at}${JSON.stringify(item.context)},"record":${JSON.stringify(item.record)}}\n`;
  }
  return out;
}
