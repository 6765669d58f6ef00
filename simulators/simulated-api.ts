import type { FaultControl } from './http-types.js';
import type { HttpSimulator } from './http-simulator.js';

/**
 * The outside of every provider simulator: where it listens, its fault injector, the log of its
 * calls, and its lifecycle, all delegated to the {@link HttpSimulator} it is served from. A
 * subclass holds only its API: the data it serves and the handler answering requests.
 *
 * Not part of the contract: how requests reach the API's handler (a subclass builds its own
 * HttpSimulator, or borrows one, as the Alibaba simulators do from their RPC core).
 */
export abstract class SimulatedApi {
  /** The HTTP shell this API is served from. */
  protected abstract readonly http: HttpSimulator;

  /** Base URL; throws before `start()`. */
  get url(): string {
    return this.http.url;
  }

  get faults(): FaultControl {
    return this.http.faults;
  }

  /** Arrival time (ms) of every request, faults included. */
  get callTimes(): readonly number[] {
    return this.http.callTimes;
  }

  get calls(): number {
    return this.http.calls;
  }

  /** Listens on 127.0.0.1 (a free port unless given); resolves with the base URL. */
  start(port = 0): Promise<string> {
    return this.http.start(port);
  }

  stop(): Promise<void> {
    return this.http.stop();
  }
}
