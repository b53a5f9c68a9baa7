// Steps shared by the browser pages: readable error pages instead of the OAuth error format,
// and finding the signed-in user (or sending the browser to sign in first).
import type { Context, Next } from 'koa';
import type { RuntimeConfig } from '../config/load.js';
import type { Gateway } from '../gateway.js';
import type { GatewayError } from '../errors/index.js';
import { errorToAnswer, realmOf, writeErrorPage, type PageContent } from '../http/answer.js';
import { UserAuthError, type UserAuthReason } from '../userauth/errors.js';
import type { UserAuth } from '../userauth/index.js';
import { html, PageError, setPageSecurityHeaders } from './html.js';
import { dance, type Step } from './state.js';

// Every refusal on a page becomes a readable page with the right status (never the OAuth form
// body), written by the one renderer (src/http/answer.ts, its page form).
export function pageErrors(gw: Gateway): Step {
  return async function pageErrors(ctx, next) {
    const facts = ctx.state.facts;
    if (facts) facts.flow = 'dance';
    // Also on redirects: nothing of the dance may be cached or framed.
    setPageSecurityHeaders(ctx);
    try {
      await next();
    } catch (err) {
      // Handed on to AppB: its errors are the proxy's.
      if (dance(ctx).handedOn) throw err;
      answerAsPage(gw, ctx, dance(ctx).cfg, err);
    }
  };
}

/** Answers an error on a browser page with a readable page (the renderer's page form). */
export function answerAsPage(gw: Gateway, ctx: Context, cfg: RuntimeConfig, err: unknown): void {
  const facts = ctx.state.facts;
  const e = errorToAnswer(err, ctx.req, facts, gw);
  ctx.respond = false;
  if (e === null) return;
  if (ctx.res.headersSent) {
    if (!ctx.res.writableEnded) ctx.res.destroy();
    return;
  }
  const content = pageContentOf(e);
  if (content?.problem !== undefined && facts) facts.problem = content.problem;
  gw.log.debug({ requestId: facts?.requestId, status: e.status, code: e.code, title: content?.title }, 'dance page refusal');
  writeErrorPage(ctx.res, e, realmOf(cfg.publicBaseUrl), gw.shuttingDown, content);
}

/** The dance's own words for an error (undefined: the renderer's). */
function pageContentOf(e: GatewayError): PageContent | undefined {
  if (e instanceof PageError) return { title: e.title, body: e.body, problem: e.problem };
  if (e instanceof UserAuthError) return { title: 'Cannot check your sign-in', body: html`<p>${USER_AUTH_MESSAGES[e.code]}</p>` };
  return undefined;
}

// What the browser user reads when userauth cannot say who they are.
const USER_AUTH_MESSAGES: Readonly<Record<UserAuthReason, string>> = {
  session_check_timeout: 'The application behind this gateway took too long to say who you are. Try again in a moment.',
  session_check_unreachable: 'The application behind this gateway could not be reached to check who you are. Try again in a moment.',
  session_check_no_user:
    'The application behind this gateway did not say who you are. An administrator should check userAuth.sessionCheckPath and userAuth.usernameField.',
};

/**
 * The signed-in user (DESIGN.md section 4); an anonymous browser is sent to sign in and come back
 * to `returnPath(ctx)` (default: this very request).
 */
export function signedInUser(users: UserAuth, returnPath: (ctx: Context) => string = (ctx) => ctx.originalUrl): Step {
  return async function signedInUser(ctx: Context, next: Next) {
    const s = dance(ctx);
    const user = await users.identify(ctx, s.cfg);
    if (user === null) {
      const location = users.loginLocation(s.cfg, returnPath(ctx));
      if (location === null) {
        throw new PageError({ status: 403, title: 'Not signed in', message: 'Sign in to the application first, then try again.' });
      }
      ctx.redirect(location);
      return;
    }
    s.user = user;
    if (ctx.state.facts) ctx.state.facts.user = user;
    await next();
  };
}
