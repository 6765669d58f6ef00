import { renderHuaweiError } from './huawei-auth.js';
import { HttpSimulator } from './http-simulator.js';
import type { SimRequest, SimResponse } from './http-types.js';
import { SimulatedApi } from './simulated-api.js';
import type { IssuedTokens } from './temporary-credentials.js';

/** An IAM user of the simulated account. */
export interface SimulatedIamUser {
  domain: string;
  name: string;
  password: string;
  /** Whether the user holds Agent Operator (may obtain agency tokens). @defaultValue false */
  agentOperator?: boolean;
}

/** An agency a delegating account created for the user's account. */
export interface SimulatedAgency {
  /** Delegating account (domain) name and id. */
  domainName: string;
  domainId: string;
  name: string;
  /** Account (domain) name of the delegated party whose users may use it. */
  trusts: string;
}

export interface HuaweiIamSimulatorOptions {
  tokens: IssuedTokens;
  users: SimulatedIamUser[];
  agencies?: SimulatedAgency[];
  /** Project ids that exist (a project-scoped token names one). */
  projects: string[];
  /** How long tokens last, in ms (the real service: 24 h). @defaultValue 24 h */
  lifetimeMs?: number;
  now?: () => number;
}

function keystoneError(status: number, title: string, message: string): SimResponse {
  return { status, body: { error: { code: status, message, title } } };
}

/**
 * IAM `POST /v3/auth/tokens` as documented: `Content-Type: application/json;charset=utf8`; the
 * password method (`auth.identity.password.user` with `name`, `password` and `domain.name` or
 * `domain.id`) and the assume_role method (an `X-Auth-Token` of a user with Agent Operator,
 * `assume_role.agency_name` and `domain_name` or `domain_id` of the delegating account); a `scope`
 * of a project (`id` or `name`) or a domain. Answers 201 with the token in `X-Subject-Token` and
 * `{ token: { expires_at, issued_at, methods, … } }`; `nocatalog` leaves the catalog out.
 */
export class HuaweiIamSimulator extends SimulatedApi {
  protected readonly http: HttpSimulator;
  readonly #options: HuaweiIamSimulatorOptions;
  /** Tokens issued per method. */
  readonly issued = { password: 0, assume_role: 0 };

  constructor(options: HuaweiIamSimulatorOptions) {
    super();
    this.#options = options;
    this.http = new HttpSimulator({ handler: (request) => this.#handle(request), renderError: renderHuaweiError });
  }

  #handle(request: SimRequest): SimResponse {
    if (request.path !== '/v3/auth/tokens') return keystoneError(404, 'Not Found', 'The resource could not be found.');
    if (request.method !== 'POST') return keystoneError(405, 'Method Not Allowed', 'The method is not allowed.');
    if (!(request.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) {
      return keystoneError(400, 'Bad Request', 'Content-Type must be application/json;charset=utf8.');
    }
    let body: {
      auth?: {
        identity?: {
          methods?: unknown;
          password?: { user?: { name?: string; password?: string; domain?: { name?: string; id?: string } } };
          assume_role?: { agency_name?: string; domain_name?: string; domain_id?: string };
        };
        scope?: { project?: { id?: string; name?: string }; domain?: { id?: string; name?: string } };
      };
    };
    try {
      body = JSON.parse(request.body) as typeof body;
    } catch {
      return keystoneError(400, 'Bad Request', 'The request body is not valid JSON.');
    }
    const identity = body.auth?.identity;
    const methods = identity?.methods;
    if (!Array.isArray(methods) || methods.length !== 1) return keystoneError(400, 'Bad Request', 'auth.identity.methods is invalid.');
    const scope = body.auth?.scope;
    const projectId = scope?.project?.id ?? (scope?.project?.name ? `${scope.project.name}-project-id` : undefined);
    if (!scope || (!scope.project && !scope.domain)) return keystoneError(400, 'Bad Request', 'auth.scope is mandatory.');
    if (scope.project && (projectId === undefined || !this.#options.projects.includes(projectId))) {
      return keystoneError(401, 'Unauthorized', 'The project in scope does not exist or is not accessible.');
    }
    if (methods[0] === 'password') {
      const user = identity?.password?.user;
      const found = this.#options.users.find(
        (u) =>
          u.name === user?.name &&
          u.password === user?.password &&
          (u.domain === user?.domain?.name || `${u.domain}-id` === user?.domain?.id),
      );
      if (!user?.domain || (!user.domain.name && !user.domain.id))
        return keystoneError(400, 'Bad Request', 'auth.identity.password.user.domain is mandatory.');
      if (!found) return keystoneError(401, 'Unauthorized', 'The username or password is wrong.');
      this.issued.password += 1;
      return this.#issue(`password:${found.domain}/${found.name}`, 'password', projectId);
    }
    if (methods[0] === 'assume_role') {
      const caller = request.headers['x-auth-token'];
      const callerToken = caller === undefined ? undefined : this.#options.tokens.find(caller);
      if (!caller || this.#options.tokens.check(caller) !== 'valid' || !callerToken)
        return keystoneError(401, 'Unauthorized', 'The token is invalid or expired.');
      const [, who] = callerToken.issuedBy.split(':') as [string, string];
      const user = this.#options.users.find((u) => `${u.domain}/${u.name}` === who);
      if (!user?.agentOperator) return keystoneError(403, 'Forbidden', 'You have no Agent Operator permission.');
      const role = identity?.assume_role;
      const agency = (this.#options.agencies ?? []).find(
        (a) =>
          a.name === role?.agency_name &&
          (a.domainName === role?.domain_name || a.domainId === role?.domain_id) &&
          a.trusts === user.domain,
      );
      if (!role?.agency_name || (!role.domain_name && !role.domain_id))
        return keystoneError(400, 'Bad Request', 'assume_role.agency_name and domain_name or domain_id are mandatory.');
      if (!agency) return keystoneError(403, 'Forbidden', 'The agency does not exist or does not trust your account.');
      this.issued.assume_role += 1;
      return this.#issue(`assume_role:${agency.domainName}/${agency.name}`, 'assume_role', projectId);
    }
    return keystoneError(400, 'Bad Request', `Unsupported method ${String(methods[0])}.`);
  }

  #issue(issuedBy: string, method: string, projectId: string | undefined): SimResponse {
    const now = (this.#options.now ?? Date.now)();
    const issued = this.#options.tokens.issue(this.#options.lifetimeMs ?? 24 * 3_600_000, issuedBy, projectId);
    const iso = (ms: number): string => new Date(ms).toISOString().replace('Z', '000Z');
    return {
      status: 201,
      headers: { 'x-subject-token': issued.token },
      body: {
        token: {
          expires_at: iso(issued.expiresAt),
          issued_at: iso(now),
          methods: [method],
          ...(projectId ? { project: { id: projectId, name: projectId } } : {}),
          roles: [{ id: '0', name: 'te_admin' }],
        },
      },
    };
  }
}
