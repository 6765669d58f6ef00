import type { ObjectStore } from './object-store.js';
import type { StorageConfig } from './config.js';
import type { ProxyEnv } from '../http/index.js';
import { FileObjectStore } from './file.js';
import { S3ObjectStore } from './s3.js';

export type { ObjectStore, ObjectInfo, ObjectHead, PutOptions, Arbitration } from './object-store.js';
export {
  S3ObjectStore,
  mapS3Error,
  type S3ObjectStoreOptions,
  type ChecksumMode,
  type ConditionalWrites,
  type ObjectLockSettings,
} from './s3.js';
export { FileObjectStore, type FileObjectStoreOptions } from './file.js';
export {
  storageConfigSchema,
  s3StorageConfigSchema,
  fileStorageConfigSchema,
  type StorageConfig,
  type S3StorageConfig,
  type FileStorageConfig,
} from './config.js';
export { assertValidKey, compareKeys, normalizePrefix } from './keys.js';

/**
 * Builds the store named by the parsed `storage` section. S3 credentials come from the SDK
 * default chain (env, profile, IMDS, web identity): the config file never holds them.
 */
export function createObjectStore(config: StorageConfig, network: { proxy?: ProxyEnv | undefined } = {}): ObjectStore {
  switch (config.kind) {
    case 's3':
      return new S3ObjectStore({
        bucket: config.bucket,
        region: config.region,
        ...(config.prefix !== undefined ? { prefix: config.prefix } : {}),
        ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
        ...(config.forcePathStyle !== undefined ? { forcePathStyle: config.forcePathStyle } : {}),
        ...(config.requestChecksumCalculation !== undefined ? { requestChecksumCalculation: config.requestChecksumCalculation } : {}),
        ...(config.responseChecksumValidation !== undefined ? { responseChecksumValidation: config.responseChecksumValidation } : {}),
        ...(config.conditionalWrites !== undefined ? { conditionalWrites: config.conditionalWrites } : {}),
        ...(config.objectLock !== undefined ? { objectLock: config.objectLock } : {}),
        ...(network.proxy !== undefined ? { proxy: network.proxy } : {}),
      });
    case 'file':
      return new FileObjectStore({ path: config.path, ...(config.prefix !== undefined ? { prefix: config.prefix } : {}) });
  }
}
