// OAuth Problem Reporting (oauth.pbworks "ProblemReporting" extension), as Atlassian answers it.
import { GatewayError, gatewayFields } from '../errors/index.js';
import { formEncode, percentEncode } from './encode.js';

export type OAuthProblemName =
  | 'version_rejected'
  | 'parameter_absent'
  | 'parameter_rejected'
  | 'timestamp_refused'
  | 'signature_method_rejected'
  | 'nonce_used'
  | 'token_used'
  | 'token_expired'
  | 'token_revoked'
  | 'token_rejected'
  | 'signature_invalid'
  | 'consumer_key_unknown'
  | 'consumer_key_refused'
  | 'permission_unknown'
  | 'permission_denied';

// DESIGN.md §3: malformed requests are 400, everything about credentials is 401; the
// extension's "temporarily unacceptable" consumer_key_refused is 429 (security.failureLimit).
export type OAuthProblemStatus = 400 | 401 | 429;
const STATUS: Readonly<Record<OAuthProblemName, OAuthProblemStatus>> = {
  version_rejected: 400,
  parameter_absent: 400,
  parameter_rejected: 400,
  timestamp_refused: 400,
  signature_method_rejected: 400,
  nonce_used: 401,
  token_used: 401,
  token_expired: 401,
  token_revoked: 401,
  token_rejected: 401,
  signature_invalid: 401,
  consumer_key_unknown: 401,
  consumer_key_refused: 429,
  permission_unknown: 401,
  permission_denied: 401,
};

// Names and details echo the client's input: bounded, so a request with thousands of bad or
// huge names cannot make a huge response header (a proxy in front would fail it) or log line.
const MAX_LISTED_NAMES = 10;
const MAX_NAME_LENGTH = 100;
const MAX_DETAIL_LENGTH = 1000;

function listNames(names: string[], separator: string): string {
  return names
    .slice(0, MAX_LISTED_NAMES)
    .map((n) => n.slice(0, MAX_NAME_LENGTH))
    .join(separator);
}

const EXPOSED = Object.freeze({ expose: true });

/**
 * One kind of GatewayError: its `code` is the oauth_problem name, and it is answered in the
 * Problem Reporting format (src/http/answer.ts adds WWW-Authenticate with the realm).
 */
export class OAuthProblem extends GatewayError {
  readonly problem: OAuthProblemName;
  declare readonly status: OAuthProblemStatus;
  /** Extra problem parameters sent to the client (e.g. oauth_parameters_rejected). */
  readonly params: Record<string, string>;
  /** Sent as Retry-After (seconds) with the answer. */
  readonly retryAfterSeconds: number | undefined;
  // Koa/http-errors convention: the client may see this error (it carries no secret).
  declare readonly expose: true;

  constructor(problem: OAuthProblemName, opts: { params?: Record<string, string>; detail?: string; retryAfterSeconds?: number } = {}) {
    super((opts.detail ?? problem).slice(0, MAX_DETAIL_LENGTH));
    gatewayFields(this, STATUS[problem], problem, opts.retryAfterSeconds === undefined ? EXPOSED : { expose: true, headers: { 'Retry-After': String(opts.retryAfterSeconds) } });
    this.name = 'OAuthProblem';
    this.problem = problem;
    this.params = { ...opts.params };
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }

  /** parameter_absent with oauth_parameters_absent=a&b. */
  static absent(names: string[], detail?: string): OAuthProblem {
    return new OAuthProblem('parameter_absent', {
      params: { oauth_parameters_absent: listNames(names, '&') },
      detail: detail ?? `missing ${listNames(names, ', ')}`,
    });
  }

  /** parameter_rejected with oauth_parameters_rejected=a&b. */
  static rejected(names: string[], detail?: string): OAuthProblem {
    return new OAuthProblem('parameter_rejected', {
      params: { oauth_parameters_rejected: listNames(names, '&') },
      detail: detail ?? `rejected ${listNames(names, ', ')}`,
    });
  }

  /** timestamp_refused with oauth_acceptable_timestamps=min-max. */
  static timestamp(min: number, max: number, detail?: string): OAuthProblem {
    return new OAuthProblem('timestamp_refused', {
      params: { oauth_acceptable_timestamps: `${min}-${max}` },
      detail: detail ?? `timestamp outside ${min}-${max}`,
    });
  }
}

export function isOAuthProblem(e: unknown): e is OAuthProblem {
  return e instanceof OAuthProblem;
}

/** WWW-Authenticate value: OAuth realm="...", oauth_problem="...", extra="...". */
export function wwwAuthenticate(realm: string, p: Pick<OAuthProblem, 'problem' | 'params'>): string {
  const parts = [`realm="${percentEncode(realm)}"`, `oauth_problem="${percentEncode(p.problem)}"`];
  for (const [name, value] of Object.entries(p.params)) parts.push(`${percentEncode(name)}="${percentEncode(value)}"`);
  return `OAuth ${parts.join(', ')}`;
}

/** application/x-www-form-urlencoded response body: oauth_problem=...&extra=... */
export function problemBody(p: OAuthProblem): string {
  return formEncode([['oauth_problem', p.problem], ...Object.entries(p.params)]);
}
