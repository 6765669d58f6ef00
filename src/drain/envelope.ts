import type { ProviderRecord } from '../providers/index.js';

/** Bytes a UTF-16 code unit can take in UTF-8, at most (a surrogate pair: 4 for 2). */
const MAX_UTF8_PER_UNIT = 3;
/** Large enough to own its memory: `allocUnsafe` hands out slices of a shared pool only below 4 KiB. */
const FIRST_BUFFER_BYTES = 64 * 1024;
/** Pages in flight between rendering and gzip seldom exceed two or three. */
const MAX_FREE_BUFFERS = 4;

/**
 * Render buffers reused across one drain's pages: a page's buffer is given back once gzip has
 * consumed it. Without reuse a drain allocates a few megabytes of fresh buffers per page, garbage
 * that V8 collects only when its external memory has grown by tens of megabytes — most of a
 * drain's peak RSS.
 */
export class RenderBuffers {
  readonly #free: Buffer[] = [];

  /** A free buffer (the largest given back), or a new one. */
  take(): Buffer | undefined {
    return this.#free.pop();
  }

  /** Gives back the buffer `lines` was rendered into; only once nothing reads `lines` any more. */
  give(lines: Buffer): void {
    if (lines.byteOffset !== 0 || lines.buffer.byteLength < FIRST_BUFFER_BYTES || this.#free.length >= MAX_FREE_BUFFERS) return;
    this.#free.push(Buffer.from(lines.buffer, 0, lines.buffer.byteLength));
    this.#free.sort((a, b) => a.length - b.length);
  }
}

/**
 * Renders envelopes as NDJSON lines in the archive's field order:
 * `{"source","provider","id","fetchedAt","context","record"}`, encoded as UTF-8 straight into one
 * buffer, whose length is the page's byte count. This is the hot path of a drain: a page's lines
 * concatenated as one string first would be a rope that V8 must flatten (copy) before measuring
 * or encoding it, which cost more than rendering; the constant head is serialised once per page.
 */
export function renderEnvelopes(
  source: string,
  provider: string,
  fetchedAt: string,
  records: readonly ProviderRecord[],
  buffers?: RenderBuffers,
): Buffer {
  const head = `{"source":${JSON.stringify(source)},"provider":${JSON.stringify(provider)},"id":`;
  const at = `,"fetchedAt":${JSON.stringify(fetchedAt)},"context":`;
  let out = buffers?.take() ?? Buffer.allocUnsafe(FIRST_BUFFER_BYTES);
  let used = 0;
  // Records of one stream usually share their context object: serialised once per run of them.
  let context: unknown;
  let contextJson = '';
  // Each part is written on its own: a line joined first would be copied whole (flattened) before
  // encoding, which doubled what a page allocates and so the scavenges that promote its records.
  for (const item of records) {
    if (item.context !== context) {
      context = item.context;
      contextJson = `${at}${JSON.stringify(context)},"record":`;
    }
    const id = JSON.stringify(item.id);
    const record = JSON.stringify(item.record);
    const room = (head.length + id.length + contextJson.length + record.length + 2) * MAX_UTF8_PER_UNIT;
    if (out.length - used < room) {
      const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, used + room));
      out.copy(bigger, 0, 0, used);
      out = bigger;
    }
    used += out.write(head, used);
    used += out.write(id, used);
    used += out.write(contextJson, used);
    used += out.write(record, used);
    out[used++] = 0x7d; // }
    out[used++] = 0x0a; // \n
  }
  return out.subarray(0, used);
}
