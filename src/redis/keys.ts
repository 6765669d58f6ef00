/**
 * Every Redis key of one deployment, built in one place (after BullMQ's `QueueKeys`).
 *
 * All keys start with the hash tag `{prefix}`: Redis Cluster hashes only what is inside the
 * braces, so every key of a deployment — leases, the fence counter, checkpoints, status, rate
 * windows and BullMQ's own keys (through its `prefix` option) — lives in one slot, and the
 * multi-key Lua scripts (lease + fence, lease + checkpoint) never fail with CROSSSLOT. On a
 * standalone or Sentinel Redis the braces are just characters.
 *
 * Deliberately not part of it: what is stored under a key, and how it is read or fenced; the
 * owners of the keys (leases, checkpoints, rate limiting, the queue) decide that.
 */
export class RedisKeys {
  /** The configured `redis.prefix`, without braces. */
  readonly prefix: string;
  /** `{prefix}`: the hash tag every key starts with. */
  readonly tag: string;

  constructor(prefix: string) {
    if (/[{}]/.test(prefix)) throw new RangeError(`redis prefix must not contain braces (they are added): ${prefix}`);
    this.prefix = prefix;
    this.tag = `{${prefix}}`;
  }

  /** BullMQ's `prefix` option: its keys become `{prefix}:<queue>:<type>`, in the same slot as ours. */
  get bullmqPrefix(): string {
    return this.tag;
  }

  /** The lease of a source: holds the current fencing token, with a TTL. */
  lease(source: string): string {
    return this.#key('lease', source);
  }

  /** The fencing-token counter shared by every source of the deployment. */
  fence(): string {
    return this.#key('fence');
  }

  /** Which master's replication history the leases were written in; see RedisLeaseManager. */
  leaseEpoch(): string {
    return this.#key('lease-epoch');
  }

  /** The cached checkpoint (head manifest and provider position) of a source. */
  state(source: string): string {
    return this.#key('state', source);
  }

  /** The run status of a source (last success, last error) shown by `status`. */
  status(source: string): string {
    return this.#key('status', source);
  }

  /** The sliding window of a shared quota (`sddp:<account hash>`). */
  rateLimit(quota: string): string {
    return this.#key('rate', quota);
  }

  /** Digest of the config the drain queue's job schedulers were last brought in line with. */
  schedulers(): string {
    return this.#key('schedulers');
  }

  /** SCAN pattern matching every key of the deployment, BullMQ's included. */
  pattern(): string {
    return `${globEscape(this.tag)}:*`;
  }

  #key(...parts: string[]): string {
    return [this.tag, ...parts].join(':');
  }
}

/**
 * The key names of releases before hash tags (`prefix:lease:<source>`, BullMQ under `prefix:`),
 * read only to carry the fence counter and run status over to the new names once.
 */
export class LegacyRedisKeys {
  constructor(readonly prefix: string) {}

  fence(): string {
    return `${this.prefix}:fence`;
  }

  status(source: string): string {
    return `${this.prefix}:status:${source}`;
  }

  /** SCAN pattern of every key under the old names. */
  pattern(): string {
    return `${globEscape(this.prefix)}:*`;
  }
}

/** Escapes SCAN glob metacharacters (`{` and `}` are none). */
function globEscape(text: string): string {
  return text.replace(/[[\]*?\\]/g, '\\$&');
}
