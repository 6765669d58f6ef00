import type { HttpClient, RetryPolicy } from '../http/index.js';
import type { Logger } from '../observability/index.js';
import type { SharedCredentials } from './shared-credentials.js';

/** What a cloud needs to turn configured credentials into a source: HTTP, backoff, a log, and the shared cache. */
export interface CredentialServices {
  http: HttpClient;
  /** Backoff of the calls to the issuer (STS, IAM, the metadata service). */
  retry: RetryPolicy;
  logger: Logger;
  now?: () => number;
  /** The source already open under `key`, or the one `open` makes (kept for the process's lifetime). */
  shared<K>(key: string, open: () => SharedCredentials<K>): SharedCredentials<K>;
}

/**
 * One credential source per distinct credentials for the whole process, so that every source
 * with the same role, user or instance shares one session and one refresh.
 */
export class CredentialRegistry {
  readonly #open = new Map<string, SharedCredentials<unknown>>();

  /** Services whose `shared` cache is this registry. */
  services(base: Omit<CredentialServices, 'shared'>): CredentialServices {
    return {
      ...base,
      shared: <K>(key: string, open: () => SharedCredentials<K>): SharedCredentials<K> => {
        let source = this.#open.get(key) as SharedCredentials<K> | undefined;
        if (!source) {
          source = open();
          this.#open.set(key, source as SharedCredentials<unknown>);
        }
        return source;
      },
    };
  }

  /** How many distinct credentials are open (for tests and status). */
  get size(): number {
    return this.#open.size;
  }
}
