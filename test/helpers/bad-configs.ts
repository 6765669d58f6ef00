/** A secret planted in bad configs: no problem report may echo it. */
export const PLANTED_SECRET = 'sEcReT-value-that-must-never-print';

/** A config the archiver must refuse, and the problems (by path) it must name. */
export interface BadConfig {
  name: string;
  text: string;
  /** Each must match one reported `path: message`. */
  expected: RegExp[];
  /** The whole report, when it must be exactly this. */
  exact?: string[];
  atLeast?: number;
}

/** The bad-config cases: the config tests parse them, the validate tests run them through the CLI. */
export const BAD_CONFIGS: BadConfig[] = [
  {
    name: 'lists every problem by path, without echoing values',
    text: `
storage: { kind: s3, region: us-east-1 }
batch: { maxRecords: 0, gzipLevel: 12 }
sources:
  - id: Bad Id
    provider: aliyun-dataworks-dq-scan-log
    credentials: { accessKeyId: x, accessKeySecret: "${PLANTED_SECRET}" }
    params: { runIds: ["${PLANTED_SECRET}"] }
  - id: ok-source
    provider: no-such-provider
    params: {}
  - id: ok-source
    provider: aliyun-oos-execution-logs
    schedule: { cron: "not a cron" }
    endpoint: http://127.0.0.1:1
    credentials: { accessKeyId: x }
    params: { executionIds: [] }
`,
    expected: [
      /^batch\.maxRecords: /,
      /^batch\.gzipLevel: /,
      /^storage\.bucket: required/,
      /^sources\[0\]\.id: /,
      /^sources\[1\]\.provider: unknown provider "no-such-provider"/,
      /^sources\[2\]\.id: duplicate id ok-source/,
      /^sources\[2\]\.schedule/,
    ],
    atLeast: 7,
  },
  {
    name: 'names the provider params and credentials that are wrong',
    text: `
storage: { kind: file, path: ./archive }
sources:
  - id: a
    provider: aliyun-dataworks-dq-scan-log
    endpoint: http://127.0.0.1:1
    credentials: { accessKeyId: x }
    params: { runIds: "10001" }
`,
    expected: [/^sources\[0\]\.params\.runIds: /, /^sources\[0\]\.credentials\.accessKeySecret: required/],
  },
  {
    name: 'reports unset environment variables by path, and missing credentials with the variables to set',
    text: `
storage: { kind: file, path: "\${ARCHIVE_DIR}" }
sources:
  - id: a
    provider: aliyun-oos-execution-logs
    params: { regionId: cn-hangzhou, executionIds: [e] }
`,
    expected: [
      /^storage\.path: environment variable ARCHIVE_DIR is not set$/,
      /^sources\[0\]\.credentials: required: set credentials, or ALIBABA_CLOUD_ACCESS_KEY_ID/,
    ],
  },
  {
    name: 'rejects durations that would break at run time',
    text: `
storage: { kind: file, path: ./a }
worker: { leaseTtl: 100ms, shutdownTimeout: 30d }
http: { timeout: 2500.5 }
sources:
  - { id: a, provider: aliyun-oos-execution-logs, endpoint: "http://127.0.0.1:1", credentials: { accessKeyId: x, accessKeySecret: y }, params: { regionId: r, executionIds: [e] } }
`,
    expected: [
      /^worker\.leaseTtl: expected at least 3s/,
      /^worker\.shutdownTimeout: expected at most 1d/,
      /^http\.timeout: expected a duration/,
    ],
  },
  {
    name: 'rejects YAML syntax errors',
    text: 'storage: [unclosed',
    expected: [/^line \d+: /],
  },
  {
    name: 'rejects redis checkpoints without redis',
    text: `
storage: { kind: file, path: ./a }
checkpoints: { kind: redis }
sources:
  - { id: a, provider: aliyun-oos-execution-logs, endpoint: "http://127.0.0.1:1", credentials: { accessKeyId: x, accessKeySecret: y }, params: { regionId: r, executionIds: [e] } }
`,
    expected: [],
    exact: ['checkpoints.kind: redis checkpoints need a redis section (redis.url)'],
  },
];
