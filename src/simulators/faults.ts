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

export const ALL_FAULTS: readonly FaultKind[] = [
  'throttle',
  'server',
  'timeout',
  'reset',
  'truncated',
  'malformed',
  'html',
  'oversize',
  'proto',
];

/** Decides, per request, whether to fail it and how. */
export class FaultInjector {
  #queue: FaultKind[] = [];
  #rate = 0;
  #kinds: readonly FaultKind[] = ALL_FAULTS;
  #random: () => number;
  injected = 0;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** The next `count` requests fail with `kind`. */
  enqueue(kind: FaultKind, count = 1): void {
    for (let i = 0; i < count; i += 1) this.#queue.push(kind);
  }

  /** Each request fails with probability `rate`, with a kind drawn from `kinds`. */
  setRandom(rate: number, kinds: readonly FaultKind[] = ALL_FAULTS): void {
    this.#rate = rate;
    this.#kinds = kinds;
  }

  clear(): void {
    this.#queue = [];
    this.#rate = 0;
  }

  /** The fault for this request, if any. */
  next(): FaultKind | undefined {
    const queued = this.#queue.shift();
    if (queued) {
      this.injected += 1;
      return queued;
    }
    if (this.#rate > 0 && this.#random() < this.#rate) {
      this.injected += 1;
      return this.#kinds[Math.floor(this.#random() * this.#kinds.length)];
    }
    return undefined;
  }
}
