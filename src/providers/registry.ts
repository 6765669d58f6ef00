import type { Provider } from './provider.js';
import { aliyunDataWorksDqScanLog } from './aliyun-dataworks-dq-scan-log.js';
import { aliyunOosExecutionLogs } from './aliyun-oos-execution-logs.js';
import { aliyunSddpMaskingHistory } from './aliyun-sddp-masking-history.js';
import { huaweiDataArtsAccessLogProvider } from './huawei-dataarts-accesslog.js';
import { huaweiDwsAuditLogRecordsProvider } from './huawei-dws-audit-log-records.js';

// One line per provider; the config schema and the drain look providers up here.
// biome-ignore lint/suspicious/noExplicitAny: the five differ in their types; the map below erases them to unknown
const all: Provider<any, any, any>[] = [
  aliyunDataWorksDqScanLog,
  aliyunOosExecutionLogs,
  aliyunSddpMaskingHistory,
  huaweiDataArtsAccessLogProvider,
  huaweiDwsAuditLogRecordsProvider,
];

export const providers: ReadonlyMap<string, Provider<unknown, unknown, unknown>> = new Map(
  all.map((p) => [p.id, p as Provider<unknown, unknown, unknown>]),
);

export const providerIds: readonly string[] = all.map((p) => p.id);

/** Looks a provider up by its id (`aliyun-oos-execution-logs`). */
export function getProvider(id: string): Provider<unknown, unknown, unknown> {
  const provider = providers.get(id);
  if (!provider) throw new Error(`unknown provider ${id}`);
  return provider;
}
