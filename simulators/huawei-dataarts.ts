import { createHash } from 'node:crypto';
import { HttpSimulator, type SimRequest, type SimResponse } from './http-simulator.js';
import { huaweiErrorResponse, huaweiRequestId, renderHuaweiError, verifyHuaweiAuth, type HuaweiSimAuth } from './huawei-auth.js';
import { SimulatedApi } from './simulated-api.js';

/** InstanceAccesslog, field by field from the DataArts DataService API reference. */
export interface InstanceAccessLog {
  id: string | null;
  request_id: string | null;
  api_id: string | null;
  api_name: string | null;
  app_id: string | null;
  app_name: string | null;
  access_time: number;
  duration: number | null;
  status_code: string | null;
  error_code: string | null;
  error_message: string | null;
  detail: string | null;
  in_flow_size: number | null;
  out_flow_size: number | null;
  out_total_size: number | null;
}

export interface HuaweiDataArtsSimulatorOptions {
  projectId: string;
  instanceId: string;
  workspace: string;
  auth: HuaweiSimAuth;
  /** Keep only the N most recent logs of each kind, like a server that ages logs out. @defaultValue unlimited */
  retain?: number | undefined;
  /** Order of `records` in answers; the API documents none. @defaultValue 'desc' (newest first) */
  order?: 'desc' | 'asc' | 'shuffle';
  latencyMs?: number;
  random?: () => number;
  /**
   * List a log only once its request has finished (`now() >= access_time + duration`), as the real
   * service does: a slow request then shows up after quicker ones that started later.
   * @defaultValue false (every added log is listed at once)
   */
  listAfterCompletion?: boolean;
  /** Clock for `listAfterCompletion` and for default access times; tests move it by hand. @defaultValue Date.now */
  now?: () => number;
}

/**
 * Simulates `GET /v1/{project_id}/service/instances/{instance_id}/accesslog`: no pagination, each
 * call returns the current list of API (`is_api=true`, the default) or app access logs as
 * `{ records, number }`. Requires the `workspace` header and a valid token or AK/SK signature.
 */
export class HuaweiDataArtsSimulator extends SimulatedApi {
  protected readonly http: HttpSimulator;
  readonly #options: HuaweiDataArtsSimulatorOptions;
  readonly #logs = { api: [] as InstanceAccessLog[], app: [] as InstanceAccessLog[] };
  #retain: number | undefined;
  #sequence = 0n;
  #random: () => number;
  #now: () => number;
  #truncateTo: number | undefined;
  readonly #answers: SimResponse[] = [];

  constructor(options: HuaweiDataArtsSimulatorOptions) {
    super();
    this.#options = options;
    this.#retain = options.retain;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.http = new HttpSimulator({
      handler: (request) => this.#handle(request),
      renderError: renderHuaweiError,
      ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }),
    });
  }

  /** Keeps only the N most recent logs of each kind in answers from now on (undefined: all). */
  setRetain(retain: number | undefined): void {
    this.#retain = retain;
  }

  /**
   * Answers list at most `n` logs (the first in answer order) while `number` still counts them all,
   * like a server that cuts its list (undefined: no cut).
   */
  truncateListTo(n: number | undefined): void {
    this.#truncateTo = n;
  }

  /**
   * The next requests (one per call) get `response` instead of the API's answer, after auth: for
   * statuses the fault injector does not produce, such as a gateway's 408.
   */
  enqueueAnswer(response: SimResponse, count = 1): void {
    for (let i = 0; i < count; i += 1) this.#answers.push(response);
  }

  /**
   * Adds access logs (missing fields are filled like a real log; give `access_time` to create ties).
   * Returns the complete records added.
   */
  addAccessLogs(records: readonly Partial<InstanceAccessLog>[], options: { isApi?: boolean } = {}): InstanceAccessLog[] {
    const added = records.map((partial) => this.#complete(partial));
    (options.isApi === false ? this.#logs.app : this.#logs.api).push(...added);
    return added;
  }

  /**
   * Adds `count` logs at `accessTime` (a fixed ms value for ties, or per index), default now + index,
   * lasting `duration` ms (fixed or per index), default random 1–200 ms.
   */
  generateAccessLogs(
    count: number,
    options: { isApi?: boolean; accessTime?: number | ((index: number) => number); duration?: number | ((index: number) => number) } = {},
  ): InstanceAccessLog[] {
    const base = this.#now();
    const { accessTime: at, duration } = options;
    const partials = Array.from({ length: count }, (_, i) => ({
      access_time: typeof at === 'function' ? at(i) : (at ?? base + i),
      ...(duration === undefined ? {} : { duration: typeof duration === 'function' ? duration(i) : duration }),
    }));
    return this.addAccessLogs(partials, options.isApi === undefined ? {} : { isApi: options.isApi });
  }

  /** The logs an answer would list now (finished ones with `listAfterCompletion`, after `retain`), oldest first. */
  currentAccessLogs(options: { isApi?: boolean } = {}): InstanceAccessLog[] {
    let all = this.#ordered(options.isApi !== false);
    if (this.#options.listAfterCompletion) {
      const now = this.#now();
      all = all.filter((log) => log.access_time + (log.duration ?? 0) <= now);
    }
    // Retention after completion: the server keeps the N most recent logs it has written.
    return this.#retain === undefined ? all : all.slice(Math.max(0, all.length - this.#retain));
  }

  /** Every log ever added (of one kind), as a correct archive holds it: ids as the provider emits them. */
  expectedRecords(options: { isApi?: boolean } = {}): { id: string; context: Record<string, unknown>; record: unknown }[] {
    const isApi = options.isApi !== false;
    const context = { projectId: this.#options.projectId, instanceId: this.#options.instanceId, isApi };
    return this.#ordered(isApi)
      .map((record) => ({ id: accessLogId(record), context: { ...context }, record }))
      .sort((a, b) => {
        const ta = (a.record as InstanceAccessLog).access_time;
        const tb = (b.record as InstanceAccessLog).access_time;
        return ta - tb || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
      });
  }

  #ordered(isApi: boolean): InstanceAccessLog[] {
    // Stable sort: insertion order breaks ties on access_time, so "most recent" is well defined.
    return [...(isApi ? this.#logs.api : this.#logs.app)].sort((a, b) => a.access_time - b.access_time);
  }

  #complete(partial: Partial<InstanceAccessLog>): InstanceAccessLog {
    this.#sequence += 1n;
    const requestId = (1259962909740634112n + this.#sequence).toString();
    const random = this.#random;
    return {
      id: `0000${Math.floor(random() * 2 ** 48)
        .toString(16)
        .padStart(12, '0')}${Math.floor(random() * 2 ** 20)
        .toString(16)
        .padStart(5, '0')}${requestId}`,
      request_id: requestId,
      api_id: '71a96065c1e0bf11d0914c0658951246',
      api_name: 'iam_post_query',
      app_id: null,
      app_name: null,
      access_time: this.#now(),
      duration: 1 + Math.floor(random() * 200),
      status_code: '200',
      error_code: null,
      error_message: null,
      detail: `__________Verification information________\nAPI authentication verification: completed.\n[query  parameter]:\na : ${this.#sequence}\n`,
      in_flow_size: Math.floor(random() * 20_000),
      out_flow_size: Math.floor(random() * 1_000),
      out_total_size: Math.floor(random() * 10),
      ...partial,
    };
  }

  #handle(request: SimRequest): SimResponse {
    const match = /^\/v1\/([^/]+)\/service\/instances\/([^/]+)\/accesslog\/?$/.exec(request.path);
    if (request.method !== 'GET' || !match) {
      return huaweiErrorResponse(404, 'APIGW.0101', 'The API does not exist or has not been published in the environment');
    }
    const denied = verifyHuaweiAuth(request, this.#options.auth);
    if (denied) return denied;
    const [, projectId, instanceId] = match;
    if (decodeURIComponent(projectId ?? '') !== this.#options.projectId) {
      return huaweiErrorResponse(403, 'DLM.0003', 'The project id does not match the credentials');
    }
    if (decodeURIComponent(instanceId ?? '') !== this.#options.instanceId) {
      return huaweiErrorResponse(404, 'DLM.4404', 'The DataService cluster does not exist');
    }
    const workspace = request.headers.workspace;
    if (!workspace) return huaweiErrorResponse(400, 'DLM.4001', 'The workspace header is mandatory');
    if (workspace !== this.#options.workspace) return huaweiErrorResponse(400, 'DLM.4002', 'The workspace does not exist');
    const isApiText = request.query.get('is_api');
    if (isApiText !== null && isApiText !== 'true' && isApiText !== 'false') {
      return huaweiErrorResponse(400, 'DLM.4003', 'Invalid parameter: is_api');
    }
    const queued = this.#answers.shift();
    if (queued) return queued;
    const records = this.currentAccessLogs({ isApi: isApiText !== 'false' });
    const order = this.#options.order ?? 'desc';
    if (order === 'desc') records.reverse();
    else if (order === 'shuffle') shuffle(records, this.#random);
    const number = records.length;
    const listed = this.#truncateTo === undefined ? records : records.slice(0, this.#truncateTo);
    // The gateway's Date, by the simulator's clock (tests move it apart from the client's).
    const date = new Date(this.#now()).toUTCString();
    return { status: 200, headers: { 'x-request-id': huaweiRequestId(), date }, body: { records: listed, number } };
  }
}

function shuffle<T>(list: T[], random: () => number): void {
  for (let i = list.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
}

/**
 * The archive id of an access log, as the archive format fixes it: `<id>:<request_id>`, or, for a
 * log carrying neither, `sha256:` and the hex SHA-256 of its JSON. Computed here, not taken from
 * the archiver, so an id change that would break existing archives fails the tests.
 */
function accessLogId(record: Partial<InstanceAccessLog>): string {
  const id = record.id ?? '';
  const requestId = record.request_id ?? '';
  if (id || requestId) return `${id}:${requestId}`;
  return `sha256:${createHash('sha256').update(JSON.stringify(record)).digest('hex')}`;
}
