import { LeaseLostError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import type { Lease } from './lease.js';

/**
 * The renewal controller every lease shares: renews every third of the TTL while held, gives the
 * lease up once renewals have failed for a whole TTL (another holder may have it by then), and
 * aborts `signal` the moment the lease is known lost. Coordinators supply the three operations.
 */
export abstract class RenewedLease implements Lease {
  readonly #controller = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #released = false;
  /** When the lease was last known held (acquired or renewed). */
  #heldAt = Date.now();

  constructor(
    readonly source: string,
    readonly token: string,
    protected readonly ttlMs: number,
    protected readonly logger: Logger,
  ) {}

  /** Renews the lease in the coordinator: true while held, false when another holder has it; throws when it cannot tell. */
  protected abstract renewOnce(): Promise<boolean>;
  /** Whether the coordinator still names this token as the holder; throws when it cannot tell. */
  protected abstract holdsOnce(): Promise<boolean>;
  /** Frees the lease in the coordinator if this token still holds it. */
  protected abstract releaseOnce(): Promise<void>;

  /** Starts renewing; called by the manager once the lease is taken. */
  protected startRenewing(): void {
    this.#timer = setInterval(() => void this.#renew(), Math.max(200, Math.floor(this.ttlMs / 3)));
    this.#timer.unref();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  async check(): Promise<void> {
    if (this.#controller.signal.aborted) throw this.#controller.signal.reason;
    let held: boolean;
    try {
      held = await this.holdsOnce();
    } catch (cause) {
      // Without an answer we cannot prove we still hold it, so we must not commit.
      throw new LeaseLostError(this.source, this.token, cause);
    }
    if (!held) {
      this.#lose(undefined);
      throw new LeaseLostError(this.source, this.token);
    }
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    try {
      await this.releaseOnce();
    } catch (error) {
      this.logger.warn({ source: this.source, err: { message: (error as Error).message } }, 'lease release failed; it expires by itself');
    }
  }

  async #renew(): Promise<void> {
    if (this.#released || this.#controller.signal.aborted) return;
    const attemptAt = Date.now();
    try {
      if (await this.renewOnce()) this.#heldAt = attemptAt;
      else this.#lose(undefined);
    } catch (error) {
      // A failed renewal is not yet a lost lease while the TTL may still be running; once it
      // has surely run out, another worker may hold the source, so stop working on it.
      this.logger.warn({ source: this.source, err: { message: (error as Error).message } }, 'lease renewal failed');
      if (Date.now() - this.#heldAt >= this.ttlMs) this.#lose(error);
    }
  }

  #lose(cause: unknown): void {
    if (this.#controller.signal.aborted) return;
    clearInterval(this.#timer);
    this.logger.warn({ source: this.source, fencingToken: this.token }, 'lease lost');
    this.#controller.abort(new LeaseLostError(this.source, this.token, cause));
  }
}
