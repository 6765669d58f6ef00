import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SddpSimulator } from '../../simulators/index.js';
import { FileObjectStore } from '../../src/storage/index.js';
import { exited } from './children.js';
import { startCli } from './cli.js';
import { compareIds, readArchive } from './read-archive.js';
import type { RedisHandle } from './with-redis.js';

export interface SharedQuotaResult {
  calls: number;
  throttled: number;
  /** Most calls the simulator saw in any one-second window. */
  peakPerSecond: number;
  /** Calls per second between the simulator's first and last call. */
  sustainedPerSecond: number;
  missing: number;
  duplicated: number;
  seconds: number;
}

/**
 * Three `worker` processes, `sources` Data Security Center sources with one AccessKey, one
 * simulator: drains `items` masking runs per source in pages of `pageSize`, and reports what
 * the simulator measured.
 */
export async function drainSharedQuota(
  redis: RedisHandle,
  dir: string,
  options: { sources: number; items: number; pageSize: number; timeoutMs: number },
): Promise<SharedQuotaResult> {
  const sim = new SddpSimulator();
  await sim.start();
  const windowMs = 60_000;
  const t0 = (Math.floor(Date.now() / windowMs) - 12) * windowMs;
  for (let i = 0; i < options.items; i += 1) sim.addRun({ StartTime: t0 + Math.floor((i * 11 * windowMs) / options.items) });
  const ids = Array.from({ length: options.sources }, (_, i) => `masking-${i}`);
  const path = join(dir, 'sddp.yaml');
  writeFileSync(
    path,
    JSON.stringify({
      redis: { url: redis.url, prefix: `quota-${Date.now()}` },
      storage: { kind: 'file', path: join(dir, 'sddp-archive') },
      batch: { maxRecords: 500 },
      worker: { concurrency: 2 },
      sources: ids.map((id) => ({
        id,
        provider: 'aliyun-sddp-masking-history',
        endpoint: sim.url,
        schedule: { every: '1s' },
        credentials: { ...sim.credentials },
        params: { startTime: t0, pageSize: options.pageSize, settleSeconds: 0, windowSeconds: windowMs / 1000 },
      })),
    }),
  );
  const started = Date.now();
  const workers = [0, 1, 2].map(() => startCli(['worker', '-c', path]));
  const store = new FileObjectStore({ path: join(dir, 'sddp-archive') });
  const closedUntil = Math.floor(Date.now() / windowMs) * windowMs;
  const expected = sim.expectedRecords({ from: t0, until: closedUntil, windowMs }).map((r) => r.id);
  let missing = 0;
  let duplicated = 0;
  try {
    // Progress from the manifests' running totals: cheap, so this process (which also hosts the
    // simulator and timestamps its calls) never stalls on decompressing the archive mid-run.
    while (Date.now() - started < options.timeoutMs) {
      let done = 0;
      for (const id of ids) done += await archivedRecords(store, id);
      if (done >= expected.length * ids.length) break;
      await sleep(1000);
    }
    const { envelopes } = await readArchive(store);
    missing = 0;
    for (const id of ids) {
      const diff = compareIds(
        envelopes.filter((e) => e.source === id),
        expected,
      );
      missing += diff.missing.length + diff.unexpected.length;
      duplicated += diff.duplicated.length;
    }
  } finally {
    for (const w of workers) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => exited(w.child)));
    await sim.stop();
  }
  const times = [...sim.callTimes].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, j = 0; i < times.length; i += 1) {
    while (times[i]! - times[j]! >= 1000) j += 1;
    peak = Math.max(peak, i - j + 1);
  }
  return {
    calls: times.length,
    throttled: sim.throttled,
    peakPerSecond: peak,
    sustainedPerSecond: times.length > 1 ? ((times.length - 1) * 1000) / (times.at(-1)! - times[0]!) : 0,
    missing,
    duplicated,
    seconds: (Date.now() - started) / 1000,
  };
}

async function archivedRecords(store: FileObjectStore, source: string): Promise<number> {
  let last: string | undefined;
  for await (const item of store.list(`_manifests/${source}/`)) last = item.key;
  if (!last) return 0;
  const bytes = await store.get(last);
  return bytes ? (JSON.parse(bytes.toString('utf8')) as { totals: { records: number } }).totals.records : 0;
}
