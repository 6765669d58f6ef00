import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { verifyArchive } from '../src/archive/index.js';
import { parseConfig, type SourceConfig } from '../src/config/index.js';
import { DrainFailedError, drainSource } from '../src/drain/index.js';
import { ProviderServerError } from '../src/errors/index.js';
import { silentLogger } from '../src/observability/index.js';
import { aliyunCloud } from '../src/providers/aliyun/index.js';
import type { Provider, ProviderRecord } from '../src/providers/index.js';
import { openRuntime, type Runtime } from '../src/runtime.js';
import { readArchive } from './helpers/read-archive.js';
import { makeTempDir } from './helpers/temp-dir.js';

/**
 * The drain's batching and checkpoint logic against a fake provider that yields a scripted list
 * of pages: real file storage, file checkpoints and file leases, no provider API at all.
 */

/**
 * One scripted step: a page of `records` new records (ids continue from the last), the cursor
 * after it, answered after `delayMs` (a slow provider; the drain's stop ends the wait); or an error.
 */
type Step = { records: number; cursor: number; delayMs?: number } | { fail: string };

const checkpointSchema = z.object({ cursor: z.number().int() }).strict();
type Cursor = z.infer<typeof checkpointSchema>;

/** A provider that plays `script` from the step after the cursor it resumes from (cursor = steps done). */
function fakeProvider(script: () => readonly Step[]): Provider<unknown, Cursor, unknown> {
  return {
    id: 'test-fake',
    cloud: aliyunCloud,
    paramsSchema: z.unknown(),
    checkpointSchema,
    defaultEndpoint: () => undefined,
    initialCheckpoint: () => ({ cursor: 0 }),
    async *pages(_source, from, context) {
      const steps = script();
      let next = idsBefore(steps, from.cursor);
      for (const step of steps.slice(from.cursor)) {
        if ('fail' in step) throw new ProviderServerError(step.fail);
        if (step.delayMs) await sleep(step.delayMs, undefined, { signal: context.signal });
        const records: ProviderRecord[] = Array.from({ length: step.records }, () => {
          next += 1;
          return { id: `r${next}`, context: { fake: true }, record: { n: next } };
        });
        yield { records, checkpoint: { cursor: step.cursor } };
      }
    },
  };
}

/** How many record ids the first `cursor` steps used. */
function idsBefore(steps: readonly Step[], cursor: number): number {
  return steps.slice(0, cursor).reduce((n, s) => n + ('records' in s ? s.records : 0), 0);
}

/** Steps numbered in order: each step's cursor is its position, so resuming skips exactly the steps done. */
function steps(...pages: (number | { fail: string })[]): Step[] {
  return pages.map((p, i) => (typeof p === 'number' ? { records: p, cursor: i + 1 } : p));
}

const SOURCE: SourceConfig = {
  id: 'fake-source',
  provider: 'test-fake',
  schedule: { every: 60_000 },
  endpoint: 'http://127.0.0.1:9',
  credentials: {},
  params: {},
  timeoutMs: 1_000,
  enabled: true,
};

let dir: string;
let runtime: Runtime;
let script: Step[];

beforeEach(async () => {
  dir = makeTempDir('drain-batches');
  script = [];
  // One real source makes the config valid; the drains below read only the fake one.
  const config = parseConfig(
    `
storage: { kind: file, path: ${join(dir, 'archive')} }
checkpoints: { kind: file, path: ${join(dir, 'state')} }
batch: { maxRecords: 5, maxBytes: 1048576, gzipLevel: 1 }
sources:
  - id: unused
    provider: aliyun-oos-execution-logs
    endpoint: http://127.0.0.1:9
    credentials: { accessKeyId: a, accessKeySecret: b }
    params: { regionId: cn-hangzhou, executionIds: [e] }
`,
    {},
  );
  runtime = await openRuntime(config, { logger: silentLogger(), needRedis: false });
  runtime.deps.providers = new Map([['test-fake', fakeProvider(() => script) as Provider<unknown, unknown, unknown>]]);
});

afterEach(async () => {
  await runtime.close();
});

/** Record counts of the objects written, in key order, and the cursor each one's manifest ends at. */
async function objects(): Promise<{ records: number[]; ids: string[] }> {
  const { envelopes, keys } = await readArchive(runtime.store);
  const sorted = [...keys].sort();
  return {
    records: sorted.map((key) => envelopes.filter((e) => e.key === key).length),
    ids: envelopes.map((e) => e.id).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))),
  };
}

async function savedState(): Promise<{ checkpoint: unknown; updatedAt: string } | undefined> {
  const state = await runtime.deps.checkpoints.load(SOURCE.id);
  return state ? { checkpoint: state.checkpoint, updatedAt: state.updatedAt } : undefined;
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => `r${from + i}`);
}

describe('drainSource with a fake provider', () => {
  it('never splits a page: a page that would overflow the batch commits the batch first', async () => {
    script = steps(2, 2, 2, 2, 3);
    const result = await drainSource(runtime.deps, SOURCE);
    // maxRecords 5: 2+2 (a third 2 would make 6), 2+2, 3.
    expect((await objects()).records).toEqual([4, 4, 3]);
    expect(result).toMatchObject({ records: 11, objects: 3, pages: 5 });
    expect((await savedState())?.checkpoint).toEqual({ cursor: 5 });
    expect((await verifyArchive(runtime.store, { sources: [SOURCE.id] })).ok).toBe(true);
  });

  it('commits as soon as a batch is full, and a page larger than a batch becomes one object of its own', async () => {
    script = steps(5, 1, 7, 1);
    await drainSource(runtime.deps, SOURCE);
    expect((await objects()).records).toEqual([5, 1, 7, 1]);
    expect((await objects()).ids).toEqual(range(1, 14));
  });

  it('empty pages move the checkpoint without writing an object; a drain with nothing new saves nothing', async () => {
    script = steps(0, 0, 0);
    const first = await drainSource(runtime.deps, SOURCE);
    expect(first).toMatchObject({ records: 0, objects: 0 });
    expect((await objects()).records).toEqual([]);
    const saved = await savedState();
    expect(saved?.checkpoint).toEqual({ cursor: 3 });

    // Nothing left to read: the stored state is not rewritten.
    await drainSource(runtime.deps, SOURCE);
    expect(await savedState()).toEqual(saved);

    // Records after empty pages: one object, starting from where the empty pages left the cursor.
    script = steps(0, 0, 0, 0, 2, 0);
    await drainSource(runtime.deps, SOURCE);
    expect((await objects()).records).toEqual([2]);
    expect((await savedState())?.checkpoint).toEqual({ cursor: 6 });
  });

  it('an error mid-batch commits the pages read before it, fails the drain, and the next drain resumes after them', async () => {
    script = steps(2, 2, { fail: 'provider down' }, 3);
    const error = await drainSource(runtime.deps, SOURCE).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DrainFailedError);
    expect((error as DrainFailedError).progress).toMatchObject({ records: 4, objects: 1 });
    expect((error as DrainFailedError).retryable).toBe(true);
    expect((await objects()).records).toEqual([4]);
    expect((await savedState())?.checkpoint).toEqual({ cursor: 2 });

    // The provider recovers: the drain starts after the committed pages; nothing is repeated.
    script = steps(2, 2, 0, 3);
    await drainSource(runtime.deps, SOURCE);
    expect((await objects()).ids).toEqual(range(1, 7));
    expect((await savedState())?.checkpoint).toEqual({ cursor: 4 });
    expect((await verifyArchive(runtime.store, { sources: [SOURCE.id] })).ok).toBe(true);
  });

  it('asks for the next page before it spools and commits the page in hand, so that the fetch overlaps them', async () => {
    const events: string[] = [];
    const scripted = fakeProvider(() => steps(5, 5, 5));
    const logged: Provider<unknown, Cursor, unknown> = {
      ...scripted,
      async *pages(source, from, context) {
        const pages = scripted.pages(source, from, context)[Symbol.asyncIterator]();
        for (let n = 1; ; n += 1) {
          events.push(`fetch ${n}`);
          const page = await pages.next();
          if (page.done) return;
          yield page.value;
        }
      },
    };
    runtime.deps.providers = new Map([['test-fake', logged as Provider<unknown, unknown, unknown>]]);
    const result = await drainSource(runtime.deps, SOURCE, {
      onProgress: (p) => events.push(`done ${p.pages} (${p.committed} committed)`),
    });
    // Each page (a full batch) is committed while the next one is being fetched.
    expect(events).toEqual([
      'fetch 1',
      'fetch 2',
      'done 1 (5 committed)',
      'fetch 3',
      'done 2 (10 committed)',
      'fetch 4',
      'done 3 (15 committed)',
    ]);
    expect(result).toMatchObject({ records: 15, objects: 3, pages: 3 });
    expect((await objects()).ids).toEqual(range(1, 15));
  });

  it('keeps each manifest’s checkpoints before and after its object', async () => {
    script = steps(3, 3);
    await drainSource(runtime.deps, SOURCE);
    const manifests: { key: string; checkpointBefore: unknown; checkpointAfter: unknown }[] = [];
    for await (const item of runtime.store.list('_manifests/')) {
      if (item.key.endsWith('.json'))
        manifests.push({ key: item.key, ...JSON.parse((await runtime.store.get(item.key))!.toString('utf8')) });
    }
    // Keys order by sequence number.
    const chain = manifests.sort((a, b) => (a.key < b.key ? -1 : 1));
    expect(chain.map((m) => [m.checkpointBefore, m.checkpointAfter])).toEqual([
      [{ cursor: 0 }, { cursor: 1 }],
      [{ cursor: 1 }, { cursor: 2 }],
    ]);
  });

  it('yields at maxDrainMs with what it read committed, and the next drains resume from the checkpoint until caught up', async () => {
    script = steps(2, 2, 2, 3);
    const drains: { records: number; caughtUp: boolean }[] = [];
    // maxDrainMs 0: every drain reads one page (never none), commits it and yields.
    for (let i = 0; i < 6; i += 1) {
      const { records, caughtUp } = await drainSource(runtime.deps, SOURCE, { maxDrainMs: 0 });
      drains.push({ records, caughtUp });
      if (caughtUp) break;
    }
    expect(drains).toEqual([
      { records: 2, caughtUp: false },
      { records: 2, caughtUp: false },
      { records: 2, caughtUp: false },
      { records: 3, caughtUp: false },
      { records: 0, caughtUp: true },
    ]);
    expect((await objects()).ids).toEqual(range(1, 9));
    expect((await savedState())?.checkpoint).toEqual({ cursor: 4 });
  });

  describe('batch.maxSeconds', () => {
    /** Pages of one record each, `delayMs` apart. */
    const slow = (count: number, delayMs: number): Step[] =>
      Array.from({ length: count }, (_, i) => ({ records: 1, cursor: i + 1, delayMs }));

    it('commits what a drain has read once it is maxSeconds old, though no batch is full', async () => {
      runtime.deps.batch = { ...runtime.deps.batch, maxRecords: 1000, maxSeconds: 0.3 };
      script = slow(8, 100);
      const result = await drainSource(runtime.deps, SOURCE);
      const { records, ids } = await objects();
      // 8 pages over about 0.8 s: committed about every 0.3 s, never all in one object.
      expect(records.length).toBeGreaterThanOrEqual(2);
      expect(records.reduce((a, b) => a + b, 0)).toBe(8);
      expect(ids).toEqual(range(1, 8));
      expect(result).toMatchObject({ records: 8 });
      expect((await verifyArchive(runtime.store, { sources: [SOURCE.id] })).ok).toBe(true);
    });

    /** Two pages at once, then a page that takes a minute; the drain is abandoned after `abortAfterMs`. */
    async function interrupted(maxSeconds: number, abortAfterMs: number): Promise<void> {
      runtime.deps.batch = { ...runtime.deps.batch, maxRecords: 1000, maxSeconds };
      script = [
        { records: 2, cursor: 1 },
        { records: 2, cursor: 2 },
        { records: 2, cursor: 3, delayMs: 60_000 },
      ];
      const abort = AbortSignal.timeout(abortAfterMs);
      await expect(drainSource(runtime.deps, SOURCE, { stop: abort, abort })).rejects.toBeInstanceOf(DrainFailedError);
    }

    it('a drain interrupted after maxSeconds, waiting on a slow page, keeps what it read; the next one resumes after it', async () => {
      await interrupted(0.2, 800);
      expect((await objects()).records).toEqual([4]);
      expect((await savedState())?.checkpoint).toEqual({ cursor: 2 });

      script = steps(2, 2, 2, 1);
      await drainSource(runtime.deps, SOURCE);
      expect((await objects()).ids).toEqual(range(1, 7));
      expect((await verifyArchive(runtime.store, { sources: [SOURCE.id] })).ok).toBe(true);
    });

    it('commits the checkpoint a page came with, though the provider moves on in that object while its next page is read', async () => {
      runtime.deps.batch = { ...runtime.deps.batch, maxRecords: 1000, maxSeconds: 0.2 };
      const mover: Provider<unknown, Cursor, unknown> = {
        ...fakeProvider(() => []),
        id: 'test-mover',
        async *pages(_source, _from, context) {
          const cursor = { cursor: 1 };
          yield { records: [{ id: 'r1', context: {}, record: { n: 1 } }], checkpoint: cursor };
          // Reading on, in the very object handed out with the first page (as a reader's cursor map would).
          cursor.cursor = 2;
          await sleep(60_000, undefined, { signal: context.signal });
          yield { records: [{ id: 'r2', context: {}, record: { n: 2 } }], checkpoint: cursor };
        },
      };
      runtime.deps.providers = new Map([...runtime.deps.providers!, ['test-mover', mover as Provider<unknown, unknown, unknown>]]);
      const source = { ...SOURCE, id: 'mover', provider: 'test-mover' };
      const abort = AbortSignal.timeout(800);
      await expect(drainSource(runtime.deps, source, { stop: abort, abort })).rejects.toBeInstanceOf(DrainFailedError);
      // Committed by maxSeconds while the second page was awaited: r1 with cursor 1, not the 2 it moved to.
      expect((await runtime.deps.checkpoints.load('mover'))?.checkpoint).toEqual({ cursor: 1 });
    });

    it('a drain interrupted before maxSeconds keeps nothing (the next one reads the pages again)', async () => {
      await interrupted(60, 400);
      expect((await objects()).records).toEqual([]);
      expect(await savedState()).toBeUndefined();
    });
  });
});
