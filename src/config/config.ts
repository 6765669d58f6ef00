import type { Schedule } from './schema.js';
import type { RedisConfig } from '../redis/index.js';
import type { KeyRing } from '../archive/index.js';
import type { StorageConfig } from '../storage/index.js';
import type { ProxyEnv } from '../http/index.js';

/** A source after validation: provider-specific params and credentials checked by the provider. */
export interface SourceConfig {
  id: string;
  provider: string;
  schedule: Schedule;
  endpoint: string;
  credentials: unknown;
  params: unknown;
  timeoutMs: number;
  enabled: boolean;
}

/** The whole validated config; every default applied. */
export interface ArchiverConfig {
  redis: RedisConfig | undefined;
  storage: StorageConfig;
  /** `deployment`: this deployment's name in the archive's owner record (see ownerIdentity). */
  checkpoints: { kind: 'redis' | 'file'; path: string; deployment: string | undefined };
  batch: { maxRecords: number; maxBytes: number; gzipLevel: number; maxSeconds: number };
  worker: {
    concurrency: number;
    leaseTtlMs: number;
    /** Worker drains yield after this long (fairness); run-once ignores it. */
    maxDrainMs: number;
    shutdownTimeoutMs: number;
    metricsPort: number | undefined;
    metricsHost: string;
    dashboard: { enabled: boolean; readOnly: boolean; basicAuth: { username: string; password: string } | undefined };
  };
  /** `proxy`: from HTTP_PROXY, HTTPS_PROXY and NO_PROXY, for provider and storage calls alike. */
  http: { timeoutMs: number; maxBodyBytes: number; maxAttempts: number; proxy: ProxyEnv | undefined };
  /** Signing and verification keys, and how often each source gets a signed digest. */
  manifests: { keys: KeyRing; digestIntervalMs: number };
  sources: SourceConfig[];
}
