// One error handler for the public port: OAuth problems in the Problem Reporting format,
// the store being down as 503, a client gone mid-upload as a plain 'aborted' outcome, anything
// unexpected as a generic 500 (logged, never shown).
import type { Context, Next } from 'koa';
import type { Gateway } from '../gateway.js';
import { BodyTimeoutError, BodyTooLargeError } from '../http/body.js';
import { clientAborted } from '../http/request.js';
import { OAuthProblem, isOAuthProblem, problemBody, wwwAuthenticate } from '../oauth1/index.js';
import { StoreUnavailableError } from '../store/types.js';

/** Writes an OAuth problem response (DESIGN.md section 3). */
export function sendOAuthProblem(ctx: Context, gw: Gateway, p: OAuthProblem): void {
  const facts = ctx.state.facts;
  if (facts) {
    facts.problem = p.problem;
    facts.outcome = 'refused';
  }
  ctx.status = p.status;
  ctx.set('WWW-Authenticate', wwwAuthenticate(gw.cfg().publicBaseUrl.href.replace(/\/$/, ''), p));
  ctx.set('Cache-Control', 'no-store');
  if (p.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(p.retryAfterSeconds));
  ctx.type = 'application/x-www-form-urlencoded';
  ctx.body = problemBody(p);
}

export function sendStoreUnavailable(ctx: Context, gw: Gateway): void {
  if (ctx.state.facts) ctx.state.facts.outcome = 'store_unavailable';
  gw.metrics.storeErrors.inc();
  ctx.status = 503;
  ctx.set('Retry-After', '2');
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'text/plain';
  ctx.body = 'The gateway cannot reach its token store right now; try again shortly.\n';
}

export function errorHandler(gw: Gateway) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      if (err instanceof BodyTimeoutError) gw.metrics.clientTimeouts.inc({ phase: `body_${err.kind}` });
      // An upload cut short (Node's 'aborted' read error, IncompleteBodyError): a normal outcome, and no one to answer.
      if (clientAborted(ctx.req) && !(err instanceof BodyTooLargeError)) {
        if (ctx.state.facts) ctx.state.facts.outcome = 'aborted';
        gw.log.debug({ requestId: ctx.state.facts?.requestId, reason: (err as Error).message }, 'request aborted by the client');
        ctx.respond = false;
        return;
      }
      if (isOAuthProblem(err)) {
        gw.log.debug({ requestId: ctx.state.facts?.requestId, problem: err.problem, detail: err.message }, 'oauth refusal');
        sendOAuthProblem(ctx, gw, err);
        return;
      }
      if (err instanceof StoreUnavailableError) {
        gw.log.warn({ requestId: ctx.state.facts?.requestId, err: err.message }, 'token store unavailable');
        sendStoreUnavailable(ctx, gw);
        return;
      }
      const e = err as { status?: number; expose?: boolean; message?: string };
      // 501: a request feature the gateway refuses on purpose (e.g. an unsupported transfer coding).
      if (typeof e.status === 'number' && ((e.status >= 400 && e.status < 500) || e.status === 501) && e.expose) {
        ctx.status = e.status;
        // The rest of an unread body (too large, stalled) cannot be skipped: the connection ends here.
        if (e.status === 408 || e.status === 413) ctx.set('Connection', 'close');
        ctx.type = 'text/plain';
        ctx.body = `${e.message ?? 'Bad request'}\n`;
        if (ctx.state.facts) ctx.state.facts.outcome = 'refused';
        return;
      }
      gw.log.error({ requestId: ctx.state.facts?.requestId, err }, 'unhandled error');
      if (ctx.state.facts) ctx.state.facts.outcome = 'error';
      ctx.status = 500;
      ctx.type = 'text/plain';
      ctx.body = 'Internal error\n';
    }
  };
}
