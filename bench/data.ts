/**
 * Deterministic, realistic-looking provider data for the benchmark. The same seed always gives
 * the same bytes, so runs are comparable across machines and commits.
 *
 * DataWorks lines imitate a data-quality scan log: timestamps, levels, rule and table names, SQL
 * with quotes (JSON escaping work), Chinese messages and the odd emoji (multi-byte UTF-8, so byte
 * offsets differ from string lengths), Java stack traces with tabs, and occasional long payload
 * dumps. Line lengths vary from a few bytes to several KB, averaging about 130 bytes.
 */

import type { OosExecutionLog } from '../simulators/index.js';
import { pick, prng } from '../test/helpers/random.js';

export { prng };

const TABLES = ['ods_trade_order_di', 'dwd_user_login_hi', 'dim_sku_df', 'ads_gmv_report_1d', 'ods_app_event_log_hh', 'dws_member_tag_di'];
const RULES = [
  '表行数不为0',
  'primary key unique',
  'null ratio of buyer_id <= 0.1%',
  '波动率 7 天平均 ±5%',
  'enum check on status',
  'amount >= 0',
];
const PROJECTS = ['retail_prod', 'finance_dw', 'growth_analytics', '数据中台_prod'];
const CN = ['数据质量校验完成', '规则执行成功', '阈值告警：波动超出预期', '分区数据为空，跳过校验', '正在提交 SQL 任务', '校验结果已写入'];
const FRAMES = [
  'com.alibaba.dataworks.dq.engine.RuleExecutor.execute(RuleExecutor.java:214)',
  'com.alibaba.dataworks.dq.engine.ScanTask.run(ScanTask.java:88)',
  'com.aliyun.odps.task.SQLTask.waitForResult(SQLTask.java:402)',
  'java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1149)',
  'java.lang.Thread.run(Thread.java:750)',
];

function int(rand: () => number, below: number): number {
  return Math.floor(rand() * below);
}

function stamp(ms: number): string {
  // `2026-01-01 08:00:00,123`, the log4j layout DataWorks engines print.
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '').replace('.', ',');
}

/** Text of one DataWorks log line (no newline). */
function dataWorksLine(rand: () => number, runId: number, ms: number, seq: number): string[] {
  const head = `${stamp(ms)} `;
  const r = rand();
  const table = `${pick(rand, PROJECTS)}.${pick(rand, TABLES)}`;
  const dt = `2026${String(1 + int(rand, 12)).padStart(2, '0')}${String(1 + int(rand, 28)).padStart(2, '0')}`;
  if (r < 0.4) {
    return [`${head}INFO  [dq-scan-${runId}] rule #${seq % 997} (${pick(rand, RULES)}) checking ${table} partition dt=${dt}`];
  }
  if (r < 0.55) {
    return [
      `${head}INFO  [dq-scan-${runId}] SQL: SELECT COUNT(*) AS cnt, SUM(CASE WHEN status IN ("PAID","SHIPPED") THEN 1 ELSE 0 END) AS ok FROM ${table} WHERE dt='${dt}' AND region = "cn-hangzhou"`,
    ];
  }
  if (r < 0.75) {
    return [`${head}INFO  [dq-scan-${runId}] ${pick(rand, CN)}，表 ${table}，耗时 ${int(rand, 90_000)} ms`];
  }
  if (r < 0.85) {
    const expected = int(rand, 1_000_000);
    return [
      `${head}WARN  [dq-scan-${runId}] threshold exceeded on ${table}: expected <= ${expected}, actual ${expected + int(rand, 50_000)} ⚠️ 请检查上游`,
    ];
  }
  if (r < 0.93) return [`${head}DEBUG [dq-scan-${runId}] heartbeat ${seq}`];
  if (r < 0.97) {
    const lines = [
      `${head}ERROR [dq-scan-${runId}] rule #${seq % 997} failed: java.lang.RuntimeException: ODPS-0130071: Semantic analysis exception - column "buyer_id" cannot be resolved`,
    ];
    const depth = 2 + int(rand, FRAMES.length * 2);
    for (let i = 0; i < depth; i += 1) lines.push(`\tat ${pick(rand, FRAMES)}`);
    return lines;
  }
  if (r < 0.995) return [''];
  // A long payload dump: a JSON snippet with escapes, 1-6 KB on one line.
  const parts: string[] = [];
  const n = 10 + int(rand, 60);
  for (let i = 0; i < n; i += 1)
    parts.push(`{"col":"c${i}","nullRatio":${rand().toFixed(6)},"sample":"a\\tb \\"q\\" ${pick(rand, CN)} 🚀"}`);
  return [`${head}INFO  [dq-scan-${runId}] profile result: [${parts.join(',')}]`];
}

/** What a generated DataWorks log holds. */
export interface DataWorksLogStats {
  lines: number;
  bytes: number;
}

/**
 * Yields the log of run `runId` as text chunks of about `chunkBytes` (each ending in `\n`) until
 * at least `targetBytes` bytes of UTF-8 have been produced; `stats` is filled as it goes.
 */
export function* dataWorksLog(
  runId: number,
  targetBytes: number,
  seed: number,
  stats: DataWorksLogStats,
  chunkBytes = 16_000_000,
): Generator<string> {
  const rand = prng(seed);
  let ms = Date.UTC(2026, 0, 1, 8, 0, 0);
  let seq = 0;
  let chunk: string[] = [];
  let chunkLen = 0;
  while (stats.bytes < targetBytes) {
    ms += int(rand, 250);
    for (const line of dataWorksLine(rand, runId, ms, seq)) {
      chunk.push(line);
      // Counted per line (not per chunk) so the target is met within one line's worth.
      const bytes = Buffer.byteLength(line, 'utf8') + 1;
      stats.bytes += bytes;
      chunkLen += bytes;
      stats.lines += 1;
    }
    seq += 1;
    if (chunkLen >= chunkBytes) {
      chunk.push('');
      yield chunk.join('\n');
      chunk = [];
      chunkLen = 0;
    }
  }
  if (chunk.length > 0) {
    chunk.push('');
    yield chunk.join('\n');
  }
}

const OOS_MESSAGES = [
  'Execution started.',
  'Task ACS::ECS::RunCommand started on instance i-bp1{id}.',
  'Task output: {"exitCode":0,"stdout":"Filesystem  Size  Used Avail Use%\\n/dev/vda1  40G  12G  26G  32% /\\n"}',
  '任务执行成功，输出已保存到 OSS：oss://ops-logs/{id}/output.txt',
  'Waiting for instance i-bp1{id} to reach status Running (attempt {n})',
  'Task ACS::Sleep completed after {n} seconds',
  'Loop item 10.0.{n}.{id}: 执行中 ✓',
  'Execution failed: InvalidInstance.NotFound - The specified instance "i-bp1{id}" does not exist.',
];

/**
 * `count` entries of OOS execution `executionId`, deterministic for `seed`, with explicit
 * timestamps so their JSON size is known here; `bytes` is the UTF-8 JSON size of the entries.
 */
export function oosEntries(executionId: string, count: number, seed: number): { entries: OosExecutionLog[]; bytes: number } {
  const rand = prng(seed);
  const entries: OosExecutionLog[] = [];
  let bytes = 0;
  const base = Date.UTC(2026, 0, 1);
  for (let i = 0; i < count; i += 1) {
    let message = pick(rand, OOS_MESSAGES)
      .replaceAll('{id}', (1_000_000 + int(rand, 9_000_000)).toString(36))
      .replaceAll('{n}', String(int(rand, 255)));
    // Every 50th entry carries a longer script output, as RunCommand tasks do.
    if (i % 50 === 7) message += ` ${'output line ✓ 日志\\n'.repeat(5 + int(rand, 40))}`;
    const entry: OosExecutionLog = {
      TaskExecutionId: `${executionId}.t${String(1 + (i % 12)).padStart(4, '0')}`,
      Message: message,
      LogType: rand() < 0.8 ? 'Task' : 'System',
      Timestamp: new Date(base + i * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
    bytes += Buffer.byteLength(JSON.stringify(entry), 'utf8');
    entries.push(entry);
  }
  return { entries, bytes };
}
