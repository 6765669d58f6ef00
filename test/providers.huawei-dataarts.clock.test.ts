import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { huaweiDataArtsAccessLogProvider as provider, type DataArtsCheckpoint } from '../src/providers/huawei-dataarts-accesslog.js';
import { providerContext, readPages, type ReadPage } from '../src/providers/index.js';
import { HuaweiDataArtsSimulator } from '../simulators/index.js';
import { harnessContext, harnessSource, recordsOf, type HarnessContext } from './helpers/provider-harness.js';

const PROJECT = '0833a5737480d53b2f250010d01a7b88';
const INSTANCE = '4f9366ce3e87860934c36d0ac027ad6a';
const WORKSPACE = 'ws-0001';
const TOKEN = 'MIIZmgYJKoZIhvcNAQcCoIIZizCCGYcCAQExDTALBglghkgBZQMEAgEwgXXXX';
const MIN = 60_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A simulator with its own clock (its `Date` header) and a client clock, both moved by hand. */
async function setup(clocks: { server: number; client: number }) {
  const sim = new HuaweiDataArtsSimulator({
    projectId: PROJECT,
    instanceId: INSTANCE,
    workspace: WORKSPACE,
    auth: { tokens: [TOKEN] },
    order: 'shuffle',
    now: () => clocks.server,
  });
  await sim.start();
  const lines: Record<string, unknown>[] = [];
  const context: HarnessContext = harnessContext({
    now: () => clocks.client,
    logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }),
  });
  cleanups.push(
    () => sim.stop(),
    () => context.close(),
  );
  const source = harnessSource(provider, sim.url, { token: TOKEN }, { projectId: PROJECT, instanceId: INSTANCE, workspace: WORKSPACE });
  let checkpoint: DataArtsCheckpoint = provider.initialCheckpoint(source.params, clocks.client);
  const archived: { id: string }[] = [];
  const drain = async () => {
    const bound = providerContext(context.services, source);
    const pages: ReadPage<DataArtsCheckpoint>[] = [];
    for await (const page of readPages(provider, source, checkpoint, bound)) pages.push(page);
    if (pages.length > 0) checkpoint = pages.at(-1)!.checkpoint;
    archived.push(...recordsOf(pages));
    return { pages, guards: { ...bound.guards }, checkpoint };
  };
  return { sim, drain, archived, lines };
}

describe('huawei-dataarts-accesslog: access times bounded by the clocks', () => {
  for (const [what, future] of [
    ['a gateway clock 15 minutes fast', (now: number) => now + 15 * MIN],
    ['a value in microseconds', (now: number) => now * 1000],
    ['a year-2100 sentinel', () => Date.UTC(2100, 0, 1)],
  ] as const) {
    it(`one access_time from ${what} does not hide the logs after it: all archived, once`, async () => {
      const clocks = { server: Date.UTC(2026, 5, 1, 12), client: Date.UTC(2026, 5, 1, 12) };
      const { sim, drain, archived } = await setup(clocks);
      sim.addAccessLogs([{ access_time: future(clocks.server) }]);
      sim.generateAccessLogs(5, { accessTime: (i) => clocks.server - 1000 + i });
      const first = await drain();
      expect(first.guards).toEqual({ 'dataarts-future-time': 1 });
      expect(first.checkpoint.watermark!).toBeLessThanOrEqual(clocks.client);
      // Time goes on; 50 correct logs arrive after the one from the future.
      clocks.server += MIN;
      clocks.client += MIN;
      sim.generateAccessLogs(50, { accessTime: (i) => clocks.server - 30_000 + i * 10 });
      const second = await drain();
      expect(recordsOf(second.pages)).toHaveLength(50);
      expect(second.guards).toEqual({});
      const expected = sim.expectedRecords().map((r) => r.id);
      expect(archived.map((r) => r.id).sort()).toEqual([...expected].sort());
      // Listed again and again, the log from the future is never archived twice.
      clocks.server += MIN;
      clocks.client += MIN;
      expect(recordsOf((await drain()).pages)).toEqual([]);
    });
  }

  it('a client clock running fast is bounded by the server Date, a server clock running fast by the local clock', async () => {
    const clocks = { server: Date.UTC(2026, 5, 1, 12), client: Date.UTC(2026, 5, 1, 13) };
    const { sim, drain, archived } = await setup(clocks);
    // By the server's clock, this log is 20 minutes in the future; the client's is an hour fast.
    sim.addAccessLogs([{ access_time: clocks.server + 20 * MIN }]);
    sim.generateAccessLogs(3, { accessTime: (i) => clocks.server - 500 + i });
    const first = await drain();
    expect(first.guards).toEqual({ 'dataarts-future-time': 1 });
    expect(first.checkpoint.watermark!).toBeLessThanOrEqual(clocks.server + MIN);
    clocks.server += MIN;
    clocks.client += MIN;
    sim.generateAccessLogs(10, { accessTime: (i) => clocks.server - 20_000 + i });
    await drain();
    expect(archived).toHaveLength(14);
    expect(new Set(archived.map((r) => r.id)).size).toBe(14);
  });
});
