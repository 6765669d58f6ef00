import { randomBytes } from 'node:crypto';

/** One temporary Alibaba AccessKey as STS or the metadata service issues it. */
export interface IssuedAccessKey {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
  expiresAt: number;
  /** What issued it (`AssumeRole acs:ram::…`, `ecs:role`), for tests. */
  issuedBy: string;
}

/**
 * The keys an issuer (the STS or metadata simulator) handed out, which the API simulators accept
 * until they expire: the shared memory of one simulated account.
 */
export class TemporaryKeyring {
  readonly #keys = new Map<string, IssuedAccessKey>();
  /** Requests refused because their key had expired, for tests ("never sent expired"). */
  expiredRefusals = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** A new key valid for `lifetimeMs`; Alibaba states expiry to the second, so it is rounded down to one. */
  issue(lifetimeMs: number, issuedBy: string): IssuedAccessKey {
    const expiresAt = Math.floor((this.now() + lifetimeMs) / 1000) * 1000;
    const key: IssuedAccessKey = {
      accessKeyId: `STS.${randomBytes(12).toString('base64url')}`,
      accessKeySecret: randomBytes(22).toString('base64url'),
      securityToken: `CAIS${randomBytes(48).toString('base64url')}`,
      expiresAt,
      issuedBy,
    };
    this.#keys.set(key.accessKeyId, key);
    return key;
  }

  /** The key with this id, expired or not; undefined when it was never issued. */
  find(accessKeyId: string): IssuedAccessKey | undefined {
    return this.#keys.get(accessKeyId);
  }

  /** Whether `key` is expired now (and counts the refusal). */
  refuseIfExpired(key: IssuedAccessKey): boolean {
    if (this.now() < key.expiresAt) return false;
    this.expiredRefusals += 1;
    return true;
  }

  /** How many keys were issued. */
  get issued(): number {
    return this.#keys.size;
  }

  /** Keys issued by `issuedBy` (a prefix), in order. */
  issuedBy(prefix: string): IssuedAccessKey[] {
    return [...this.#keys.values()].filter((k) => k.issuedBy.startsWith(prefix));
  }
}

/** One IAM token as the Huawei IAM simulator issued it. */
export interface IssuedToken {
  token: string;
  expiresAt: number;
  /** `password:<domain>/<user>` or `assume_role:<domain>/<agency>`. */
  issuedBy: string;
  /** Project id the token is scoped to, when project-scoped. */
  projectId: string | undefined;
}

/** The IAM tokens issued so far, which the Huawei API simulators accept until they expire. */
export class IssuedTokens {
  readonly #tokens = new Map<string, IssuedToken>();
  expiredRefusals = 0;

  constructor(private readonly now: () => number = Date.now) {}

  issue(lifetimeMs: number, issuedBy: string, projectId: string | undefined): IssuedToken {
    // Real tokens are several KB of base64 (a PKI blob starting with MII); length matters to headers.
    const token: IssuedToken = {
      token: `MII${randomBytes(900).toString('base64')}`,
      expiresAt: this.now() + lifetimeMs,
      issuedBy,
      projectId,
    };
    this.#tokens.set(token.token, token);
    return token;
  }

  find(token: string): IssuedToken | undefined {
    return this.#tokens.get(token);
  }

  /** 'valid', 'expired' (counted) or 'unknown' for a token presented now. */
  check(token: string): 'valid' | 'expired' | 'unknown' {
    const found = this.#tokens.get(token);
    if (!found) return 'unknown';
    if (this.now() < found.expiresAt) return 'valid';
    this.expiredRefusals += 1;
    return 'expired';
  }

  get issued(): number {
    return this.#tokens.size;
  }

  issuedBy(prefix: string): IssuedToken[] {
    return [...this.#tokens.values()].filter((t) => t.issuedBy.startsWith(prefix));
  }
}
