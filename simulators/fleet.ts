import { stringify } from 'yaml';
import { DataWorksSimulator } from './aliyun-dataworks.js';
import { OosSimulator } from './aliyun-oos.js';
import { SIMULATOR_ACCESS_KEY } from './aliyun-rpc.js';
import { SddpSimulator } from './aliyun-sddp.js';
import { HuaweiDataArtsSimulator } from './huawei-dataarts.js';
import { HuaweiDwsSimulator } from './huawei-dws.js';
import type { FaultControl, FaultKind } from './http-types.js';

/** Credentials the fleet's simulators accept; none of them is real. */
export const FLEET_CREDENTIALS = {
  aliyun: { accessKeyId: SIMULATOR_ACCESS_KEY.accessKeyId, accessKeySecret: SIMULATOR_ACCESS_KEY.accessKeySecret },
  huaweiAkSk: { ak: 'HWSIMULATORAK0000001', sk: 'huawei-simulator-sk-do-not-use' },
  huaweiToken: 'MIIsimulator-iam-token-do-not-use',
} as const;

const PROJECT = '0833a5737480d53b2f250010d01a7b88';
const INSTANCE = '4f9366ce3e87860934c36d0ac027ad6a';
const WORKSPACE = 'a0d5b8e7c8f24b0c9b0a5d6e3f1c2b4a';
const CLUSTER = 'e59d6b86-9072-46eb-a996-13f8b44994c1';
const RUN_IDS = [10001, 10002];
const EXECUTIONS = ['exec-1234567zxcvb', 'exec-7654321qwert'];

export interface FleetOptions {
  /** Records added per stream per `grow()`. @defaultValue 40 */
  perGrow?: number;
  /** DataWorks bytes per call (the real API: 512 KiB). @defaultValue 4096 */
  segmentBytes?: number;
  /** Data Security Center window width in seconds. @defaultValue 2 */
  sddpWindowSeconds?: number;
}

/** One source of the fleet as it goes into a config file. */
export interface FleetSource {
  id: string;
  provider: string;
  endpoint: string;
  credentials: Record<string, string>;
  params: Record<string, unknown>;
}

/**
 * All five provider simulators with data that grows on demand, and the config sources that
 * archive them. Used by `demo`, the end-to-end and chaos tests, and the bench.
 */
export class SimulatorFleet {
  readonly dataworks: DataWorksSimulator;
  readonly oos: OosSimulator;
  readonly sddp: SddpSimulator;
  readonly dataarts: HuaweiDataArtsSimulator;
  readonly dws: HuaweiDwsSimulator;
  readonly #perGrow: number;
  readonly #sddpWindowMs: number;
  readonly #sddpStart: number;
  #round = 0;
  #line = 0;

  constructor(options: FleetOptions = {}) {
    this.#perGrow = options.perGrow ?? 40;
    this.#sddpWindowMs = (options.sddpWindowSeconds ?? 2) * 1000;
    // Windows are tiled from a few windows before now: every run added later falls inside one,
    // and catching up costs a handful of calls (one per window, at 10 calls/s).
    this.#sddpStart = (Math.floor(Date.now() / this.#sddpWindowMs) - 5) * this.#sddpWindowMs;
    this.dataworks = new DataWorksSimulator({ segmentBytes: options.segmentBytes ?? 4096 });
    this.oos = new OosSimulator();
    this.sddp = new SddpSimulator();
    const auth = { keys: [FLEET_CREDENTIALS.huaweiAkSk], tokens: [FLEET_CREDENTIALS.huaweiToken] };
    this.dataarts = new HuaweiDataArtsSimulator({ projectId: PROJECT, instanceId: INSTANCE, workspace: WORKSPACE, auth });
    this.dws = new HuaweiDwsSimulator({ projectId: PROJECT, clusterId: CLUSTER, auth });
    for (const id of RUN_IDS) this.dataworks.addRun(id, '');
    for (const id of EXECUTIONS) this.oos.addExecution(id);
  }

  /** Starts every simulator on a free port. */
  async start(): Promise<void> {
    await Promise.all([this.dataworks.start(), this.oos.start(), this.sddp.start(), this.dataarts.start(), this.dws.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.dataworks.stop(), this.oos.stop(), this.sddp.stop(), this.dataarts.stop(), this.dws.stop()]);
  }

  /** Every simulator's fault injector, to switch faults on for all at once. */
  get faults(): FaultControl[] {
    return [this.dataworks.faults, this.oos.faults, this.sddp.faults, this.dataarts.faults, this.dws.faults];
  }

  /** Each request fails with probability `rate` on every simulator. */
  setFaultRate(rate: number, kinds?: readonly FaultKind[]): void {
    for (const faults of this.faults) faults.setRandom(rate, kinds);
  }

  /** Total requests served (faults included). */
  get calls(): number {
    return this.dataworks.callTimes.length + this.oos.callTimes.length + this.sddp.callTimes.length + this.dataarts.calls + this.dws.calls;
  }

  /** The five sources, ready for the `sources:` list of a config. */
  sources(): FleetSource[] {
    const aliyun = { ...FLEET_CREDENTIALS.aliyun };
    return [
      {
        id: 'dq-scan-log',
        provider: 'aliyun-dataworks-dq-scan-log',
        endpoint: this.dataworks.url,
        credentials: aliyun,
        params: { runIds: RUN_IDS },
      },
      {
        id: 'oos-exec',
        provider: 'aliyun-oos-execution-logs',
        endpoint: this.oos.url,
        credentials: aliyun,
        params: { regionId: 'cn-hangzhou', executionIds: EXECUTIONS, maxResults: 20 },
      },
      {
        id: 'masking-history',
        provider: 'aliyun-sddp-masking-history',
        endpoint: this.sddp.url,
        credentials: aliyun,
        params: { startTime: this.#sddpStart, pageSize: 10, settleSeconds: 1, windowSeconds: this.#sddpWindowMs / 1000 },
      },
      {
        id: 'dataservice-access',
        provider: 'huawei-dataarts-accesslog',
        endpoint: this.dataarts.url,
        credentials: { ...FLEET_CREDENTIALS.huaweiAkSk },
        params: { projectId: PROJECT, instanceId: INSTANCE, workspace: WORKSPACE, isApi: true },
      },
      {
        id: 'dws-audit',
        provider: 'huawei-dws-audit-log-records',
        endpoint: this.dws.url,
        credentials: { token: FLEET_CREDENTIALS.huaweiToken },
        params: { projectId: PROJECT, clusterId: CLUSTER },
      },
    ];
  }

  /** A complete config file archiving the fleet; `sections` gives storage, checkpoints, redis, batch… */
  configYaml(sections: Record<string, unknown>, schedule: Record<string, unknown> = { every: '2s' }): string {
    return stringify({ ...sections, sources: this.sources().map((s) => ({ ...s, schedule })) });
  }

  /** Adds a round of new data to every provider: lines, entries, runs, access logs (with ties), dumps finishing. */
  grow(): void {
    this.#round += 1;
    const n = this.#perGrow;
    for (const id of RUN_IDS) {
      let text = '';
      for (let i = 0; i < n; i += 1) {
        this.#line += 1;
        text += `${new Date().toISOString()} run ${id} check rule ${this.#line}: 行数校验通过 ✓ ${'·'.repeat(this.#line % 23)}\n`;
      }
      this.dataworks.appendLog(id, text);
    }
    for (const id of EXECUTIONS) {
      this.oos.appendLogs(
        id,
        Array.from({ length: n }, (_, i) => `round ${this.#round} task step ${i} completed`),
      );
    }
    // Masking runs land in the current window; they are archived once it has closed and settled.
    const now = Date.now();
    for (let i = 0; i < Math.max(1, Math.floor(n / 4)); i += 1) this.sddp.addRun({ StartTime: now - (i % 3) });
    // Several access logs share one millisecond: the watermark must neither lose nor repeat them.
    this.dataarts.generateAccessLogs(n, { accessTime: (i) => now + Math.floor(i / 3) });
    this.dws.finish(
      (r) => r.result === 'RUNNING',
      this.#round % 2 === 0 ? 'SUCCESS' : 'FAILED',
      this.#round % 2 === 0 ? undefined : 'obs bucket unreachable',
    );
    this.dws.addRecords(Math.max(1, Math.floor(n / 8)));
  }

  /** Finishes every DWS dump, so that the whole record set is final. */
  settle(): void {
    this.dws.finish((r) => r.result === 'RUNNING', 'SUCCESS');
  }

  /** Record ids a complete archive holds per source, given that masking windows before `until` are closed. */
  expectedIds(until: number = Date.now()): Map<string, string[]> {
    const closed = Math.floor((until - this.#sddpStart) / this.#sddpWindowMs) * this.#sddpWindowMs + this.#sddpStart;
    return new Map([
      ['dq-scan-log', this.dataworks.expectedRecords().map((r) => r.id)],
      ['oos-exec', this.oos.expectedRecords().map((r) => r.id)],
      [
        'masking-history',
        this.sddp.expectedRecords({ from: this.#sddpStart, until: closed, windowMs: this.#sddpWindowMs }).map((r) => r.id),
      ],
      ['dataservice-access', this.dataarts.expectedRecords().map((r) => r.id)],
      ['dws-audit', this.dws.expectedRecords().map((r) => r.id)],
    ]);
  }

  /** Time after which every masking run added so far sits in a closed, settled window. */
  sddpSettledAt(): number {
    return (Math.floor(Date.now() / this.#sddpWindowMs) + 1) * this.#sddpWindowMs + 1000 + 250;
  }
}
