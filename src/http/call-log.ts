/** What the calls behind one page cost and how the provider names them. */
export interface CallsTaken {
  /** Provider request ids, kept in the manifest for an auditor. */
  requestIds: string[];
  /** Uncompressed bytes the provider sent, for metrics. */
  bytes: number;
}

/**
 * The log of successful provider calls of one drain: API clients record each answer here, and
 * the drain takes what accumulated whenever a page arrives, so no provider counts request ids or
 * bytes by hand.
 *
 * A page that needed no call of its own (the second chunk of one listing) came from the last
 * answer: `take()` then names that answer's request id again, with no bytes, so every object's
 * manifest names the request its records came from.
 */
export class CallLog {
  #requestIds: string[] = [];
  #bytes = 0;
  #calls = 0;
  #last: string | undefined;

  /** Records one successful answer. */
  record(requestId: string | undefined, bytes: number): void {
    this.#calls += 1;
    this.#bytes += bytes;
    if (requestId) this.#requestIds.push(requestId);
    this.#last = requestId;
  }

  /** Request id of the latest answer, which errors about that answer name. */
  get lastRequestId(): string | undefined {
    return this.#last;
  }

  /** Request ids and bytes since the previous take. */
  take(): CallsTaken {
    const taken: CallsTaken =
      this.#calls === 0 ? { requestIds: this.#last ? [this.#last] : [], bytes: 0 } : { requestIds: this.#requestIds, bytes: this.#bytes };
    this.#requestIds = [];
    this.#bytes = 0;
    this.#calls = 0;
    return taken;
  }
}
