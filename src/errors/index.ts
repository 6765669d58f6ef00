export { ArchiverError } from './archiver-error.js';
export { ConfigError, type ConfigIssue } from './config-error.js';
export {
  ProviderError,
  ProviderThrottledError,
  ProviderServerError,
  ProviderNetworkError,
  ProviderResponseError,
  ProviderAuthError,
  ProviderValidationError,
  ProviderStreamError,
  SkippedStreamsError,
  type ProviderErrorDetails,
} from './provider-error.js';
export { StorageError, ObjectExistsError } from './storage-error.js';
export { LeaseBusyError, LeaseLostError } from './lease-error.js';
export { ShutdownError } from './shutdown-error.js';
export { CredentialError } from './credential-error.js';
export { DependencyUnavailableError } from './dependency-unavailable-error.js';
export { ArchiveTamperedError, CommitConflictError, ArchiveOwnedError, ArchiveFormatError } from './archive-error.js';
