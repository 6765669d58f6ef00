export { ManifestLedger, type SpooledBatch, type CommitRequest, type Recovered, type LedgerOptions } from './ledger.js';
export { decodeManifest, encodeManifest, manifestSchema, sha256Hex, type Manifest, type ManifestProblem } from './manifest.js';
export {
  DATA_SUFFIX,
  dataKey,
  manifestKey,
  manifestPrefix,
  intentKey,
  intentPrefix,
  parseSeqKey,
} from './layout.js';
export { verifyArchive, type ExpectedHead, type VerifyReport, type Problem, type ProblemKind, type SourceSummary } from './verify.js';
