/**
 * HTTP simulators of the five provider APIs, written field by field from the API documents. They
 * are the tests' oracle and the demo's providers, so they import nothing of the archiver: they
 * verify signatures as the clouds document them and compute the expected archive ids themselves.
 * Fault injection is the test kit's (`faults.ts`), not part of this face.
 */
export { SimulatorFleet, FLEET_CREDENTIALS, type FleetOptions, type FleetSource } from './fleet.js';
export {
  DataWorksSimulator,
  type DataWorksSimulatorOptions,
  type DataWorksExpectedRecord,
  type ScanRunInfo,
} from './aliyun-dataworks.js';
export {
  OosSimulator,
  OOS_INVALID_TOKEN_CODE,
  type OosExecutionLog,
  type OosExecutionInfo,
  type OosSimulatorOptions,
  type OosExpectedRecord,
} from './aliyun-oos.js';
export { SddpSimulator, type SddpMaskingRun, type SddpSimulatorOptions, type SddpExpectedRecord } from './aliyun-sddp.js';
export { SIMULATOR_ACCESS_KEY, type AliyunSimulatorOptions } from './aliyun-rpc.js';
export { HuaweiDataArtsSimulator, type InstanceAccessLog, type HuaweiDataArtsSimulatorOptions } from './huawei-dataarts.js';
export { HuaweiDwsSimulator, type AuditDumpRecord, type HuaweiDwsSimulatorOptions, type DwsRecordMatch } from './huawei-dws.js';
export type { HuaweiSimAuth } from './huawei-auth.js';
export { TemporaryKeyring, IssuedTokens, type IssuedAccessKey, type IssuedToken } from './temporary-credentials.js';
export { AliyunStsSimulator, signOidcToken, type StsSimulatorOptions, type SimulatedRole } from './aliyun-sts.js';
export { EcsMetadataSimulator, type EcsMetadataSimulatorOptions } from './aliyun-ecs-metadata.js';
export { HuaweiIamSimulator, type HuaweiIamSimulatorOptions, type SimulatedIamUser, type SimulatedAgency } from './huawei-iam.js';
export { HttpSimulator, type HttpSimulatorOptions } from './http-simulator.js';
export type { SimRequest, SimResponse, FaultKind, FaultControl } from './http-types.js';
