// The one error renderer of the public port. Whatever was thrown becomes a GatewayError here
// (anything unexpected an internal_error: logged, never shown), with the bookkeeping every answer
// does (the request's outcome and problem, the store and slow-client counters, the log), and is
// answered in one of three forms:
//   (a) writeErrorResponse: for programs — an OAuth problem in the Problem Reporting format
//       (DESIGN.md section 3: WWW-Authenticate with the realm, a form-encoded body), anything
//       else as plain text; used by the plain proxy handler, the Koa error handler and the forwarder;
//   (b) writeErrorPage: for people — a readable HTML page with the same status (the dance pages);
//   (c) writeErrorToSocket: for a WebSocket handshake — a whole HTTP/1.1 answer on the raw
//       socket, then the connection closes.
// The realm is the caller's (one per configuration, src/proxy/compiled.ts; realmOf computes it).
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatewayError, gatewayError, internalError } from '../errors/index.js';
import { OAuthProblem, problemBody, wwwAuthenticate, type OAuthProblemName } from '../oauth1/index.js';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { RequestFacts } from '../ops/request-facts.js';
import { BodyTimeoutError, BodyTooLargeError } from './body.js';
import { html, pageDocument, pageSecurityHeaders, type SafeHtml } from './html.js';
import { clientAborted } from './request.js';

/** The realm of WWW-Authenticate: the public base URL without its trailing slash. */
export function realmOf(publicBaseUrl: URL): string {
  return publicBaseUrl.href.replace(/\/$/, '');
}

/** Where an answer's bookkeeping goes (the Gateway is one). */
export interface ErrorSink {
  readonly log: Logger;
  readonly metrics: Metrics;
}

/** What a client reads for an error whose own message is not exposed. */
const HIDDEN_TEXT: Readonly<Record<string, string>> = {
  store_unavailable: 'The gateway cannot reach its token store right now; try again shortly.',
  internal_error: 'Internal error',
};

/**
 * The GatewayError to answer `err` with, after the bookkeeping every answer does; null when there
 * is nobody to answer (an upload cut short: outcome `aborted`). `req` null: do not ask (a WebSocket
 * handshake has no body to cut short).
 */
export function errorToAnswer(err: unknown, req: IncomingMessage | null, facts: RequestFacts | undefined, sink: ErrorSink, unhandled = 'unhandled error'): GatewayError | null {
  if (err instanceof BodyTimeoutError) sink.metrics.clientTimeouts.inc({ phase: `body_${err.kind}` });
  // An upload cut short (Node's 'aborted' read error, IncompleteBodyError): a normal outcome, and no one to answer.
  if (req !== null && clientAborted(req) && !(err instanceof BodyTooLargeError)) {
    if (facts) facts.outcome = 'aborted';
    sink.log.debug({ requestId: facts?.requestId, reason: (err as Error | undefined)?.message }, 'request aborted by the client');
    return null;
  }
  const e = asGatewayError(err);
  if (e instanceof OAuthProblem) {
    if (facts) {
      facts.problem = e.problem;
      facts.outcome = 'refused';
    }
    if (sink.log.isLevelEnabled('debug')) sink.log.debug({ requestId: facts?.requestId, problem: e.problem, detail: e.message }, 'oauth refusal');
  } else if (e.code === 'store_unavailable') {
    if (facts) facts.outcome = 'store_unavailable';
    sink.log.warn({ requestId: facts?.requestId, err: e.message }, 'token store unavailable');
    sink.metrics.storeErrors.inc();
  } else if (e.code === 'internal_error') {
    if (facts) facts.outcome = 'error';
    sink.log.error({ requestId: facts?.requestId, err: e.cause }, unhandled);
  } else {
    if (facts) facts.outcome = 'refused';
    if (sink.log.isLevelEnabled('debug')) sink.log.debug({ requestId: facts?.requestId, code: e.code, status: e.status, detail: e.message }, 'refusal');
  }
  return e;
}

/**
 * A GatewayError as is; a library's exposed client error (Koa/http-errors convention: a 4xx, or
 * 501 for a feature refused on purpose) with its status and message; anything else internal_error.
 */
function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = err as { status?: unknown; expose?: unknown; message?: unknown } | null | undefined;
  if (e && typeof e.status === 'number' && ((e.status >= 400 && e.status < 500) || e.status === 501) && e.expose === true) {
    return gatewayError(e.status, 'client_error', typeof e.message === 'string' ? e.message : 'Bad request', { expose: true, cause: err });
  }
  return internalError(err);
}

/** The text a client reads (plain-text answers; the paragraph of a page). */
function textOf(e: GatewayError): string {
  return e.expose ? e.message : (HIDDEN_TEXT[e.code] ?? http.STATUS_CODES[e.status] ?? 'Error');
}

/**
 * (a) The answer for programs, on a response nothing has been written to: an OAuth problem in the
 * Problem Reporting format, anything else as plain text; the error's own headers (Retry-After,
 * Allow, Connection: close). `closing`: the connection ends with it (shutting down). HEAD: headers only.
 */
export function writeErrorResponse(res: ServerResponse, e: GatewayError, realm: string, closing: boolean, requestId?: string): void {
  res.statusCode = e.status;
  if (requestId !== undefined) res.setHeader('X-Request-Id', requestId);
  if (closing) res.setHeader('Connection', 'close');
  const own = e.headers;
  if (own !== undefined) for (const name in own) res.setHeader(name, own[name] as string);
  let body: string;
  if (e instanceof OAuthProblem) {
    res.setHeader('WWW-Authenticate', wwwAuthenticate(realm, e));
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', 'application/x-www-form-urlencoded');
    body = problemBody(e);
  } else {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    body = `${textOf(e)}\n`;
  }
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

/** What a page says; `problem`: the OAuth problem it stands for (sent in WWW-Authenticate with a 401). */
export interface PageContent {
  title: string;
  body: SafeHtml;
  problem?: OAuthProblemName | undefined;
}

/** The page of an error the caller has no words of its own for. */
function pageContentOf(e: GatewayError): PageContent {
  if (e instanceof OAuthProblem) return { title: 'Request refused', body: html`<p>${e.message}</p>`, problem: e.problem };
  switch (e.code) {
    case 'store_unavailable':
      return { title: 'Temporarily unavailable', body: html`<p>The gateway cannot reach its token store right now. Please try again in a moment.</p>` };
    case 'body_too_large':
      return { title: 'Form too large', body: html`<p>The form sent was larger than this page accepts.</p>` };
    case 'body_timeout':
      return { title: 'Form not received in time', body: html`<p>The form took too long to arrive. Please go back and send it again.</p>` };
    case 'internal_error':
      return { title: 'Something went wrong', body: html`<p>The gateway could not answer this request. Please try again in a moment; if it keeps happening, tell an administrator.</p>` };
    default:
      return { title: http.STATUS_CODES[e.status] ?? 'Request refused', body: html`<p>${textOf(e)}</p>` };
  }
}

/**
 * (b) The answer for people: a readable page with the error's status and headers (never the
 * OAuth form body), the page security headers, WWW-Authenticate for an OAuth problem's 401.
 */
export function writeErrorPage(res: ServerResponse, e: GatewayError, realm: string, closing: boolean, content: PageContent = pageContentOf(e)): void {
  res.statusCode = e.status;
  if (closing) res.setHeader('Connection', 'close');
  for (const [name, value] of pageSecurityHeaders()) res.setHeader(name, value);
  const own = e.headers;
  if (own !== undefined) for (const name in own) res.setHeader(name, own[name] as string);
  if (content.problem !== undefined && e.status === 401) res.setHeader('WWW-Authenticate', wwwAuthenticate(realm, { problem: content.problem, params: {} }));
  const body = pageDocument(content.title, html`<h1>${content.title}</h1>\n${content.body}`);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

/**
 * (c) The answer on the raw socket of an upgrade request: status line, headers (never cached),
 * body, and the connection closes (`Connection: close`, the socket ended).
 */
export function writeErrorToSocket(socket: Duplex, e: GatewayError, realm: string): void {
  if (!socket.writable) return;
  let head = `HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status] ?? ''}\r\n`;
  const own = e.headers;
  if (own !== undefined) for (const name in own) if (name !== 'Connection' && name !== 'Cache-Control') head += `${name}: ${own[name] as string}\r\n`;
  let body: string;
  if (e instanceof OAuthProblem) {
    head += `WWW-Authenticate: ${wwwAuthenticate(realm, e)}\r\nContent-Type: application/x-www-form-urlencoded\r\n`;
    body = problemBody(e);
  } else {
    head += 'Content-Type: text/plain; charset=utf-8\r\n';
    body = `${textOf(e)}\n`;
  }
  socket.end(`${head}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n${body}`);
}
