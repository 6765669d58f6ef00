/**
 * The raw bound of one provider shape, in a process of its own: what parsing, enveloping and
 * gzip of the very records a drain archives cost when nothing else is in the way — no HTTP, no
 * storage, no checkpoint, no schema. The answers are built beforehand from the same generator and
 * seed as the simulators' data, shaped as the API sends them (DataWorks: 512 KiB segments cut on
 * a character; OOS: pages of `maxResults` entries), as bytes. Then, measured: each body decoded and
 * `JSON.parse`d, its records cut (DataWorks lines with their byte offsets), each record rendered as
 * an archive envelope with `JSON.stringify`, the page's lines encoded as UTF-8 into one buffer, and
 * that buffer streamed through gzip at the batch's level into a sink that counts bytes.
 *
 * It is written as a careful person would write a one-off script, with none of the product's
 * code: the distance between the two is what the product's own machinery costs. Careful, not
 * naive: a page's lines are encoded one by one into a buffer rather than joined into one string
 * first (`lines.join('\n')` of a page of two-byte strings, then its encoding by gzip, cost more
 * than all the rendering: about 40 % of this bound's CPU at 512 KiB segments), so the bound is
 * one the archiver cannot beat by encoding more carefully than the reference does. For the same
 * reason bodies are decoded with `TextDecoder` (twice as fast as `Buffer#toString` on text that is
 * not ASCII) and a segment is split before the carried partial line is joined to its first part
 * (splitting `partial + segment` makes V8 flatten the concatenation first: fifteen times the cost
 * of the split).
 *
 * Usage: node dist/bench/raw-case.js '<RawSpec as JSON>'   (prints one RawResult as JSON)
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { dataWorksLog, oosEntries, type DataWorksLogStats } from './data.js';

export type RawSpec = {
  source: string;
  provider: string;
  gzipLevel: number;
  /**
   * Passes over the same bodies; the first is reported, cold like a drain's (which runs once in a
   * fresh process), the others only show how much of it was the JIT warming up.
   */
  passes: number;
} & (
  | { shape: 'dataworks'; runId: number; bytes: number; seed: number; segmentBytes: number }
  | { shape: 'oos'; executions: { executionId: string; count: number; seed: number }[]; maxResults: number }
);

export interface RawResult {
  shape: string;
  records: number;
  /** Bytes of answers parsed. */
  bodyBytes: number;
  gzipBytes: number;
  /** Of the first pass: process CPU (user + system, the zlib thread included) and wall time. */
  cpuSec: number;
  wallSec: number;
  /** CPU seconds of the fastest later pass (warm JIT), when there was one. */
  warmCpuSec?: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as RawSpec;
const bodies = spec.shape === 'dataworks' ? dataWorksBodies(spec) : oosBodies(spec);
const first = await measure(bodies);
for (let pass = 1; pass < spec.passes; pass += 1) {
  const { cpuSec } = await measure(bodies);
  first.warmCpuSec = Math.min(first.warmCpuSec ?? cpuSec, cpuSec);
}
process.stdout.write(`${JSON.stringify(first)}\n`);

function dataWorksBodies(s: Extract<RawSpec, { shape: 'dataworks' }>): Buffer[] {
  const stats: DataWorksLogStats = { lines: 0, bytes: 0 };
  const log = Buffer.concat([...dataWorksLog(s.runId, s.bytes, s.seed, stats, 32_000_000)].map((chunk) => Buffer.from(chunk, 'utf8')));
  const out: Buffer[] = [];
  for (let offset = 0; offset < log.length; ) {
    let end = Math.min(log.length, offset + s.segmentBytes);
    while (end < log.length && (log[end]! & 0xc0) === 0x80) end -= 1;
    const next = end >= log.length ? -1 : end;
    const segment = log.subarray(offset, end).toString('utf8');
    out.push(Buffer.from(JSON.stringify({ RequestId: `raw-${out.length}`, LogSegment: { Log: segment, NextOffset: next } })));
    offset = end;
  }
  return out;
}

function oosBodies(s: Extract<RawSpec, { shape: 'oos' }>): Buffer[] {
  const out: Buffer[] = [];
  for (const execution of s.executions) {
    const { entries } = oosEntries(execution.executionId, execution.count, execution.seed);
    for (let i = 0; i < entries.length; i += s.maxResults) {
      const page = entries.slice(i, i + s.maxResults);
      const truncated = i + s.maxResults < entries.length;
      const body: Record<string, unknown> = {
        RequestId: `raw-${out.length}`,
        IsTruncated: truncated,
        MaxResults: s.maxResults,
        ExecutionLogs: page,
      };
      if (truncated) body.NextToken = `t${i + s.maxResults}`;
      out.push(Buffer.from(JSON.stringify(body)));
    }
  }
  return out;
}

async function measure(input: Buffer[]): Promise<RawResult> {
  const fetchedAt = new Date().toISOString();
  let records = 0;
  let bodyBytes = 0;
  let gzipBytes = 0;
  const gzip = createGzip({ level: spec.gzipLevel });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      gzipBytes += chunk.length;
      callback();
    },
  });
  const done = pipeline(gzip, sink);
  const before = process.cpuUsage();
  const started = performance.now();
  let runOffset = 0;
  let partial = '';
  const entriesSeen = new Map<string, number>();
  const utf8 = new TextDecoder();
  for (const body of input) {
    bodyBytes += body.length;
    const answer = JSON.parse(utf8.decode(body)) as {
      LogSegment?: { Log: string; NextOffset: number };
      ExecutionLogs?: { TaskExecutionId: string }[];
    };
    const lines: string[] = [];
    let chars = 0;
    if (spec.shape === 'dataworks') {
      const segment = answer.LogSegment!;
      const parts = segment.Log.split('\n');
      parts[0] = partial + parts[0];
      partial = parts.pop()!;
      if (segment.NextOffset === -1 && partial !== '') parts.push(partial);
      for (const line of parts) {
        const envelope = {
          source: spec.source,
          provider: spec.provider,
          id: `${spec.runId}:${runOffset}`,
          fetchedAt,
          context: { runId: spec.runId },
          record: { offset: runOffset, line },
        };
        const text = JSON.stringify(envelope);
        lines.push(text);
        chars += text.length;
        runOffset += Buffer.byteLength(line, 'utf8') + 1;
      }
    } else {
      for (const entry of answer.ExecutionLogs!) {
        const executionId = entry.TaskExecutionId.slice(0, entry.TaskExecutionId.indexOf('.'));
        const index = entriesSeen.get(executionId) ?? 0;
        entriesSeen.set(executionId, index + 1);
        const envelope = {
          source: spec.source,
          provider: spec.provider,
          id: `${executionId}:${index}`,
          fetchedAt,
          context: { executionId },
          record: entry,
        };
        const text = JSON.stringify(envelope);
        lines.push(text);
        chars += text.length;
      }
    }
    records += lines.length;
    if (lines.length === 0) continue;
    // A UTF-16 code unit is at most 3 bytes of UTF-8; the buffer is the page's own (gzip holds it until read).
    const page = Buffer.allocUnsafe(chars * 3 + lines.length);
    let used = 0;
    for (const text of lines) {
      used += page.write(text, used);
      page[used++] = 0x0a;
    }
    if (!gzip.write(page.subarray(0, used))) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await done;
  const wallSec = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(before);
  return { shape: spec.shape, records, bodyBytes, gzipBytes, cpuSec: (cpu.user + cpu.system) / 1e6, wallSec };
}
