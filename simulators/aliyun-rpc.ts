import { createHash, randomUUID } from 'node:crypto';
import { expectedAcs3Signature } from './aliyun-signature.js';
import { HttpSimulator, type SimRequest, type SimResponse } from './http-simulator.js';
import type { FaultControl } from './http-types.js';
import type { IssuedAccessKey, TemporaryKeyring } from './temporary-credentials.js';

/** AccessKey the Alibaba simulators accept unless told otherwise; not a real credential. */
export const SIMULATOR_ACCESS_KEY = {
  accessKeyId: 'LTAI5tSimulatorKeyId',
  accessKeySecret: 'simulator-secret-do-not-use',
} as const;

export interface AliyunSimulatorOptions {
  /** AccessKey ID the simulator accepts. @defaultValue SIMULATOR_ACCESS_KEY.accessKeyId */
  accessKeyId?: string;
  /** Secret the signature must verify with. @defaultValue SIMULATOR_ACCESS_KEY.accessKeySecret */
  accessKeySecret?: string;
  /** When set, requests must carry this `x-acs-security-token` (an STS session). */
  securityToken?: string;
  /** Latency added to every answer, in ms. @defaultValue 0 */
  latencyMs?: number;
  /** Simulator clock, for date-skew checks. @defaultValue Date.now */
  now?: () => number;
  /** Temporary keys (STS, the instance role) accepted with their security token until they expire. */
  keyring?: TemporaryKeyring;
  /** Refuse the fixed AccessKey: only keys of the keyring are let in. @defaultValue false */
  temporaryOnly?: boolean;
  /**
   * Actions that take no signature (STS AssumeRoleWithOIDC): `Action`, `Version` and the other
   * parameters in the query or a form-encoded body, as the credential SDKs send them.
   */
  anonymousActions?: Record<string, AliyunActionHandler>;
}

/** What an action handler gets: the decoded parameters and the caller's AccessKey ID. */
export interface AliyunActionCall {
  params: URLSearchParams;
  accessKeyId: string;
  requestId: string;
}

export type AliyunActionHandler = (call: AliyunActionCall) => SimResponse;

/** Alibaba Cloud's error body, as every product renders it. */
export function aliyunError(
  status: number,
  code: string,
  message: string,
  requestId: string = newRequestId(),
  headers: Record<string, string> = {},
): SimResponse {
  return {
    status,
    headers,
    body: {
      RequestId: requestId,
      HostId: 'simulator.aliyuncs.com',
      Code: code,
      Message: message,
      Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(code)}&product=simulator`,
    },
  };
}

export function newRequestId(): string {
  return randomUUID().toUpperCase();
}

const MAX_SKEW_MS = 15 * 60 * 1000;
const AUTH_HEADER = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)$/;

/**
 * The shared core of the Alibaba RPC simulators: POST / with the action in `x-acs-action` (or the
 * `Action` query parameter), the API version checked, and the V3 signature verified as
 * Alibaba documents it (`aliyun-signature.ts`, independent of the archiver's signer), refusing what Alibaba refuses (unknown key, bad signature, reused nonce,
 * a date more than 15 minutes off).
 */
export class AliyunRpcSimulator {
  readonly http: HttpSimulator;
  readonly #version: string;
  readonly #actions: Record<string, AliyunActionHandler>;
  readonly #accessKeyId: string;
  readonly #accessKeySecret: string;
  readonly #securityToken: string | undefined;
  readonly #now: () => number;
  readonly #keyring: TemporaryKeyring | undefined;
  readonly #temporaryOnly: boolean;
  readonly #anonymous: Record<string, AliyunActionHandler>;
  /** Nonces seen, with their arrival time, pruned after the skew window. */
  readonly #nonces = new Map<string, number>();
  /** Refusals by code, so tests can see what the signer got wrong. */
  readonly refusals = new Map<string, number>();

  constructor(version: string, actions: Record<string, AliyunActionHandler>, options: AliyunSimulatorOptions = {}) {
    this.#version = version;
    this.#actions = actions;
    this.#accessKeyId = options.accessKeyId ?? SIMULATOR_ACCESS_KEY.accessKeyId;
    this.#accessKeySecret = options.accessKeySecret ?? SIMULATOR_ACCESS_KEY.accessKeySecret;
    this.#securityToken = options.securityToken;
    this.#now = options.now ?? Date.now;
    this.#keyring = options.keyring;
    this.#temporaryOnly = options.temporaryOnly ?? false;
    this.#anonymous = options.anonymousActions ?? {};
    this.http = new HttpSimulator({
      handler: (request) => this.#handle(request),
      renderError: (kind) =>
        kind === 'throttle'
          ? aliyunError(400, 'Throttling.User', 'Request was denied due to user flow control.', newRequestId(), {
              'x-ratelimit-user-api': `Limit:10,Remain:0,TimeLeft:20,Reset:${this.#now() + 20}`,
            })
          : aliyunError(503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server.'),
      ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }),
    });
  }

  /** The credentials a client must use to be accepted. */
  get credentials(): { accessKeyId: string; accessKeySecret: string; securityToken?: string } {
    return {
      accessKeyId: this.#accessKeyId,
      accessKeySecret: this.#accessKeySecret,
      ...(this.#securityToken ? { securityToken: this.#securityToken } : {}),
    };
  }

  #refuse(status: number, code: string, message: string): SimResponse {
    this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
    return aliyunError(status, code, message);
  }

  #handle(request: SimRequest): SimResponse {
    if (request.method !== 'POST' || request.path !== '/') {
      return this.#refuse(
        404,
        'InvalidAction.NotFound',
        `Specified api is not found, please check your url and method (${request.method} ${request.path}).`,
      );
    }
    const action = request.headers['x-acs-action'] ?? request.query.get('Action') ?? '';
    if (Object.hasOwn(this.#anonymous, action) && request.headers.authorization === undefined) return this.#anonymousCall(action, request);
    const handler = Object.hasOwn(this.#actions, action) ? this.#actions[action] : undefined;
    if (!handler) return this.#refuse(404, 'InvalidAction.NotFound', `Specified api ${action} is not found.`);
    if (request.headers['x-acs-version'] !== this.#version) {
      return this.#refuse(400, 'InvalidVersion', `Specified parameter Version is not valid (expected ${this.#version}).`);
    }
    const verified = this.#verifySignature(request);
    if ('status' in verified) return verified;
    const params = new URLSearchParams(request.query);
    params.delete('Action');
    return handler({ params, accessKeyId: verified.accessKeyId, requestId: newRequestId() });
  }

  #anonymousCall(action: string, request: SimRequest): SimResponse {
    const params = new URLSearchParams(request.query);
    if ((request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      for (const [name, value] of new URLSearchParams(request.body)) params.append(name, value);
    }
    if (params.get('Version') !== this.#version) {
      return this.#refuse(400, 'InvalidVersion', `Specified parameter Version is not valid (expected ${this.#version}).`);
    }
    params.delete('Action');
    return this.#anonymous[action]!({ params, accessKeyId: '', requestId: newRequestId() });
  }

  #verifySignature(request: SimRequest): SimResponse | { accessKeyId: string } {
    const match = AUTH_HEADER.exec(request.headers.authorization ?? '');
    if (!match) return this.#refuse(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.');
    const [, credential, signedList, signature] = match as unknown as [string, string, string, string];
    const issued: IssuedAccessKey | undefined = credential === this.#accessKeyId ? undefined : this.#keyring?.find(credential);
    if ((credential !== this.#accessKeyId || this.#temporaryOnly) && !issued) {
      return this.#refuse(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    }
    const signedNames = signedList.split(';');
    for (const required of ['host', 'x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256']) {
      if (!signedNames.includes(required) || request.headers[required] === undefined) {
        return this.#refuse(400, 'IncompleteSignature', `The request signature does not sign header ${required}.`);
      }
    }
    const payloadSha256 = createHash('sha256').update(request.body).digest('hex');
    if (request.headers['x-acs-content-sha256'] !== payloadSha256) {
      return this.#refuse(400, 'SignatureDoesNotMatch', 'The x-acs-content-sha256 header does not match the body.');
    }
    const expected = expectedAcs3Signature({
      method: request.method,
      path: request.path,
      query: request.query,
      headers: request.headers,
      signedHeaders: signedNames,
      payloadSha256,
      secret: issued?.accessKeySecret ?? this.#accessKeySecret,
    });
    if (expected !== signature) {
      return this.#refuse(400, 'SignatureDoesNotMatch', 'Specified signature is not matched with our calculation.');
    }
    if (issued) {
      if (request.headers['x-acs-security-token'] === undefined) {
        return this.#refuse(400, 'MissingSecurityToken', 'SecurityToken is mandatory for this action.');
      }
      if (request.headers['x-acs-security-token'] !== issued.securityToken) {
        return this.#refuse(400, 'InvalidSecurityToken.MismatchWithAccessKey', 'Specified SecurityToken mismatch with the AccessKey.');
      }
      if (this.#keyring!.refuseIfExpired(issued)) {
        return this.#refuse(400, 'InvalidSecurityToken.Expired', 'Specified SecurityToken is expired.');
      }
    } else if (this.#securityToken !== undefined && request.headers['x-acs-security-token'] !== this.#securityToken) {
      return this.#refuse(400, 'InvalidSecurityToken.Expired', 'Specified SecurityToken is expired or invalid.');
    }
    const now = this.#now();
    const date = Date.parse(request.headers['x-acs-date'] ?? '');
    if (
      !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(request.headers['x-acs-date'] ?? '') ||
      Number.isNaN(date) ||
      Math.abs(now - date) > MAX_SKEW_MS
    ) {
      return this.#refuse(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
    }
    const nonce = request.headers['x-acs-signature-nonce'] ?? '';
    for (const [seen, at] of this.#nonces) if (now - at > 2 * MAX_SKEW_MS) this.#nonces.delete(seen);
    if (this.#nonces.has(nonce)) return this.#refuse(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    this.#nonces.set(nonce, now);
    return { accessKeyId: credential };
  }
}

/** A plain Alibaba success answer. */
export function aliyunOk(body: Record<string, unknown>): SimResponse {
  return { status: 200, body };
}

/** Reads an integer parameter; undefined when absent, NaN when malformed. */
export function intParam(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  return /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
}

/** Common accessors every Alibaba simulator class re-exposes. */
export interface AliyunSimulatorShell {
  readonly url: string;
  readonly faults: FaultControl;
  readonly callTimes: number[];
  start(port?: number): Promise<string>;
  stop(): Promise<void>;
}
