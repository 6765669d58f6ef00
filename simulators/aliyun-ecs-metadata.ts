import { randomBytes } from 'node:crypto';
import { HttpSimulator } from './http-simulator.js';
import type { SimRequest, SimResponse } from './http-types.js';
import { SimulatedApi } from './simulated-api.js';
import type { IssuedAccessKey, TemporaryKeyring } from './temporary-credentials.js';

const CREDENTIALS_PATH = '/latest/meta-data/ram/security-credentials/';

export interface EcsMetadataSimulatorOptions {
  keyring: TemporaryKeyring;
  /** The RAM role attached to the simulated instance; none when unset. */
  roleName?: string;
  /** Security hardening mode only (HttpTokens=required): every request needs a session token. @defaultValue true */
  hardenedOnly?: boolean;
  /** Lifetime of the role's temporary keys, in ms (the real service: hours). @defaultValue 6 h */
  lifetimeMs?: number;
  now?: () => number;
}

/**
 * The ECS instance metadata service as documented for the instance RAM role: `PUT /latest/api/token`
 * with `X-aliyun-ecs-metadata-token-ttl-seconds` (1-21600) answers a session token, sent back as
 * `X-aliyun-ecs-metadata-token`; `GET /latest/meta-data/ram/security-credentials/` names the role,
 * `…/<role>` answers `{ AccessKeyId, AccessKeySecret, Expiration, SecurityToken, LastUpdated, Code }`.
 * Like the real service it hands out the same keys until half their lifetime is over, then new ones.
 */
export class EcsMetadataSimulator extends SimulatedApi {
  protected readonly http: HttpSimulator;
  readonly #options: EcsMetadataSimulatorOptions;
  readonly #sessions = new Map<string, number>();
  #current: (IssuedAccessKey & { issuedAt: number }) | undefined;
  /** Requests refused for a missing or expired session token. */
  refusedWithoutToken = 0;

  constructor(options: EcsMetadataSimulatorOptions) {
    super();
    this.#options = options;
    this.http = new HttpSimulator({
      handler: (request) => this.#handle(request),
      renderError: () => ({ status: 500, body: 'Internal Server Error' }),
    });
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  #handle(request: SimRequest): SimResponse {
    if (request.path === '/latest/api/token') {
      if (request.method !== 'PUT') return { status: 405, body: 'Method Not Allowed' };
      const ttl = Number(request.headers['x-aliyun-ecs-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) return { status: 400, body: 'Bad Request' };
      const token = randomBytes(32).toString('base64url');
      this.#sessions.set(token, this.#now() + ttl * 1000);
      return { status: 200, headers: { 'content-type': 'text/plain' }, body: token };
    }
    if (request.method !== 'GET') return { status: 405, body: 'Method Not Allowed' };
    const session = request.headers['x-aliyun-ecs-metadata-token'];
    const validUntil = session === undefined ? undefined : this.#sessions.get(session);
    if ((this.#options.hardenedOnly ?? true) && (validUntil === undefined || validUntil <= this.#now())) {
      this.refusedWithoutToken += 1;
      return { status: 401, body: 'Unauthorized' };
    }
    if (!request.path.startsWith(CREDENTIALS_PATH)) return { status: 404, body: 'Not Found' };
    const role = decodeURIComponent(request.path.slice(CREDENTIALS_PATH.length));
    if (role === '')
      return {
        status: this.#options.roleName ? 200 : 404,
        headers: { 'content-type': 'text/plain' },
        body: this.#options.roleName ?? 'Not Found',
      };
    if (role !== this.#options.roleName) return { status: 404, body: 'Not Found' };
    const lifetime = this.#options.lifetimeMs ?? 6 * 3_600_000;
    const now = this.#now();
    if (!this.#current || now >= this.#current.issuedAt + lifetime / 2) {
      this.#current = { ...this.#options.keyring.issue(lifetime, `ecs:${role}`), issuedAt: now };
    }
    const key = this.#current;
    const second = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return {
      status: 200,
      body: {
        AccessKeyId: key.accessKeyId,
        AccessKeySecret: key.accessKeySecret,
        Expiration: second(key.expiresAt),
        SecurityToken: key.securityToken,
        LastUpdated: second(key.issuedAt),
        Code: 'Success',
      },
    };
  }
}
