import { describe, expect, it } from 'vitest';
import { RenderBuffers, renderEnvelopes } from '../src/drain/index.js';

describe('envelope rendering', () => {
  it('renders one NDJSON line per record, in the archive field order, as UTF-8', () => {
    const records = [
      { id: '7:0', context: { runId: 7 }, record: { offset: 0, line: 'plain' } },
      { id: '7:6', context: { runId: 7 }, record: { offset: 6, line: '数据 "quoted" \t🚀 \u2028' } },
    ];
    const bytes = renderEnvelopes('src-1', 'prov', '2026-01-01T00:00:00.000Z', records);
    const lines = bytes.toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l))).toEqual(
      records.map((r) => ({
        source: 'src-1',
        provider: 'prov',
        id: r.id,
        fetchedAt: '2026-01-01T00:00:00.000Z',
        context: r.context,
        record: r.record,
      })),
    );
    expect(Object.keys(JSON.parse(lines[1]!))).toEqual(['source', 'provider', 'id', 'fetchedAt', 'context', 'record']);
    expect(bytes.length).toBe(Buffer.byteLength(bytes.toString('utf8')));
  });

  it('grows past its first buffer without losing or re-ordering bytes (multi-byte text, pages of megabytes)', () => {
    const records = Array.from({ length: 1500 }, (_, i) => ({
      id: `r:${i}`,
      context: { executionId: 'exec-1' },
      record: { Message: `${'日志✓🚀'.repeat(i % 97)}${'x'.repeat(i % 13)}`, n: i },
    }));
    const bytes = renderEnvelopes('s', 'p', 'now', records);
    const expected = records
      .map((r) => `${JSON.stringify({ source: 's', provider: 'p', id: r.id, fetchedAt: 'now', context: r.context, record: r.record })}\n`)
      .join('');
    expect(bytes.length).toBeGreaterThan(64 * 1024);
    expect(bytes.equals(Buffer.from(expected, 'utf8'))).toBe(true);
  });

  it('renders each record with its own context, whether records share one context object or not', () => {
    const shared = { runId: 7 };
    const other = { runId: 8, generation: 2 };
    const records = [
      { id: '7:0', context: shared, record: { offset: 0, line: 'a' } },
      { id: '7:2', context: shared, record: { offset: 2, line: 'b' } },
      { id: '8#2:0', context: other, record: { offset: 0, line: 'c' } },
      { id: '7:4', context: shared, record: { offset: 4, line: 'd' } },
      { id: '7:6', context: { runId: 7 }, record: { offset: 6, line: 'e' } },
    ];
    const lines = renderEnvelopes('s', 'p', 'now', records).toString('utf8').trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { context: unknown }).context)).toEqual(records.map((r) => r.context));
  });

  it('renders nothing for no records', () => {
    expect(renderEnvelopes('s', 'p', 'now', []).length).toBe(0);
  });

  it('reuses a buffer given back (no fresh allocation per page) and renders into it exactly what a fresh one holds', () => {
    const page = (n: number, text: string) =>
      Array.from({ length: n }, (_, i) => ({ id: `r:${i}`, context: { runId: 1 }, record: { line: `${text} ${i} ✓` } }));
    const buffers = new RenderBuffers();
    const big = renderEnvelopes('s', 'p', 'now', page(3000, 'a much longer line of the first page'), buffers);
    expect(buffers.take()).toBeUndefined();
    buffers.give(big);
    const small = renderEnvelopes('s', 'p', 'now', page(10, 'short'), buffers);
    // The same memory, overwritten from the start: only what this page rendered is in the view.
    expect(small.buffer).toBe(big.buffer);
    expect(small.equals(renderEnvelopes('s', 'p', 'now', page(10, 'short')))).toBe(true);
    // A buffer still being read is never handed out: nothing was given back since.
    expect(buffers.take()).toBeUndefined();
  });
});
