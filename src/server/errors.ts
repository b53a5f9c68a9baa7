// One error handler for the public port's Koa application (the dance routes and the rare
// request-target that is not origin-form): every error is answered by the one renderer of
// src/http/answer.ts — OAuth problems in the Problem Reporting format, the store being down as
// 503, a client gone mid-upload as a plain 'aborted' outcome, anything unexpected as a generic 500
// (logged, never shown). The dance pages answer their own errors as pages (src/provider/page-steps.ts).
import type { Context, Next } from 'koa';
import type { Gateway } from '../gateway.js';
import { errorToAnswer, writeErrorResponse } from '../http/answer.js';
import { compiledOf } from '../proxy/compiled.js';

export function errorHandler(gw: Gateway) {
  return async function handleErrors(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (err) {
      const e = errorToAnswer(err, ctx.req, ctx.state.facts, gw);
      // Nobody to answer, or written by the renderer itself: Koa leaves the response alone.
      ctx.respond = false;
      if (e === null) return;
      // An answer already under way (a proxied one) cannot become an error answer: the connection goes.
      if (ctx.res.headersSent) {
        if (!ctx.res.writableEnded) ctx.res.destroy();
        return;
      }
      writeErrorResponse(ctx.res, e, compiledOf(gw.cfg()).realm, gw.shuttingDown);
    }
  };
}
