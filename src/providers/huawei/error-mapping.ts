import { z } from 'zod';
import {
  ProviderAuthError,
  type ProviderError,
  ProviderServerError,
  ProviderThrottledError,
  ProviderValidationError,
  type ProviderErrorDetails,
} from '../../errors/index.js';
import { retryAfterMs, type CloudDialect, type FailedAnswer } from '../../http/index.js';

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

/** Turns a non-2xx Huawei answer into the typed error the retry loop and the operator understand. */
export function mapHuaweiError(input: FailedAnswer<HuaweiErrorBody>): ProviderError {
  const { statusCode, headers, body, details } = input;
  const mode = input.credentialKind === 'token' ? 'token' : 'aksk';
  const code = body?.error_code ?? body?.code;
  const requestId = headers['x-request-id'] ?? body?.request_id;
  const said = input.scrub(body?.error_msg ?? body?.message ?? '');
  const where = `${details.source}${details.provider ? ` (${details.provider})` : ''}`;
  const message = `${where}: HTTP ${statusCode}${code ? ` ${code}` : ''}${said ? `: ${said}` : ''}`;
  const common: ProviderErrorDetails = { ...details, statusCode, providerCode: code, requestId };

  if (statusCode === 429 || code === HUAWEI_THROTTLE_CODE) {
    // The least wait (API Gateway quotas are per second/minute) is the retry policy's throttle floor.
    const asked = retryAfterMs(headers);
    return new ProviderThrottledError(message, {
      ...common,
      ...(asked === undefined ? {} : { retryAfterMs: asked }),
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

/**
 * Least wait after a Huawei throttling answer (APIGW.0308), in ms: API Gateway quotas are per
 * second/minute, so retrying sooner only burns attempts. The first wait is 1–2.5× the floor
 * (2–5 s by default) and doubles with each further attempt (the retry policy's throttle floor).
 */
export const DEFAULT_THROTTLE_FLOOR_MS = 2_000;

/** What the shared JSON client needs to know of Huawei Cloud answers. */
export const huaweiDialect: CloudDialect<HuaweiErrorBody> = {
  errorBodySchema: huaweiErrorBodySchema,
  requestId: (headers) => headers['x-request-id'],
  mapError: mapHuaweiError,
};
