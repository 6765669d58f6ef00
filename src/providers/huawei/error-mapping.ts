import { z } from 'zod';
import {
  ProviderAuthError,
  type ProviderError,
  ProviderServerError,
  ProviderThrottledError,
  ProviderValidationError,
  type ProviderErrorDetails,
} from '../../errors/index.js';
import { parseJsonBody } from '../../http/index.js';

/**
 * Huawei Cloud error body: `{ "error_code": "APIGW.0301", "error_msg": "…" }` (API Gateway and the
 * seed APIs); some services answer `{ code, message }` instead, so both are read.
 */
export const huaweiErrorBodySchema = z
  .object({
    error_code: z.string().optional(),
    error_msg: z.string().optional(),
    code: z.string().optional(),
    message: z.string().optional(),
    request_id: z.string().optional(),
  })
  .passthrough();

export type HuaweiErrorBody = z.infer<typeof huaweiErrorBodySchema>;

/** API Gateway's throttling code (sent with HTTP 429). */
export const HUAWEI_THROTTLE_CODE = 'APIGW.0308';

/**
 * API Gateway codes that mean "who you are or what you may do is wrong": retrying cannot help.
 * 0101: API not found/published for this caller (usually a wrong endpoint or region);
 * 0301/0303/0305: IAM / app / generic authentication failed; 0302/0304/0306: not authorised;
 * 0307: token must be refreshed.
 */
export const HUAWEI_AUTH_CODES: ReadonlySet<string> = new Set([
  'APIGW.0101',
  'APIGW.0301',
  'APIGW.0302',
  'APIGW.0303',
  'APIGW.0304',
  'APIGW.0305',
  'APIGW.0306',
  'APIGW.0307',
]);

/** The Huawei error body of a failed answer, or undefined when the body is not one (HTML from a gateway). */
export function huaweiErrorBodyOf(text: string): HuaweiErrorBody | undefined {
  try {
    const parsed = huaweiErrorBodySchema.safeParse(parseJsonBody(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Retry-After (seconds or an HTTP date) in ms; undefined when absent or unreadable. */
export function retryAfterMs(headers: Record<string, string>, now: number = Date.now()): number | undefined {
  const value = headers['retry-after']?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

export interface HuaweiErrorInput {
  statusCode: number;
  headers: Record<string, string>;
  body: HuaweiErrorBody | undefined;
  details: ProviderErrorDetails & { source: string };
  /** Credential strings to scrub from the provider's message before it becomes ours. */
  secrets: readonly string[];
  /** Which credential mode was used, so the hint says what to fix. */
  mode: 'aksk' | 'token';
  /** Minimum wait after throttling for this attempt, in ms (the caller computes floor and growth). */
  throttleWaitMs: number;
}

/** Turns a non-2xx Huawei answer into the typed error the retry loop and the operator understand. */
export function mapHuaweiError(input: HuaweiErrorInput): ProviderError {
  const { statusCode, headers, body, details, secrets, mode } = input;
  const code = body?.error_code ?? body?.code;
  const requestId = headers['x-request-id'] ?? body?.request_id;
  const said = scrub(body?.error_msg ?? body?.message ?? '', secrets);
  const where = `${details.source}${details.provider ? ` (${details.provider})` : ''}`;
  const message = `${where}: HTTP ${statusCode}${code ? ` ${code}` : ''}${said ? `: ${said}` : ''}`;
  const common: ProviderErrorDetails = { ...details, statusCode, providerCode: code, requestId };

  if (statusCode === 429 || code === HUAWEI_THROTTLE_CODE) {
    const asked = retryAfterMs(headers);
    return new ProviderThrottledError(message, {
      ...common,
      retryAfterMs: Math.max(asked ?? 0, input.throttleWaitMs),
      hint: 'the API throttled this caller; retried with backoff (lower the schedule frequency if it persists)',
    });
  }
  if (statusCode >= 500) {
    return new ProviderServerError(message, { ...common, hint: 'the provider failed; retried with backoff' });
  }
  // 408: the gateway gave up waiting for the request (a slow link or an overloaded backend); the
  // request itself was fine, so it is retried like a 5xx, not reported as a config error. Checked
  // before the auth codes: a timeout says nothing about the credentials.
  if (statusCode === 408) {
    return new ProviderServerError(message, { ...common, hint: 'the request timed out at the provider; retried with backoff' });
  }
  if (statusCode === 401 || statusCode === 403 || (code !== undefined && HUAWEI_AUTH_CODES.has(code))) {
    return new ProviderAuthError(message, { ...common, hint: authHint(details.source, mode, code) });
  }
  return new ProviderValidationError(message, {
    ...common,
    hint: `check sources[${details.source}].params (project, cluster/instance, workspace ids) and the endpoint`,
  });
}

function authHint(source: string, mode: 'aksk' | 'token', code: string | undefined): string {
  if (code === 'APIGW.0101') {
    return `source ${source}: the API is not published at this endpoint; check the endpoint/region of the source`;
  }
  const permission = 'the IAM user also needs permission for this service in the project';
  return mode === 'aksk'
    ? `source ${source}: check credentials.ak / credentials.sk (the SK must belong to the AK, the key must be enabled, ` +
        `a temporary key needs its securityToken and must not be expired, the host clock must be within 15 minutes); ${permission}`
    : `source ${source}: the IAM token in credentials.token is invalid or expired (tokens last 24 h); ` +
        `issue a new one or configure ak/sk instead; ${permission}`;
}

function scrub(text: string, secrets: readonly string[]): string {
  let out = text.slice(0, 500);
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  return out;
}
