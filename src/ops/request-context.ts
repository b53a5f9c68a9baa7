// Per-request facts gathered by the routes and written as one log line when the response ends.
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Gateway } from '../gateway.js';
import type { Flow } from './metrics.js';

export interface RequestFacts {
  requestId: string;
  flow?: Flow;
  link?: string;
  consumerKey?: string;
  /** The user the request ran as at AppB, or the user of a dance step. */
  user?: string;
  /** oauth_problem of a refusal. */
  problem?: string;
  outcome?: 'ok' | 'refused' | 'upstream_error' | 'store_unavailable' | 'error';
  upstreamStatus?: number;
  /** Non-secret token handle. */
  tokenHandle?: string;
}

declare module 'koa' {
  interface DefaultState {
    facts: RequestFacts;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Honours a well-formed X-Request-Id, else makes one; returns it and logs one line per request. */
export function requestContext(gw: Gateway) {
  return async function requestLog(ctx: Context, next: Next): Promise<void> {
    const started = process.hrtime.bigint();
    const incoming = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const facts: RequestFacts = { requestId };
    ctx.state.facts = facts;
    ctx.set('X-Request-Id', requestId);
    // Logged when the socket is done with the response, which also covers proxied responses (ctx.respond = false).
    ctx.res.once('close', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const status = ctx.res.statusCode;
      const outcome = facts.outcome ?? (status >= 500 ? 'error' : 'ok');
      gw.metrics.requests.inc({ flow: facts.flow ?? 'unsigned', outcome });
      if (facts.problem) gw.metrics.refusals.inc({ problem: facts.problem, link: facts.link ?? '' });
      gw.log.info(
        {
          requestId,
          method: ctx.method,
          path: ctx.path,
          status,
          durationMs: Math.round(durationMs * 100) / 100,
          flow: facts.flow ?? 'unsigned',
          link: facts.link,
          consumerKey: facts.consumerKey,
          user: facts.user,
          outcome,
          problem: facts.problem,
          upstreamStatus: facts.upstreamStatus,
          tokenHandle: facts.tokenHandle,
          // The socket is gone once a request was destroyed (e.g. a body over the limit).
          remote: ctx.req.socket?.remoteAddress,
          aborted: !ctx.res.writableFinished || undefined,
        },
        'request',
      );
    });
    await next();
  };
}
