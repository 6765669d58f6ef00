import type { ServerResponse } from 'node:http';

/** A request as a simulator handler sees it. */
export interface SimRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: string;
  /** The raw path and query as sent, for signature checks. */
  rawUrl: string;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings verbatim. */
  body: unknown;
}

export type SimHandler = (request: SimRequest) => SimResponse | Promise<SimResponse>;

/** How a cloud renders its own error bodies for injected throttling and server faults. */
export type ErrorRenderer = (kind: 'throttle' | 'server', request: SimRequest) => SimResponse;

/**
 * Faults a simulator can inject into its answers, as production providers fail:
 * - throttle: the cloud's throttling error (Alibaba 400 `Throttling.User`, Huawei 429 `APIGW.0308`)
 * - server: HTTP 503 with the cloud's error body
 * - timeout: headers never sent (the client's timeout fires)
 * - reset: the socket is destroyed mid-request
 * - truncated: a 200 whose JSON body is cut in half
 * - malformed: a 200 whose body is not JSON at all
 * - html: a 200 carrying an HTML error page (gateways do this)
 * - oversize: a 200 body larger than any client limit
 * - proto: a 200 whose JSON carries a `__proto__` key
 */
export type FaultKind = 'throttle' | 'server' | 'timeout' | 'reset' | 'truncated' | 'malformed' | 'html' | 'oversize' | 'proto';

/** What a test does with a simulator's faults. */
export interface FaultControl {
  /** Requests failed on purpose so far. */
  readonly injected: number;
  /** The next `count` requests fail with `kind`. */
  enqueue(kind: FaultKind, count?: number): void;
  /** Each request fails with probability `rate`, with a kind drawn from `kinds`. */
  setRandom(rate: number, kinds?: readonly FaultKind[]): void;
  clear(): void;
}

/** What the HTTP shell asks of a fault injector per request. */
export interface FaultPlan {
  /** The fault for this request, if any. */
  next(): FaultKind | undefined;
  /** Fails `request` with `kind`. */
  answer(kind: FaultKind, request: SimRequest, res: ServerResponse, renderError: ErrorRenderer): void;
}

/** Writes a simulator answer. */
export function sendResponse(res: ServerResponse, response: SimResponse): void {
  const text = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
  res.writeHead(response.status, { 'content-type': 'application/json;charset=UTF-8', ...response.headers });
  res.end(text);
}
