import { createHmac, timingSafeEqual } from 'node:crypto';
import { AliyunRpcSimulator, aliyunError, aliyunOk, intParam, type AliyunActionCall, type AliyunSimulatorOptions } from './aliyun-rpc.js';
import type { HttpSimulator } from './http-simulator.js';
import type { SimResponse } from './http-types.js';
import { SimulatedApi } from './simulated-api.js';
import type { IssuedAccessKey, TemporaryKeyring } from './temporary-credentials.js';

const API_VERSION = '2015-04-01';
const ROLE_ARN = /^acs:ram::(\d+):role\/([^/\s]+)$/;
const OIDC_PROVIDER_ARN = /^acs:ram::(\d+):oidc-provider\/([^/\s]+)$/;
const SESSION_NAME = /^[a-zA-Z0-9.@_-]{2,32}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;

/** A RAM role the simulated account has. */
export interface SimulatedRole {
  /** Largest DurationSeconds the role allows (MaxSessionDuration). @defaultValue 3600 */
  maxSessionDuration?: number;
  /** OIDC provider ARN the role's trust policy names, for AssumeRoleWithOIDC. */
  trustsOidcProvider?: string;
  /** ExternalId the trust policy requires, if any. */
  externalId?: string;
}

export interface StsSimulatorOptions extends AliyunSimulatorOptions {
  /** Where issued keys go; the API simulators of the same account accept them. */
  keyring: TemporaryKeyring;
  roles: Record<string, SimulatedRole>;
  /** Secret the simulated OIDC issuer signs its tokens with (HS256), see `signOidcToken`. */
  oidcIssuerSecret?: string;
  /**
   * How long issued credentials really last, in ms: a test clock that runs faster than
   * DurationSeconds (which is still checked against the documented range). @defaultValue DurationSeconds
   */
  lifetimeMs?: number;
}

/**
 * Security Token Service as documented (API 2015-04-01): AssumeRole, signed by a RAM user's
 * AccessKey; AssumeRoleWithOIDC, anonymous with an OIDC token. Parameters are checked as the API
 * reference states them (RoleArn and OIDCProviderArn forms, RoleSessionName 2-32 of [a-zA-Z0-9.@-_],
 * DurationSeconds 900 to the role's MaxSessionDuration, Policy 1-2048, OIDCToken 4-20000).
 */
export class AliyunStsSimulator extends SimulatedApi {
  protected readonly http: HttpSimulator;
  readonly rpc: AliyunRpcSimulator;
  readonly #options: StsSimulatorOptions;
  /** Calls per action that issued credentials. */
  readonly issued = { AssumeRole: 0, AssumeRoleWithOIDC: 0 };

  constructor(options: StsSimulatorOptions) {
    super();
    this.#options = options;
    this.rpc = new AliyunRpcSimulator(
      API_VERSION,
      { AssumeRole: (call) => this.#assumeRole(call) },
      { ...options, anonymousActions: { AssumeRoleWithOIDC: (call) => this.#assumeRoleWithOidc(call) } },
    );
    this.http = this.rpc.http;
  }

  #checkCommon(params: URLSearchParams, role: SimulatedRole | undefined): SimResponse | number {
    const session = params.get('RoleSessionName');
    if (!session) return aliyunError(400, 'MissingRoleSessionName', 'RoleSessionName is mandatory for this action.');
    if (!SESSION_NAME.test(session))
      return aliyunError(400, 'InvalidParameter.RoleSessionName', 'The parameter RoleSessionName is wrongly formed.');
    const duration = intParam(params, 'DurationSeconds') ?? 3600;
    const max = role?.maxSessionDuration ?? 3600;
    if (Number.isNaN(duration) || duration < 900 || duration > max) {
      return aliyunError(400, 'InvalidParameter.DurationSeconds', `The Min/Max value of DurationSeconds is 15min/${max / 3600}hr.`);
    }
    const policy = params.get('Policy');
    if (policy !== null) {
      let ok = policy.length >= 1 && policy.length <= 2048;
      try {
        JSON.parse(policy);
      } catch {
        ok = false;
      }
      if (!ok) return aliyunError(400, 'InvalidParameter.PolicyGrammar', 'The parameter Policy has not passed grammar check.');
    }
    return duration;
  }

  #answer(call: AliyunActionCall, roleArn: string, session: string, duration: number, extra: Record<string, unknown> = {}): SimResponse {
    const [, account, roleName] = ROLE_ARN.exec(roleArn) as unknown as [string, string, string];
    const key: IssuedAccessKey = this.#options.keyring.issue(this.#options.lifetimeMs ?? duration * 1000, `sts:${roleArn}`);
    return aliyunOk({
      RequestId: call.requestId,
      AssumedRoleUser: {
        Arn: `acs:ram::${account}:assumed-role/${roleName}/${session}`,
        AssumedRoleUserId: `30081280744271****:${session}`,
      },
      Credentials: {
        AccessKeyId: key.accessKeyId,
        AccessKeySecret: key.accessKeySecret,
        SecurityToken: key.securityToken,
        Expiration: new Date(key.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
      ...extra,
    });
  }

  #role(params: URLSearchParams): { arn: string; role: SimulatedRole } | SimResponse {
    const arn = params.get('RoleArn');
    if (!arn) return aliyunError(400, 'MissingRoleArn', 'RoleArn is mandatory for this action.');
    if (!ROLE_ARN.test(arn)) return aliyunError(400, 'InvalidParameter.RoleArn', 'The parameter RoleArn is wrongly formed.');
    const role = Object.hasOwn(this.#options.roles, arn) ? this.#options.roles[arn] : undefined;
    if (!role) return aliyunError(404, 'EntityNotExist.Role', 'The specified Role not exists.');
    return { arn, role };
  }

  #assumeRole(call: AliyunActionCall): SimResponse {
    const found = this.#role(call.params);
    if ('status' in found) return found;
    const checked = this.#checkCommon(call.params, found.role);
    if (typeof checked !== 'number') return checked;
    const externalId = call.params.get('ExternalId');
    if (externalId !== null && !EXTERNAL_ID.test(externalId)) {
      return aliyunError(400, 'InvalidParameter.ExternalId', 'The parameter ExternalId is wrongly formed.');
    }
    if (found.role.externalId !== undefined && externalId !== found.role.externalId) {
      return aliyunError(403, 'NoPermission', 'You are not authorized to do this action. You should be authorized by RAM.');
    }
    this.issued.AssumeRole += 1;
    return this.#answer(call, found.arn, call.params.get('RoleSessionName')!, checked);
  }

  #assumeRoleWithOidc(call: AliyunActionCall): SimResponse {
    const provider = call.params.get('OIDCProviderArn');
    if (!provider) return aliyunError(400, 'MissingOIDCProviderArn', 'OIDCProviderArn is mandatory for this action.');
    if (!OIDC_PROVIDER_ARN.test(provider))
      return aliyunError(400, 'InvalidParameter.OIDCProviderArn', 'The parameter OIDCProviderArn is wrongly formed.');
    const token = call.params.get('OIDCToken');
    if (!token) return aliyunError(400, 'MissingOIDCToken', 'OIDCToken is mandatory for this action.');
    if (token.length < 4 || token.length > 20_000)
      return aliyunError(400, 'InvalidParameter.OIDCToken', 'The parameter OIDCToken is wrongly formed.');
    const found = this.#role(call.params);
    if ('status' in found) return found;
    if (found.role.trustsOidcProvider !== provider) {
      return aliyunError(403, 'NoPermission', 'The role does not trust the specified OIDC provider.');
    }
    const checked = this.#checkCommon(call.params, found.role);
    if (typeof checked !== 'number') return checked;
    const claims = verifyOidcToken(token, this.#options.oidcIssuerSecret ?? '');
    if (claims === 'invalid') return aliyunError(400, 'AuthenticationFail.OIDCToken.Invalid', 'The OIDC token is invalid.');
    if (claims.exp * 1000 <= (this.#options.now ?? Date.now)()) {
      return aliyunError(400, 'AuthenticationFail.OIDCToken.Expired', 'The OIDC token has expired.');
    }
    this.issued.AssumeRoleWithOIDC += 1;
    return this.#answer(call, found.arn, call.params.get('RoleSessionName')!, checked, {
      OIDCTokenInfo: {
        Subject: claims.sub,
        Issuer: claims.iss,
        ClientIds: claims.aud,
        ExpirationTime: new Date(claims.exp * 1000).toISOString(),
      },
    });
  }
}

interface OidcClaims {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
}

/** A service-account token as a Kubernetes OIDC issuer would sign it (HS256 here, so the test can mint it). */
export function signOidcToken(claims: OidcClaims, secret: string): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const body = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

function verifyOidcToken(token: string, secret: string): OidcClaims | 'invalid' {
  const parts = token.split('.');
  if (parts.length !== 3) return 'invalid';
  const expected = Buffer.from(createHmac('sha256', secret).update(`${parts[0]}.${parts[1]}`).digest('base64url'));
  const given = Buffer.from(parts[2]!);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'invalid';
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as OidcClaims;
    return typeof claims.exp === 'number' ? claims : 'invalid';
  } catch {
    return 'invalid';
  }
}
