// The public port's hot path: every request that is not a dance or page route is verified and
// forwarded by this one plain handler, without Koa (DESIGN.md sections 1d, 2, 3). It does what
// the Koa stack does for the dance routes — request id, one log line, one error answer — with
// nothing else on the way.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '../gateway.js';
import { isOAuthProblem, problemBody, wwwAuthenticate } from '../oauth1/index.js';
import { BodyTimeoutError, BodyTooLargeError } from '../http/body.js';
import { clientAborted, requestIdOf } from '../http/request.js';
import { logRequest, type RequestFacts } from '../ops/request-facts.js';
import { StoreUnavailableError } from '../store/types.js';
import { compiledOf } from './compiled.js';
import { forwarderOf } from './index.js';
import { planForward } from './plan.js';

/** The path of a request-target without query or fragment; null for a target that is not origin-form. */
export function originFormPath(url: string | undefined): string | null {
  if (url === undefined || url.charCodeAt(0) !== 0x2f /* / */) return null;
  for (let i = 1; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) return url.slice(0, i);
  }
  return url;
}

/** Writes a whole answer to a response nothing has been written to (HEAD: headers only). */
function answer(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body: string, closing: boolean, requestId: string): void {
  res.statusCode = status;
  res.setHeader('X-Request-Id', requestId);
  if (closing) res.setHeader('Connection', 'close');
  for (const name in headers) res.setHeader(name, headers[name] as string);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * Answers an error of the proxy path: an OAuth problem in the Problem Reporting format, the store
 * down as 503, an exposed client error as plain text, anything else as a generic 500 (logged).
 * The same answers the Koa error handler gives on the dance routes.
 */
export function answerProxyError(gw: Gateway, req: IncomingMessage, res: ServerResponse, facts: RequestFacts, err: unknown): void {
  if (err instanceof BodyTimeoutError) gw.metrics.clientTimeouts.inc({ phase: `body_${err.kind}` });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // An upload cut short: a normal outcome, and no one to answer.
  if (clientAborted(req) && !(err instanceof BodyTooLargeError)) {
    facts.outcome = 'aborted';
    gw.log.debug({ requestId: facts.requestId, reason: (err as Error).message }, 'request aborted by the client');
    return;
  }
  if (isOAuthProblem(err)) {
    facts.problem = err.problem;
    facts.outcome = 'refused';
    if (gw.log.isLevelEnabled('debug')) gw.log.debug({ requestId: facts.requestId, problem: err.problem, detail: err.message }, 'oauth refusal');
    const headers: Record<string, string> = { 'WWW-Authenticate': wwwAuthenticate(compiledOf(gw.cfg()).realm, err), 'Cache-Control': 'no-store', 'Content-Type': 'application/x-www-form-urlencoded' };
    if (err.retryAfterSeconds !== undefined) headers['Retry-After'] = String(err.retryAfterSeconds);
    answer(req, res, err.status, headers, problemBody(err), gw.shuttingDown, facts.requestId);
    return;
  }
  if (err instanceof StoreUnavailableError) {
    facts.outcome = 'store_unavailable';
    gw.log.warn({ requestId: facts.requestId, err: err.message }, 'token store unavailable');
    gw.metrics.storeErrors.inc();
    answer(req, res, 503, { 'Retry-After': '2', 'Cache-Control': 'no-store', 'Content-Type': 'text/plain; charset=utf-8' }, 'The gateway cannot reach its token store right now; try again shortly.\n', gw.shuttingDown, facts.requestId);
    return;
  }
  const e = err as { status?: number; expose?: boolean; message?: string };
  // 501: a request feature the gateway refuses on purpose (e.g. an unsupported transfer coding).
  if (typeof e.status === 'number' && ((e.status >= 400 && e.status < 500) || e.status === 501) && e.expose) {
    facts.outcome = 'refused';
    // The rest of an unread body (too large, stalled) cannot be skipped: the connection ends here.
    if (e.status === 408 || e.status === 413) res.setHeader('Connection', 'close');
    answer(req, res, e.status, { 'Content-Type': 'text/plain; charset=utf-8' }, `${e.message ?? 'Bad request'}\n`, gw.shuttingDown, facts.requestId);
    return;
  }
  facts.outcome = 'error';
  gw.log.error({ requestId: facts.requestId, err }, 'unhandled error');
  answer(req, res, 500, { 'Content-Type': 'text/plain; charset=utf-8' }, 'Internal error\n', gw.shuttingDown, facts.requestId);
}

/** The plain request handler of the proxy path: verify, re-sign, forward; one log line when the socket is done. */
export function createProxyHandler(gw: Gateway): (req: IncomingMessage, res: ServerResponse) => void {
  const forwarder = forwarderOf(gw);

  async function run(req: IncomingMessage, res: ServerResponse, facts: RequestFacts): Promise<void> {
    // Read once: a reload during this request must not mix two configurations.
    const cfg = gw.cfg();
    const plan = await planForward(gw, cfg, req, facts, { upgrade: false });
    await forwarder.web(req, res, plan);
  }

  return function proxyRequest(req: IncomingMessage, res: ServerResponse): void {
    const startedNs = process.hrtime.bigint();
    const facts: RequestFacts = { requestId: requestIdOf(req) };
    // Logged when the socket is done with the response, proxied or refused.
    res.once('close', () => {
      if (facts.outcome === undefined && clientAborted(req)) facts.outcome = 'aborted';
      logRequest(gw, facts, {
        method: req.method,
        path: originFormPath(req.url) ?? req.url ?? '/',
        status: res.headersSent ? res.statusCode : undefined,
        startedNs,
        remote: req.socket?.remoteAddress,
        aborted: !res.writableFinished,
      });
    });
    run(req, res, facts).catch((err: unknown) => answerProxyError(gw, req, res, facts, err));
  };
}
