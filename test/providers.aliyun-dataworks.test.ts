import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProviderAuthError, ProviderValidationError } from '../src/errors/index.js';
import { createLogger } from '../src/observability/index.js';
import { aliyunDataWorksDqScanLog as provider, type DataWorksDqScanLogCheckpoint } from '../src/providers/aliyun-dataworks-dq-scan-log.js';
import { DataWorksSimulator } from '../simulators/index.js';
import { harnessContext, harnessSource, readAllPages, recordsOf } from './helpers/provider-harness.js';
import type { ProviderContext, ProviderPage } from '../src/providers/provider.js';

const FAULTS = ['throttle', 'server', 'reset', 'truncated', 'malformed', 'html', 'proto'] as const;

let sim: DataWorksSimulator;
let context: ProviderContext & { close(): Promise<void> };

beforeEach(async () => {
  sim = new DataWorksSimulator({ segmentBytes: 7 });
  await sim.start();
  context = harnessContext();
});
afterEach(async () => {
  await sim.stop();
  await context.close();
});

function sourceFor(runIds: number[]) {
  return harnessSource(provider, sim.url, sim.credentials, { runIds });
}

describe('aliyun-dataworks-dq-scan-log', () => {
  it('drains tiny segments with multibyte text, long lines and no trailing newline; grows; resumes from every page', async () => {
    const longLine = `long:${'数据质量😀'.repeat(9)}:end`; // far longer than several 7-byte segments
    sim.addRun(
      10001,
      `Running on Serverless_resource_group_xxxxx\nBegin to check rule ***\n中文日志行\n😀 emoji line\n${longLine}\n\nwindows\r\nline\r\n`,
    );
    sim.addRun(10002, 'first 数据\nunterminated tail 😀');
    sim.addRun(10003, '');
    const source = sourceFor([10001, 10002, 10003]);
    sim.faults.setRandom(0.3, FAULTS);
    // One certain fault, so the assertion on injected faults cannot depend on the dice.
    sim.faults.enqueue('server', 1);

    const first = await readAllPages(provider, source, provider.initialCheckpoint(source.params, Date.now()), context);
    expect(byRun(recordsOf(first))).toEqual(sim.expectedRecords());
    expect(sim.faults.injected).toBeGreaterThan(0);
    const long = recordsOf(first).find((r) => (r.record as { line: string }).line === longLine);
    expect(long).toBeDefined();
    // Offsets are UTF-8 bytes: the record's offset is the byte length of everything before it.
    const log10001 = Buffer.from(`Running on Serverless_resource_group_xxxxx\nBegin to check rule ***\n中文日志行\n😀 emoji line\n`);
    expect((long!.record as { offset: number }).offset).toBe(log10001.length);
    expect(recordsOf(first).some((r) => (r.record as { line: string }).line === 'windows\r')).toBe(true);
    // Resuming from any page's checkpoint gives exactly the remainder (the log has not changed since).
    await expectResumeFromEveryPage(first, source);
    sim.faults.setRandom(0.3, FAULTS);
    const afterFirst = first.at(-1)!.checkpoint;
    expect(Object.keys(afterFirst.tails ?? {}).sort()).toEqual(['10001', '10002']);
    expect(afterFirst.offsets).toEqual({
      '10001': Buffer.byteLength(
        `Running on Serverless_resource_group_xxxxx\nBegin to check rule ***\n中文日志行\n😀 emoji line\n${longLine}\n\nwindows\r\nline\r\n`,
      ),
      '10002': Buffer.byteLength('first 数据\nunterminated tail 😀'),
      '10003': 0,
    });

    // Grow: new lines, a continuation after the unterminated tail, and a first line for the empty run.
    sim.appendLog(10001, 'appended 1\nappended 2 🚀\npartial');
    sim.appendLog(10002, ' continued\nnext\n');
    sim.appendLog(10003, 'now it has content 内容\n');
    const second = await readAllPages(provider, source, afterFirst, context);
    const all = byRun([...recordsOf(first), ...recordsOf(second)]);
    expect(all).toEqual(sim.expectedRecords());
    expect(new Set(all.map((r) => r.id)).size).toBe(all.length);

    // A poll with nothing new yields nothing and moves nothing.
    const idle = await readAllPages(provider, source, second.at(-1)!.checkpoint, context);
    expect(idle).toEqual([]);

    // Resuming from any page's checkpoint of the second drain gives exactly the remainder.
    await expectResumeFromEveryPage(second, source);
  });

  it('keeps a page to one segment plus a partial line', async () => {
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i} ${'é'.repeat(i % 7)}`);
    sim.addRun(1, `${lines.join('\n')}\n`);
    sim.setSegmentBytes(64);
    const source = sourceFor([1]);
    const pages = await readAllPages(provider, source, provider.initialCheckpoint(source.params, 0), context);
    expect(recordsOf(pages)).toEqual(sim.expectedRecords());
    expect(pages.length).toBeGreaterThan(30);
    for (const page of pages) {
      const lineBytes = page.records.reduce((sum, r) => sum + Buffer.byteLength((r.record as { line: string }).line) + 1, 0);
      expect(lineBytes).toBeLessThanOrEqual(64 * 2);
    }
  });

  it('a server cutting segments mid-character: every line once, at its byte offset', async () => {
    for (const segmentBytes of [4, 5, 7, 11]) {
      const cutter = new DataWorksSimulator({ segmentBytes, cutMidCharacter: true });
      await cutter.start();
      try {
        // CJK (3 bytes), emoji (4), accents (2), and U+FFFD really in the log, alone and in a run.
        const text = [
          '数据质量检查开始',
          '😀😀 emoji 🚀 rocket',
          'café naïve',
          'bad bytes: \uFFFD here',
          '\uFFFD\uFFFD\uFFFD中',
          '',
          '結束 ✓',
          'tail without newline 数据😀',
        ].join('\n');
        cutter.addRun(9, text);
        const source = harnessSource(provider, cutter.url, cutter.credentials, { runIds: [9] });
        const pages = await readAllPages(provider, source, { offsets: {} }, context);
        const records = recordsOf(pages);
        expect(records).toEqual(cutter.expectedRecords());
        expect(records.map((r) => (r.record as { line: string }).line)).toEqual(text.split('\n'));
        expect(pages.at(-1)!.checkpoint.offsets).toEqual({ '9': Buffer.byteLength(text) });
        expect(cutter.cutCharacters).toBeGreaterThan(0);
        for (let i = 0; i < pages.length; i += 1) {
          const rest = await readAllPages(provider, source, pages[i]!.checkpoint, context);
          expect(recordsOf(rest)).toEqual(recordsOf(pages.slice(i + 1)));
        }
        // Growing after the unterminated tail, still cut anywhere.
        cutter.appendLog(9, ' 続き😀\n新しい行\n');
        const more = await readAllPages(provider, source, pages.at(-1)!.checkpoint, context);
        expect([...records, ...recordsOf(more)]).toEqual(cutter.expectedRecords());
      } finally {
        await cutter.stop();
      }
    }
  });

  it('reads 512 KiB segments of a multi-megabyte log with the default segment size', async () => {
    const big = new DataWorksSimulator();
    await big.start();
    try {
      const text = Array.from({ length: 40_000 }, (_, i) => `${i} 检查规则 rule-${i} ✓ ${'x'.repeat(i % 50)}`).join('\n');
      big.addRun(7, text);
      const source = harnessSource(provider, big.url, big.credentials, { runIds: [7] });
      const pages = await readAllPages(provider, source, { offsets: {} }, context);
      const records = recordsOf(pages);
      expect(records).toEqual(big.expectedRecords());
      expect(records).toHaveLength(40_000);
      expect(big.callTimes.length).toBe(Math.ceil(Buffer.byteLength(text) / (512 * 1024)));
      expect(pages.at(-1)!.checkpoint.offsets).toEqual({ '7': Buffer.byteLength(text) });
    } finally {
      await big.stop();
    }
  });

  it('an unknown run is a validation error, not retried', async () => {
    const source = sourceFor([424242]);
    await expect(readAllPages(provider, source, { offsets: {} }, context)).rejects.toBeInstanceOf(ProviderValidationError);
    expect(sim.callTimes.length).toBe(1);
  });

  it('a run that no longer exists is skipped: the others are read, then the drain fails naming it', async () => {
    sim.addRun(1, 'one a\none b\n');
    sim.addRun(3, 'three a\n');
    const warnings: { msg: string; runId?: number }[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void warnings.push(JSON.parse(line)) } });
    const ctx = harnessContext({ logger });
    const source = sourceFor([1, 424242, 3]);
    const { pages, error } = await pagesUntilError(source, { offsets: {} }, ctx);
    await ctx.close();
    expect(byRun(recordsOf(pages))).toEqual(sim.expectedRecords());
    expect(pages.at(-1)!.checkpoint.offsets).toEqual({ '1': 12, '3': 8 });
    expect(error).toBeInstanceOf(ProviderValidationError);
    expect((error as ProviderValidationError).retryable).toBe(false);
    expect((error as Error).message).toContain('424242');
    expect((error as Error).message).toContain('EntityNotExists.DataQualityScanRun');
    expect((error as ProviderValidationError).hint).toContain('params.runIds');
    expect(warnings.some((w) => w.runId === 424242)).toBe(true);
    // The next poll gets as far: the good runs keep progressing.
    sim.appendLog(3, 'three b\n');
    const again = await pagesUntilError(source, pages.at(-1)!.checkpoint, context);
    expect(recordsOf(again.pages).map((r) => r.id)).toEqual(['3:8']);
    expect(again.error).toBeInstanceOf(ProviderValidationError);
  });

  it('a line longer than maxLineBytes stops its run with an error naming run and offset; the others are read', async () => {
    const before = 'short 1\n短い 2\n';
    sim.addRun(1, `${before}${'長'.repeat(40)}\nafter\n`); // a 120-byte line
    sim.addRun(2, `fits ${'x'.repeat(45)}\nunterminated ${'y'.repeat(37)}`); // 50-byte lines: exactly the cap
    const source = harnessSource(provider, sim.url, sim.credentials, { runIds: [1, 2], maxLineBytes: 50 });
    const { pages, error } = await pagesUntilError(source, { offsets: {} }, context);
    const expected = sim.expectedRecords();
    expect(byRun(recordsOf(pages))).toEqual(expected.filter((r) => r.context.runId === 2 || r.record.offset < Buffer.byteLength(before)));
    expect(pages.at(-1)!.checkpoint.offsets['1']).toBe(Buffer.byteLength(before));
    expect(error).toBeInstanceOf(ProviderValidationError);
    expect((error as ProviderValidationError).retryable).toBe(false);
    expect((error as Error).message).toMatch(
      new RegExp(`run 1 has a line at byte ${Buffer.byteLength(before)} longer than maxLineBytes \\(50 bytes`),
    );
    expect((error as ProviderValidationError).hint).toContain('params.maxLineBytes');
    // Raised, the line goes through.
    const raised = harnessSource(provider, sim.url, sim.credentials, { runIds: [1, 2], maxLineBytes: 200 });
    const rest = await readAllPages(provider, raised, pages.at(-1)!.checkpoint, context);
    const all = byRun([...recordsOf(pages), ...recordsOf(rest)]);
    expect(all).toEqual(expected);
  });

  it('rejected credentials still fail at once, before any other run is read', async () => {
    sim.addRun(1, 'one\n');
    sim.addRun(2, 'two\n');
    const source = harnessSource(provider, sim.url, { ...sim.credentials, accessKeySecret: 'not-the-secret' }, { runIds: [1, 2] });
    const { pages, error } = await pagesUntilError(source, { offsets: {} }, context);
    expect(error).toBeInstanceOf(ProviderAuthError);
    expect(pages).toEqual([]);
    expect(sim.callTimes.length).toBe(1);
  });

  it('validates params by path and summarizes a checkpoint', () => {
    const bad = provider.paramsSchema.safeParse({ runIds: ['x'] });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.path).toEqual(['runIds', 0]);
    expect(provider.paramsSchema.safeParse({ runIds: [] }).success).toBe(false);
    expect(provider.paramsSchema.parse({ runIds: [1] }).maxLineBytes).toBe(64 * 1024 * 1024);
    expect(provider.paramsSchema.safeParse({ runIds: [1], maxLineBytes: 0 }).success).toBe(false);
    expect(provider.defaultEndpoint(provider.paramsSchema.parse({ runIds: [1], regionId: 'cn-shanghai' }))).toBe(
      'https://dataworks.cn-shanghai.aliyuncs.com',
    );
    const checkpoint: DataWorksDqScanLogCheckpoint = { offsets: { '10001': 512, '10002': 0 } };
    expect(provider.summarize!(checkpoint).text).toContain('2 run(s)');
  });
});

/** For each page, a drain from its checkpoint yields exactly the records of the pages after it. */
async function expectResumeFromEveryPage(
  pages: ProviderPage<DataWorksDqScanLogCheckpoint>[],
  source: ReturnType<typeof sourceFor>,
): Promise<void> {
  sim.faults.clear();
  for (let i = 0; i < pages.length; i += 1) {
    const rest = await readAllPages(provider, source, pages[i]!.checkpoint, context);
    expect(byRun(recordsOf(rest))).toEqual(byRun(recordsOf(pages.slice(i + 1))));
  }
}

/** Pages a drain yields before it throws, and what it threw (undefined when it did not). */
async function pagesUntilError(
  source: ReturnType<typeof sourceFor>,
  from: DataWorksDqScanLogCheckpoint,
  ctx: ProviderContext,
): Promise<{ pages: ProviderPage<DataWorksDqScanLogCheckpoint>[]; error: unknown }> {
  const pages: ProviderPage<DataWorksDqScanLogCheckpoint>[] = [];
  try {
    for await (const page of provider.pages(source, from, ctx)) pages.push(page);
  } catch (error) {
    return { pages, error };
  }
  return { pages, error: undefined };
}

/**
 * Records grouped run by run (ascending run id), each run's in the order read: runs are read
 * concurrently, so only the order within a run is the provider's contract.
 */
function byRun<T extends { context: Record<string, unknown> }>(records: T[]): T[] {
  return records
    .map((r, i) => ({ r, i }))
    .sort((a, b) => Number(a.r.context.runId) - Number(b.r.context.runId) || a.i - b.i)
    .map(({ r }) => r);
}
