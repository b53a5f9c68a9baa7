// The Koa middleware of the public application's request context: the request id, the facts
// the routes fill in (ctx.state.facts) and the one log line when the response is done.
import type { Context, Next } from 'koa';
import type { Gateway } from '../gateway.js';
import { clientAborted, requestIdOf } from '../http/request.js';
import { logRequest, type RequestFacts } from '../ops/request-facts.js';

declare module 'koa' {
  interface DefaultState {
    facts: RequestFacts;
  }
}

/** Honours a well-formed X-Request-Id, else makes one; returns it and logs one line per request. */
export function requestContext(gw: Gateway) {
  return async function requestLog(ctx: Context, next: Next): Promise<void> {
    const startedNs = process.hrtime.bigint();
    const facts: RequestFacts = { requestId: requestIdOf(ctx.req) };
    ctx.state.facts = facts;
    ctx.set('X-Request-Id', facts.requestId);
    // Logged when the socket is done with the response, which also covers proxied responses (ctx.respond = false).
    ctx.res.once('close', () => {
      // An upload cut short closes the socket before any route has had a say.
      if (facts.outcome === undefined && clientAborted(ctx.req)) facts.outcome = 'aborted';
      logRequest(gw, facts, {
        method: ctx.method,
        path: ctx.path,
        status: ctx.res.headersSent ? ctx.res.statusCode : undefined,
        startedNs,
        // The socket is gone once a request was destroyed (e.g. a body over the limit).
        remote: ctx.req.socket?.remoteAddress,
        aborted: !ctx.res.writableFinished,
      });
    });
    await next();
  };
}
