// The gateway's one error model (layer 0: imports nothing). Every refusal or failure a request can
// meet is a GatewayError: an HTTP status, whether its message may be shown to the client
// (`expose`, Koa's convention), a stable machine-readable `code`, and the headers its answer
// carries. How it is answered — the OAuth problem format or plain text, an HTML page, a raw
// WebSocket answer — is decided in one place, src/http/answer.ts.

/**
 * The stable codes (README "Errors and refusals" lists each with its status). An OAuth problem's
 * code is its oauth_problem name (src/oauth1/problem.ts); a dance page's refusal is `page_refused`
 * unless it stands for an OAuth problem.
 */
export const GATEWAY_ERROR_CODES = [
  'bad_request_target',
  'bad_request_header',
  'unsupported_transfer_coding',
  'body_too_large',
  'body_timeout',
  'body_incomplete',
  'late_oauth_parameter',
  'method_not_allowed',
  'upgrade_unsupported',
  'upgrade_not_get',
  'page_refused',
  'session_check_timeout',
  'session_check_unreachable',
  'session_check_no_user',
  'store_unavailable',
  'upstream_unreachable',
  'upstream_timeout',
  'upstream_refused_gateway',
  'upstream_bad_response',
  'client_error',
  'internal_error',
] as const;
export type GatewayErrorCode = (typeof GATEWAY_ERROR_CODES)[number];

export interface GatewayErrorOptions {
  /** May the client read the message? Default: a 4xx status (a client's mistake, no secret in it). */
  expose?: boolean;
  /** Headers the answer carries (Retry-After, Allow, Connection: close, ...). */
  headers?: Readonly<Record<string, string>>;
  cause?: unknown;
}

/**
 * The base of every request-facing error. It has no constructor of its own on purpose: an Error
 * captures its stack when constructed, and each explicit constructor in the chain is one more
 * frame to capture (a third of the cost of a refusal's error). A kind of it calls
 * `super(message, { cause })` and then `gatewayFields(this, status, code, opts)`; an error of no
 * particular kind comes from `gatewayError()` or one of the factories below.
 */
export abstract class GatewayError extends Error {
  declare readonly status: number;
  /** A stable machine-readable code: GatewayErrorCode, or an oauth_problem name. */
  declare readonly code: string;
  /** Koa/http-errors convention: the client may see the message (it carries no secret). */
  declare readonly expose: boolean;
  declare readonly headers: Readonly<Record<string, string>> | undefined;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Gives a GatewayError its fields (its constructor calls this right after super()). */
export function gatewayFields(e: GatewayError, status: number, code: string, opts?: Omit<GatewayErrorOptions, 'cause'>): void {
  const w = e as Writable<GatewayError>;
  w.status = status;
  w.code = code;
  w.expose = opts?.expose ?? (status >= 400 && status < 500);
  w.headers = opts?.headers;
}

/** An error of no particular kind (the factories'). */
class PlainGatewayError extends GatewayError {}

export function gatewayError(status: number, code: string, message: string, opts?: GatewayErrorOptions): GatewayError {
  const e = new PlainGatewayError(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
  e.name = 'GatewayError';
  gatewayFields(e, status, code, opts);
  return e;
}

export function isGatewayError(e: unknown): e is GatewayError {
  return e instanceof GatewayError;
}

/** The connection ends with the answer: the rest of an unread body (too large, stalled) cannot be skipped. */
export const CLOSE_CONNECTION: Readonly<Record<string, string>> = Object.freeze({ Connection: 'close' });

/** Something the gateway did not expect (a bug, or a library failing): 500, its message never shown. */
export function internalError(cause: unknown): GatewayError {
  return gatewayError(500, 'internal_error', 'Internal error', { expose: false, cause });
}

/** A method a gateway path does not serve; `allowed` becomes the Allow header. */
export function methodNotAllowed(method: string, allowed: readonly string[], allowHeader: string): GatewayError {
  return gatewayError(405, 'method_not_allowed', `${method} is not allowed here; use ${allowed.join(' or ')}.`, {
    headers: { Allow: allowHeader, 'Cache-Control': 'no-store' },
  });
}

/** An Upgrade to something else than WebSocket (e.g. h2c): the gateway relays only HTTP/1.1 and WebSocket. */
export function upgradeUnsupported(protocol: string): GatewayError {
  return gatewayError(
    501,
    'upgrade_unsupported',
    `Upgrade ${JSON.stringify(protocol.slice(0, 100))} is not supported: the gateway upgrades only to WebSocket. Send the request without Upgrade (HTTP/1.1).`,
    { expose: true },
  );
}

/** A WebSocket handshake that is not a GET (RFC 6455 4.1). */
export function upgradeNotGet(method: string): GatewayError {
  return gatewayError(400, 'upgrade_not_get', `A WebSocket handshake must be a GET request, not ${JSON.stringify(method.slice(0, 20))}.`);
}

/** AppB could not be reached (`reason`: the socket error's code). */
export function upstreamUnreachable(reason: string | undefined, cause?: unknown): GatewayError {
  return gatewayError(502, 'upstream_unreachable', `AppB could not be reached (${reason ?? 'connection failed'}).`, { expose: true, cause });
}

/** AppB answered with something the gateway cannot pass on (a bad status or head). */
export function upstreamBadResponse(why: string): GatewayError {
  return gatewayError(502, 'upstream_bad_response', `AppB sent a response the gateway cannot pass on (${why}).`, { expose: true });
}

/** AppB refused the gateway's own credentials (an OAuth 401 to a request the gateway signed or vouched for). */
export function upstreamRefusedGateway(): GatewayError {
  return gatewayError(
    502,
    'upstream_refused_gateway',
    "AppB refused the gateway's credentials for this request. The request was verified by the gateway; this is a configuration problem between the gateway and AppB, not a problem with your token.",
    { expose: true },
  );
}
