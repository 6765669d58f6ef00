import { ArchiverError, CredentialError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import type { SharedCredentials } from './shared-credentials.js';

/** Temporary credentials as an issuer hands them out, with the moment they stop working. */
export interface IssuedCredentials<K> {
  credentials: K;
  /** Epoch ms after which the issuer refuses them. */
  expiresAt: number;
}

/** What a refreshing source needs from the credential kind it serves. */
export interface CredentialIssuer<K> {
  /** What the credentials are, for messages and logs (`AssumeRole acs:ram::…:role/archiver`); no secret. */
  readonly describe: string;
  /** Stable across refreshes (the role, the user): what quotas per account are keyed by. */
  readonly identity: string;
  /** What to check when obtaining them fails for a reason a retry will not fix. */
  readonly hint: string;
  /** Obtains fresh credentials from the issuer (STS, the metadata service, IAM). */
  issue(signal?: AbortSignal): Promise<IssuedCredentials<K>>;
}

export interface RefreshingOptions {
  logger: Logger;
  /** Clock in epoch ms. @defaultValue Date.now */
  now?: () => number;
}

/** Lifetime fraction left when a refresh starts in the background, bounded to [5 min, half the lifetime]. */
const REFRESH_AHEAD_FRACTION = 0.2;
const REFRESH_AHEAD_FLOOR_MS = 5 * 60_000;
/** Credentials this close to expiry are never handed out: a request signed now must still arrive in time. */
const HARD_MARGIN_FRACTION = 0.1;
const HARD_MARGIN_CEILING_MS = 60_000;

/**
 * Temporary credentials cached between refreshes, shared by every source that uses them.
 *
 * Refreshes ahead of expiry: once a fifth of the lifetime is left (at least 5 minutes, at most
 * half of it) the next `get()` starts a refresh in the background and still answers the current
 * credentials; within the last tenth (at most a minute) `get()` waits for new ones, so that
 * credentials are never sent expired. Concurrent callers share one refresh. A background refresh
 * that fails is logged and tried again on the next `get()`; one that the caller must wait for
 * throws a CredentialError naming the credentials and their sources.
 */
export class RefreshingCredentials<K> implements SharedCredentials<K> {
  readonly #issuer: CredentialIssuer<K>;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #sources = new Set<string>();
  #current: (IssuedCredentials<K> & { issuedAt: number }) | undefined;
  #inflight: Promise<IssuedCredentials<K> & { issuedAt: number }> | undefined;
  /** Refreshes done, for tests and metrics. */
  refreshes = 0;

  constructor(issuer: CredentialIssuer<K>, options: RefreshingOptions) {
    this.#issuer = issuer;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /** Stable identity of the credentials (see CredentialIssuer.identity). */
  get identity(): string {
    return this.#issuer.identity;
  }

  /** Records that `source` uses these credentials, so that failures name it. */
  usedBy(source: string): this {
    this.#sources.add(source);
    return this;
  }

  async get(signal?: AbortSignal): Promise<K> {
    const now = this.#now();
    const current = this.#current;
    if (current && now < current.expiresAt - hardMargin(current)) {
      if (now >= current.expiresAt - refreshAhead(current) && !this.#inflight) {
        this.#refresh(undefined).catch((error: unknown) =>
          this.#logger.warn(
            { credentials: this.#issuer.describe, err: { message: (error as Error).message } },
            'background refresh of temporary credentials failed; retried on next use',
          ),
        );
      }
      return current.credentials;
    }
    return (await this.#refresh(signal)).credentials;
  }

  #refresh(signal: AbortSignal | undefined): Promise<IssuedCredentials<K> & { issuedAt: number }> {
    this.#inflight ??= this.#issue(signal).finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #issue(signal: AbortSignal | undefined): Promise<IssuedCredentials<K> & { issuedAt: number }> {
    const issuedAt = this.#now();
    let issued: IssuedCredentials<K>;
    try {
      issued = await this.#issuer.issue(signal);
    } catch (cause) {
      if (signal?.aborted) throw cause;
      const retryable = cause instanceof ArchiverError ? cause.retryable : true;
      throw new CredentialError(this.#issuer.describe, [...this.#sources], `could not obtain credentials: ${(cause as Error).message}`, {
        hint: retryable ? 'the issuer failed for now; the source retries with backoff' : this.#issuer.hint,
        retryable,
        cause,
      });
    }
    if (!Number.isFinite(issued.expiresAt) || issued.expiresAt <= this.#now()) {
      throw new CredentialError(this.#issuer.describe, [...this.#sources], 'the issuer answered credentials that are already expired', {
        hint: 'check that the clocks of this host and of the issuer agree (NTP)',
        retryable: true,
      });
    }
    const next = { ...issued, issuedAt };
    this.#current = next;
    this.refreshes += 1;
    this.#logger.info(
      { credentials: this.#issuer.describe, expiresAt: new Date(issued.expiresAt).toISOString(), sources: [...this.#sources] },
      'temporary credentials obtained',
    );
    return next;
  }
}

function lifetime(issued: IssuedCredentials<unknown> & { issuedAt: number }): number {
  return Math.max(0, issued.expiresAt - issued.issuedAt);
}

function refreshAhead(issued: IssuedCredentials<unknown> & { issuedAt: number }): number {
  const life = lifetime(issued);
  return Math.min(life / 2, Math.max(life * REFRESH_AHEAD_FRACTION, REFRESH_AHEAD_FLOOR_MS));
}

function hardMargin(issued: IssuedCredentials<unknown> & { issuedAt: number }): number {
  return Math.min(lifetime(issued) * HARD_MARGIN_FRACTION, HARD_MARGIN_CEILING_MS);
}
