import { afterEach, describe, expect, it } from 'vitest';
import { huaweiDwsAuditLogRecordsProvider as provider, type DwsCheckpoint } from '../src/providers/huawei-dws-audit-log-records.js';
import { providerContext, readPages, type ReadPage } from '../src/providers/index.js';
import { HuaweiDwsSimulator } from '../simulators/index.js';
import { harnessContext, harnessSource, recordsOf, type HarnessContext } from './helpers/provider-harness.js';

const PROJECT = '89cd04f168b84af6be287f71730fdb4b';
const CLUSTER = 'e59d6b86-9072-46eb-a996-13f8b44994c1';
const TOKEN = 'MIIZmgYJKoZIhvcNAQcCoIIZizCCGYcCAQExDTALBglghkgBZQMEAgEwgDWS';
const DAY = 86_400_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function setup(params: Record<string, unknown> = {}) {
  const sim = new HuaweiDwsSimulator({ projectId: PROJECT, clusterId: CLUSTER, auth: { tokens: [TOKEN] }, order: 'shuffle' });
  await sim.start();
  const clock = { now: Date.UTC(2026, 5, 1) };
  const context: HarnessContext = harnessContext({ now: () => clock.now });
  cleanups.push(
    () => sim.stop(),
    () => context.close(),
  );
  const source = harnessSource(provider, sim.url, { token: TOKEN }, { projectId: PROJECT, clusterId: CLUSTER, ...params });
  let checkpoint: DwsCheckpoint = provider.initialCheckpoint(source.params, clock.now);
  const archived: { id: string; record: unknown }[] = [];
  const poll = async () => {
    const bound = providerContext(context.services, source);
    const pages: ReadPage<DwsCheckpoint>[] = [];
    for await (const page of readPages(provider, source, checkpoint, bound)) pages.push(page);
    if (pages.length > 0) checkpoint = provider.checkpointSchema.parse(JSON.parse(JSON.stringify(pages.at(-1)!.checkpoint)));
    archived.push(...recordsOf(pages));
    return { pages, guards: { ...bound.guards }, checkpoint };
  };
  return { sim, clock, poll, archived };
}

describe('huawei-dws-audit-log-records: a bounded pending set', () => {
  it('ages out records in progress too long (archived as they are) and drops pending ones no longer listed (a gap)', async () => {
    const { sim, clock, poll, archived } = await setup({ maxPendingSeconds: 7 * 86_400 });
    const [stuck, vanished, finishing] = sim.addRecords(3);
    let { checkpoint } = await poll();
    expect(checkpoint.pending.map((p) => p.id).sort()).toEqual([stuck, vanished, finishing].map((r) => sim.idOf(r!)).sort());
    expect(checkpoint.pending.every((p) => p.seenAt === clock.now)).toBe(true);

    clock.now += 3 * DAY;
    sim.finish(finishing!, 'SUCCESS');
    sim.remove(vanished!);
    ({ checkpoint } = await poll());
    expect(archived.map((r) => r.id)).toEqual([sim.idOf(finishing!)]);
    // Not listed, but not long enough to give up on it: it may come back.
    expect(checkpoint.pending.map((p) => p.id).sort()).toEqual([sim.idOf(stuck!), sim.idOf(vanished!)].sort());

    clock.now += 5 * DAY;
    const aged = await poll();
    expect(aged.guards).toEqual({ 'dws-pending-aged-out': 1, 'dws-pending-lost': 1 });
    expect(aged.checkpoint.pending).toEqual([]);
    expect(archived.map((r) => r.id)).toEqual([sim.idOf(finishing!), sim.idOf(stuck!)]);
    expect((archived[1]!.record as { result: string }).result).toBe('RUNNING');
    const gap = aged.pages.flatMap((p) => p.completeness ?? []).find((f) => f.stream === `record ${sim.idOf(vanished!)}`);
    expect(gap).toMatchObject({ stated: 1, archived: 0 });

    // The aged-out record finishing later is not archived a second time.
    sim.finish(stuck!, 'SUCCESS');
    clock.now += DAY;
    await poll();
    expect(archived).toHaveLength(2);
  });

  it('beyond maxPending, the oldest records in progress are aged out at once', async () => {
    const { sim, poll, archived } = await setup({ maxPending: 2 });
    const records = sim.addRecords(5);
    const { checkpoint, guards } = await poll();
    expect(guards).toEqual({ 'dws-pending-aged-out': 3 });
    expect(checkpoint.pending.map((p) => p.id).sort()).toEqual(
      records
        .slice(3)
        .map((r) => sim.idOf(r))
        .sort(),
    );
    expect(archived.map((r) => r.id).sort()).toEqual(
      records
        .slice(0, 3)
        .map((r) => sim.idOf(r))
        .sort(),
    );
  });

  it('states the server count beside the records listed, final and in progress', async () => {
    const { sim, poll } = await setup();
    sim.addRecords(2, { result: 'SUCCESS' });
    sim.addRecords(1);
    const { pages } = await poll();
    const figure = pages.flatMap((p) => p.completeness ?? []).at(-1);
    expect(figure).toMatchObject({ stream: 'audit-log record list', stated: 3, archived: 2, pending: 1 });
  });
});
