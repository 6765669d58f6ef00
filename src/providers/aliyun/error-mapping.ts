import { z } from 'zod';
import {
  ProviderAuthError,
  ProviderResponseError,
  ProviderServerError,
  ProviderThrottledError,
  ProviderValidationError,
  type ProviderError,
  type ProviderErrorDetails,
} from '../../errors/index.js';
import type { CloudDialect, FailedAnswer } from '../../http/index.js';

/** Alibaba Cloud's error body (`{ RequestId, HostId, Code, Message, Recommend }`). */
export const aliyunErrorBodySchema = z
  .object({
    RequestId: z.string().optional(),
    HostId: z.string().optional(),
    Code: z.string().optional(),
    Message: z.string().optional(),
    Recommend: z.string().optional(),
  })
  .passthrough();

export type AliyunErrorBody = z.infer<typeof aliyunErrorBodySchema>;

const THROTTLING_CODES = new Set([
  'Throttling',
  'Throttling.User',
  'Throttling.Api',
  'Throttling.Concurrent',
  'ServiceUnavailable.Throttling',
]);

// Codes meaning "the credentials or their permissions are wrong": retrying cannot help.
const AUTH_CODE =
  /^(InvalidAccessKeyId|InvalidAccessKeySecret|SignatureDoesNotMatch|IncompleteSignature|InvalidSecurityToken|MissingSecurityToken|InvalidTimeStamp|Forbidden|NoPermission|InvalidAuthorization|AccessDenied|Unauthorized|MissingAuthorization)/;

/** What an operator should fix for each family of auth errors; never echoes a secret. */
function authHint(code: string): string {
  if (code.startsWith('InvalidAccessKeyId')) return 'the AccessKey ID does not exist or is disabled: check credentials.accessKeyId';
  if (code.startsWith('SignatureDoesNotMatch') || code.startsWith('IncompleteSignature'))
    return 'the signature did not verify: check credentials.accessKeySecret belongs to this AccessKey ID';
  if (code.startsWith('InvalidSecurityToken') || code.startsWith('MissingSecurityToken'))
    return 'the STS token is missing, invalid or expired: renew credentials.securityToken';
  if (code.startsWith('InvalidTimeStamp')) return "the request date was refused: check this host's clock (NTP)";
  return 'the AccessKey lacks permission for this action: grant it in RAM';
}

/**
 * `x-ratelimit-user-api` / `x-ratelimit-user` look like `Limit:10,Remain:0,TimeLeft:320,Reset:…`;
 * TimeLeft is the wait in ms until the window reopens. Returns the larger of the two, if any.
 */
export function retryAfterFromHeaders(headers: Record<string, string>): number | undefined {
  let best: number | undefined;
  for (const name of ['x-ratelimit-user-api', 'x-ratelimit-user']) {
    const match = /TimeLeft\s*[:=]\s*(\d+)/i.exec(headers[name] ?? '');
    if (!match) continue;
    const value = Number(match[1]);
    if (Number.isFinite(value) && (best === undefined || value > best)) best = value;
  }
  return best;
}

/** Maps a non-2xx answer to the typed error the retry loop and the operator understand. */
export function mapAliyunError(call: FailedAnswer<AliyunErrorBody>): ProviderError {
  const code = call.body?.Code ?? '';
  const message = call.scrub(call.body?.Message ?? '');
  const details: ProviderErrorDetails = {
    ...call.details,
    statusCode: call.statusCode,
    ...(code ? { providerCode: code } : {}),
    ...(call.body?.RequestId ? { requestId: call.body.RequestId } : {}),
  };
  const what = `source ${call.details.source}: ${call.call} answered HTTP ${call.statusCode}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`;

  if (THROTTLING_CODES.has(code) || code.startsWith('Throttling') || call.statusCode === 429) {
    const retryAfterMs = retryAfterFromHeaders(call.headers);
    return new ProviderThrottledError(what, { ...details, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
  }
  if (AUTH_CODE.test(code) || call.statusCode === 401 || call.statusCode === 403) {
    const hint = authHint(code);
    return new ProviderAuthError(`${what} — ${hint}`, { ...details, hint });
  }
  if (call.statusCode >= 500) return new ProviderServerError(what, details);
  if (code === 'SignatureNonceUsed') {
    // Every attempt carries a fresh nonce, so a collision is a fluke a re-signed retry fixes.
    return new ProviderResponseError(what, details);
  }
  if (call.body === undefined && call.statusCode === 408) return new ProviderServerError(what, details);
  if (call.body === undefined) {
    return new ProviderValidationError(`${what} (not an Alibaba Cloud API answer: is the endpoint right?)`, {
      ...details,
      hint: 'check sources[].endpoint',
    });
  }
  return new ProviderValidationError(what, {
    ...details,
    hint: call.body.Recommend ? 'see the Recommend link in the provider answer' : 'check sources[].params',
  });
}

/** What the shared JSON client needs to know of Alibaba Cloud answers. */
export const aliyunDialect: CloudDialect<AliyunErrorBody> = {
  errorBodySchema: aliyunErrorBodySchema,
  requestId: (_headers, body) => {
    const id = (body as { RequestId?: unknown } | null)?.RequestId;
    return typeof id === 'string' ? id : undefined;
  },
  mapError: mapAliyunError,
};
