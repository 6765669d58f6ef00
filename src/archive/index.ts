export { ManifestLedger, type SpooledBatch, type CommitRequest, type Recovered, type LedgerOptions, type Assessment } from './ledger.js';
export {
  chainEntrySchema,
  dataManifestSchema,
  decodeEntry,
  encodeEntry,
  decodeSigned,
  encodeSigned,
  sha256Hex,
  type ChainEntry,
  type DataManifest,
  type Finding,
  type Acknowledgement,
} from './manifest.js';
export {
  KeyRing,
  ed25519SigningKey,
  ed25519VerifyKey,
  hmacSigningKey,
  signedPayload,
  type SigningKey,
  type VerifyKey,
  type SignatureCheck,
} from './signing.js';
export { OwnerGuard, operator, type OwnerRecord } from './owner.js';
export * as layout from './layout.js';
export { DATA_SUFFIX } from './layout.js';
export {
  verifyArchive,
  verifySource,
  type VerifiedPoint,
  type VerifySince,
  type ExpectedHead,
  type VerifyReport,
  type Problem,
  type ProblemKind,
  type SourceSummary,
} from './verify.js';
