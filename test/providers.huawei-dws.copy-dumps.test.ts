import { createHash, randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { huaweiDwsAuditLogRecordsProvider as provider, type DwsCheckpoint } from '../src/providers/huawei-dws-audit-log-records.js';
import { ProviderAuthError } from '../src/errors/index.js';
import { providerContext, readPages, type ReadPage } from '../src/providers/index.js';
import type { CompletenessFigure, ProviderRecord } from '../src/providers/provider.js';
import { HuaweiDwsSimulator, type AuditDumpRecord } from '../simulators/index.js';
import { harnessContext, harnessSource, readAllPages, recordsOf, type HarnessContext } from './helpers/provider-harness.js';
import { S3_TEST_CREDENTIALS, startS3, type S3Handle } from './helpers/with-s3.js';
import { ForwardProxy } from './helpers/forward-proxy.js';

/**
 * `params.copyDumps` against a real S3 server standing in for OBS: the files a SUCCESS dump wrote
 * under its `location_prefix` are archived byte for byte, each exactly once whatever page a
 * crash stops the drain at, with their SHA-256 in the completeness figures the manifest records.
 */

const PROJECT = '89cd04f168b84af6be287f71730fdb4b';
const CLUSTER = 'e59d6b86-9072-46eb-a996-13f8b44994c1';
const TOKEN = 'MIIZmgYJKoZIhvcNAQcCoIIZizCCGYcCAQExDTALBglghkgBZQMEAgEwgDWS';
const BUCKET = 'obs-audit';
const PREFIX = 'dws/audit';

let s3: S3Handle;
let sim: HuaweiDwsSimulator;
let context: HarnessContext;
const files = new Map<string, Buffer>();

beforeAll(async () => {
  s3 = await startS3({ bucket: BUCKET });
  sim = new HuaweiDwsSimulator({ projectId: PROJECT, clusterId: CLUSTER, auth: { tokens: [TOKEN] }, order: 'shuffle' });
  await sim.start();
  context = harnessContext({ timeoutMs: 5_000 });
});
afterAll(async () => {
  await sim?.stop();
  await context?.close();
  await s3?.close();
});

async function put(key: string, body: Buffer): Promise<void> {
  await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  files.set(key, body);
}

/** A dump job that succeeds, writing `sizes` files under its prefix, as DWS does before it reports SUCCESS. */
async function dump(sizes: number[], partial: Partial<AuditDumpRecord> = {}): Promise<AuditDumpRecord> {
  const record = sim.addRecord({ bucket_name: BUCKET, location_prefix: PREFIX, ...partial });
  const stamp = record.executor_time.replace(/[-:T]/g, '');
  for (const [i, size] of sizes.entries()) {
    await put(`${PREFIX}/${CLUSTER}/${stamp}/audit_${i}.log`, randomBytes(size));
  }
  sim.finish(record, 'SUCCESS');
  return record;
}

function source(copy: Record<string, unknown> = {}) {
  return harnessSource(
    provider,
    sim.url,
    { token: TOKEN },
    {
      projectId: PROJECT,
      clusterId: CLUSTER,
      copyDumps: {
        endpoint: s3.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: S3_TEST_CREDENTIALS.accessKeyId, secretAccessKey: S3_TEST_CREDENTIALS.secretAccessKey },
        partBytes: 1024,
        ...copy,
      },
    },
  );
}

/** The files the records hold, reassembled by key in offset order; throws on a repeated or missing part. */
function reassemble(records: ProviderRecord[]): Map<string, Buffer> {
  const parts = new Map<string, { offset: number; data: Buffer }[]>();
  for (const r of records) {
    const body = r.record as { key?: string; offset?: number; data?: string; sha256?: string };
    if (body.data === undefined) continue;
    const data = Buffer.from(body.data, 'base64');
    expect(createHash('sha256').update(data).digest('hex')).toBe(body.sha256);
    const list = parts.get(body.key!) ?? [];
    list.push({ offset: body.offset!, data });
    parts.set(body.key!, list);
  }
  const out = new Map<string, Buffer>();
  for (const [key, list] of parts) {
    list.sort((a, b) => a.offset - b.offset);
    let at = 0;
    for (const p of list) {
      expect(p.offset, key).toBe(at);
      at += p.data.length;
    }
    out.set(key, Buffer.concat(list.map((p) => p.data)));
  }
  return out;
}

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('huawei-dws-audit-log-records: copyDumps', () => {
  it('archives every file of each SUCCESS dump once, its SHA-256 in the figures, wherever a crash stops a drain', async () => {
    const src = source();
    await dump([3000, 1024, 0]);
    // A failed dump writes nothing to copy; files outside the prefix are not the archiver's.
    const failed = sim.addRecord({ bucket_name: BUCKET, location_prefix: PREFIX });
    sim.finish(failed, 'FAILED', 'obs bucket unreachable');
    await put('elsewhere/not-a-dump.log', randomBytes(100));
    files.delete('elsewhere/not-a-dump.log');
    sim.addRecord({ bucket_name: BUCKET, location_prefix: PREFIX }); // still RUNNING
    await dump([2500]);

    // The whole drain once, uninterrupted: the reference.
    const fresh = provider.initialCheckpoint(src.params, Date.now());
    const all = await readAllPages(provider, src, fresh, context);
    const reference = recordsOf(all);
    expect(reassemble(reference)).toEqual(files);
    const figures = all.flatMap((p) => p.completeness ?? []).filter((f) => f.stream.startsWith('dump '));
    expect(figures.map((f) => [f.stream.replace(/@[0-9a-f]+$/, ''), f.stated, f.archived, f.sha256]).sort()).toEqual(
      [...files].map(([key, data]) => [`dump ${BUCKET}/${key}`, data.length, data.length, sha(data)]).sort(),
    );
    const done = all.at(-1)!.checkpoint;
    expect(done.dumps?.queue).toEqual([]);
    expect(done.dumps?.current).toBeUndefined();

    // A crash after each page in turn: the drain that follows resumes from that page's checkpoint.
    for (let stop = 0; stop < all.length; stop += 1) {
      const kept = all.slice(0, stop + 1);
      const rest = await readAllPages(provider, src, kept.at(-1)!.checkpoint, context);
      const records = [...recordsOf(kept), ...recordsOf(rest)];
      expect(
        records.map((r) => r.id),
        `crash after page ${stop}`,
      ).toEqual(reference.map((r) => r.id));
      expect(reassemble(records)).toEqual(files);
    }

    // Later dumps: only their files are copied; an idle poll copies nothing.
    expect(recordsOf(await readAllPages(provider, src, done, context))).toEqual([]);
    const before = new Set(files.keys());
    const latest = await dump([1500, 10]);
    const next = await readAllPages(provider, src, done, context);
    const copied = reassemble(recordsOf(next));
    expect([...copied.keys()].sort()).toEqual([...files.keys()].filter((k) => !before.has(k)).sort());
    for (const [key, data] of copied) expect(data.equals(files.get(key)!)).toBe(true);
    const parts = recordsOf(next).filter((r) => r.id.startsWith('obs:'));
    expect(parts.every((r) => r.context.dumpRecordId === sim.idOf(latest))).toBe(true);
  });

  it('keeps what it remembers bounded: files older than the lateness leave the checkpoint', async () => {
    const src = source({ latenessSeconds: 0 });
    let checkpoint: DwsCheckpoint = provider.initialCheckpoint(src.params, Date.now());
    for (let round = 0; round < 3; round += 1) {
      await dump([100, 100, 100]);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      checkpoint = (await readAllPages(provider, src, checkpoint, context)).at(-1)!.checkpoint;
    }
    const prefixes = Object.values(checkpoint.dumps!.prefixes);
    expect(prefixes).toHaveLength(1);
    // LastModified has whole seconds: only the files of the newest second are remembered.
    expect(prefixes[0]!.copied.length).toBeLessThanOrEqual(3);
    expect(prefixes[0]!.floor).not.toBeNull();
  });

  it('a wrong OBS key fails the drain with an auth error naming what to fix; the SUCCESS record stays queued', async () => {
    const src = source({ credentials: { accessKeyId: 'NOT-AN-OBS-KEY', secretAccessKey: 'wrong-secret' } });
    await dump([10]);
    const pages: ReadPage<DwsCheckpoint>[] = [];
    const bound = providerContext(context.services, src);
    const error = await (async () => {
      for await (const page of readPages(provider, src, provider.initialCheckpoint(src.params, Date.now()), bound)) pages.push(page);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderAuthError);
    expect((error as ProviderAuthError).hint).toContain('params.copyDumps.credentials');
    expect(String((error as Error).message)).not.toContain('wrong-secret');
    // The records were archived, their files are still to copy: a fixed secret copies them next time.
    expect(pages.at(-1)!.checkpoint.dumps!.queue.length).toBeGreaterThan(0);
  });

  it('reports a file that changes while it is copied as a gap, keeping what was copied', async () => {
    const src = source();
    const start = (await readAllPages(provider, src, provider.initialCheckpoint(src.params, Date.now()), context)).at(-1)!.checkpoint;
    await dump([4096]);
    const key = [...files.keys()].at(-1)!;
    const pages = await readAllPages(provider, src, start, context);
    // Stop after the first part of the new file, then the file is rewritten.
    const firstPart = pages.findIndex((p) => p.records.some((r) => (r.record as { key?: string }).key === key));
    await put(key, randomBytes(4096));
    const bound = providerContext(context.services, src);
    const rest: ReadPage<DwsCheckpoint>[] = [];
    for await (const page of readPages(provider, src, pages[firstPart]!.checkpoint, bound)) rest.push(page);
    expect(bound.guards).toEqual({ 'dws-dump-changed': 1 });
    // The version that changed is a gap after its first part; the new version is copied whole.
    const figures = rest
      .flatMap((p) => p.completeness ?? [])
      .filter((f: CompletenessFigure) => f.stream.startsWith(`dump ${BUCKET}/${key}@`));
    expect(figures.map((f) => [f.stated, f.archived, f.sha256 === undefined])).toEqual([
      [4096, 1024, true],
      [4096, 4096, false],
    ]);
    expect(figures[1]!.sha256).toBe(sha(files.get(key)!));
    expect(reassemble(recordsOf(rest)).get(key)!.equals(files.get(key)!)).toBe(true);
  });

  it('reaches OBS through the proxy the provider calls go through', async () => {
    await dump([1500]);
    const proxy = new ForwardProxy();
    await proxy.start();
    const proxied = harnessContext({ timeoutMs: 5_000, proxy: { HTTP_PROXY: proxy.url() } });
    try {
      const src = source();
      const all = await readAllPages(provider, src, provider.initialCheckpoint(src.params, Date.now()), proxied);
      expect(reassemble(recordsOf(all))).toEqual(files);
      const hosts = new Set(proxy.requests.map((r) => new URL(r.target).host));
      expect(hosts).toEqual(new Set([new URL(sim.url).host, new URL(s3.endpoint).host]));
      expect(proxy.requests.some((r) => r.method === 'GET' && new URL(r.target).pathname.startsWith(`/${BUCKET}/${PREFIX}/`))).toBe(true);
    } finally {
      await proxied.close();
      await proxy.close();
    }
  });
});
