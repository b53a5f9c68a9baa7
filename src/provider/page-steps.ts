// Steps shared by the browser pages: readable error pages instead of the OAuth error format,
// and finding the signed-in user (or sending the browser to sign in first).
import type { Context, Next } from 'koa';
import type { Gateway } from '../gateway.js';
import { BodyTooLargeError } from '../http/body.js';
import { isOAuthProblem, OAuthProblem, wwwAuthenticate } from '../oauth1/index.js';
import { StoreUnavailableError } from '../store/types.js';
import { UserAuthError, type UserAuthReason } from '../userauth/errors.js';
import type { UserAuth } from '../userauth/index.js';
import { html, PageError, renderPage, setPageSecurityHeaders } from './html.js';
import { dance, type Step } from './state.js';

// Every refusal on a page becomes a readable page with the right status (never the OAuth form body).
export function pageErrors(gw: Gateway): Step {
  return async function pageErrors(ctx, next) {
    const facts = ctx.state.facts;
    if (facts) facts.flow = 'dance';
    // Also on redirects: nothing of the dance may be cached or framed.
    setPageSecurityHeaders(ctx);
    try {
      await next();
    } catch (err) {
      const page = dance(ctx).handedOn ? null : asPageError(err);
      if (!page) throw err;
      if (facts) {
        facts.outcome = page.status === 503 ? 'store_unavailable' : 'refused';
        if (page.problem) facts.problem = page.problem;
      }
      if (err instanceof StoreUnavailableError) {
        gw.metrics.storeErrors.inc();
        ctx.set('Retry-After', '2');
      }
      if (page.status === 413) ctx.set('Connection', 'close');
      if (page.problem && page.status === 401) {
        ctx.set('WWW-Authenticate', wwwAuthenticate(dance(ctx).cfg.publicBaseUrl.href.replace(/\/$/, ''), new OAuthProblem(page.problem)));
      }
      gw.log.debug({ requestId: facts?.requestId, status: page.status, problem: page.problem, title: page.title }, 'dance page refusal');
      renderPage(ctx, { status: page.status, title: page.title, body: html`<h1>${page.title}</h1>\n${page.body}` });
    }
  };
}

function asPageError(err: unknown): PageError | null {
  if (err instanceof PageError) return err;
  if (isOAuthProblem(err)) return new PageError({ status: err.status, title: 'Request refused', message: err.message, problem: err.problem });
  if (err instanceof StoreUnavailableError) {
    return new PageError({ status: 503, title: 'Temporarily unavailable', message: 'The gateway cannot reach its token store right now. Please try again in a moment.' });
  }
  if (err instanceof BodyTooLargeError) return new PageError({ status: 413, title: 'Form too large', message: 'The form sent was larger than this page accepts.' });
  if (err instanceof UserAuthError) return new PageError({ status: err.status, title: 'Cannot check your sign-in', message: USER_AUTH_MESSAGES[err.reason] });
  return null;
}

// What the browser user reads when userauth cannot say who they are.
const USER_AUTH_MESSAGES: Readonly<Record<UserAuthReason, string>> = {
  'session-check-timeout': 'The application behind this gateway took too long to say who you are. Try again in a moment.',
  'session-check-unreachable': 'The application behind this gateway could not be reached to check who you are. Try again in a moment.',
  'session-check-no-user':
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
