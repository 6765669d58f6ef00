import { randomBytes, timingSafeEqual } from 'node:crypto';
import { expectedHuaweiSignature, parseHuaweiAuthorization, parseHuaweiSdkDate } from './huawei-signature.js';
import type { ErrorRenderer, SimRequest, SimResponse } from './http-simulator.js';
import type { IssuedTokens } from './temporary-credentials.js';

/** Who a Huawei simulator lets in: AK/SK pairs (with their security token when temporary) and IAM tokens. */
export interface HuaweiSimAuth {
  keys?: readonly { ak: string; sk: string; securityToken?: string }[];
  tokens?: readonly string[];
  /** Tokens the IAM simulator issued: accepted until they expire, for the project they are scoped to. */
  issuedTokens?: IssuedTokens;
  /** Largest accepted distance between X-Sdk-Date and the simulator's clock. @defaultValue 15 min */
  maxSkewMs?: number;
}

/** A fresh `X-Request-Id`, 32 hex characters as API Gateway sends. */
export function huaweiRequestId(): string {
  return randomBytes(16).toString('hex');
}

/** A Huawei error answer: `{ error_code, error_msg }` plus the `X-Request-Id` header. */
export function huaweiErrorResponse(status: number, code: string, message: string): SimResponse {
  const requestId = huaweiRequestId();
  return {
    status,
    headers: { 'x-request-id': requestId },
    body: { error_code: code, error_msg: message, request_id: requestId },
  };
}

/** Injected throttling and server faults, rendered as API Gateway renders them. */
export const renderHuaweiError: ErrorRenderer = (kind) =>
  kind === 'throttle'
    ? huaweiErrorResponse(429, 'APIGW.0308', 'The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 minute')
    : huaweiErrorResponse(503, 'APIGW.0203', 'Backend unavailable');

function iamError(detail: string): SimResponse {
  return huaweiErrorResponse(401, 'APIGW.0301', `Incorrect IAM authentication information: ${detail}`);
}

/**
 * Verifies a request as API Gateway would: an accepted `X-Auth-Token`, or an SDK-HMAC-SHA256
 * signature recomputed from what arrived on the wire as the gateway documents it (`huawei-signature.ts`).
 * Returns the error answer, or undefined when the caller is authenticated.
 */
export function verifyHuaweiAuth(request: SimRequest, auth: HuaweiSimAuth, now: number = Date.now()): SimResponse | undefined {
  const token = request.headers['x-auth-token'];
  if (token !== undefined) {
    if ((auth.tokens ?? []).includes(token)) return undefined;
    const state = auth.issuedTokens?.check(token);
    if (state === 'expired') return huaweiErrorResponse(401, 'APIGW.0307', 'The token must be updated.');
    const issued = state === 'valid' ? auth.issuedTokens!.find(token) : undefined;
    // A project-scoped token opens that project's APIs only (their paths name the project).
    if (issued && (issued.projectId === undefined || request.path.includes(`/${issued.projectId}/`))) return undefined;
    return iamError(issued ? 'token scope does not match the project' : 'decrypt token fail');
  }
  const header = request.headers.authorization;
  if (header === undefined) return iamError('Authorization not found');
  const parsed = parseHuaweiAuthorization(header);
  if (!parsed) return iamError('Authorization format incorrect');
  const key = (auth.keys ?? []).find((k) => k.ak === parsed.access);
  if (!key) return iamError('verify aksk signature fail');
  const sdkDate = request.headers['x-sdk-date'];
  const date = sdkDate === undefined ? undefined : parseHuaweiSdkDate(sdkDate);
  if (!sdkDate || date === undefined) return iamError('x-sdk-date header not found or malformed');
  if (Math.abs(now - date) > (auth.maxSkewMs ?? 15 * 60_000)) return iamError('signature expired');
  if (!parsed.signedHeaders.includes('host') || !parsed.signedHeaders.includes('x-sdk-date')) {
    return iamError('host and x-sdk-date must be signed');
  }
  const headers: Record<string, string> = {};
  for (const name of parsed.signedHeaders) {
    const value = request.headers[name];
    if (value === undefined) return iamError(`signed header ${name} not found`);
    headers[name] = value;
  }
  if (key.securityToken !== undefined && request.headers['x-security-token'] !== key.securityToken) {
    return iamError('security token invalid');
  }
  const expected = expectedHuaweiSignature({
    method: request.method,
    path: request.path,
    query: request.query,
    headers,
    signedHeaders: parsed.signedHeaders,
    body: request.body,
    sk: key.sk,
    sdkDate,
  });
  const a = Buffer.from(expected);
  const b = Buffer.from(parsed.signature);
  return a.length === b.length && timingSafeEqual(a, b) ? undefined : iamError('verify aksk signature fail');
}
