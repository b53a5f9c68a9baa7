// The approval step (DESIGN.md 1a steps 2-4): GET shows who asks and as whom, POST records the
// user's answer atomically and sends the browser back to the callback stored with the token.
import type { Context, Next } from 'koa';
import type { ResolvedLink } from '../config/links.js';
import type { Gateway } from '../gateway.js';
import { PATHS, publicPath } from '../http/paths.js';
import { handleOfToken } from '../store/tokens.js';
import type { DecideResult, RequestToken } from '../store/types.js';
import type { UserAuth } from '../userauth/index.js';
import { appendQuery, callbackOrigin, OOB } from '../oauth1/callback.js';
import { checkCsrfToken, CSRF_FIELD, issueCsrfToken } from './csrf.js';
import { formFields, queryFields, repeated } from './forms.js';
import { html, PageError, renderPage } from './html.js';
import { pageErrors, signedInUser } from './page-steps.js';
import { dance, handOn, need, type Step } from './state.js';
import { findRequestToken } from './tokens.js';

type Route = 'show' | 'decide';
const SHOW: Route = 'show';
const DECIDE: Route = 'decide';

export function authorizeSteps(gw: Gateway, users: UserAuth, route: Route): Step[] {
  const stack: Step[] = [];
  const use = (step: Step, ...only: Route[]) => {
    if (only.includes(route)) stack.push(step);
  };
  use(pageErrors(gw),                      SHOW, DECIDE);
  use(readQuery,                           SHOW);
  use(readForm,                                  DECIDE);
  use(foreignTokenToAppB,                  SHOW, DECIDE);
  use(pendingToken(gw),                    SHOW, DECIDE);
  use(signedInUser(users, returnToPage),   SHOW, DECIDE);
  use(sameBrowser,                               DECIDE);
  use(showApproval,                        SHOW);
  use(recordDecision(gw),                        DECIDE);
  return stack;
}

// The query of the approval page (oauth_token; an oauth_callback there is never used).
async function readQuery(ctx: Context, next: Next): Promise<void> {
  dance(ctx).fields = queryFields(ctx);
  await next();
}

// The approval form as posted.
async function readForm(ctx: Context, next: Next): Promise<void> {
  const s = dance(ctx);
  s.fields = await formFields(ctx, s.cfg);
  await next();
}

function tokenField(ctx: Context): string {
  const token = need(dance(ctx).fields, 'fields').get('oauth_token', repeated('oauth_token'));
  if (token === undefined || token === '') {
    throw new PageError({ status: 400, title: 'Missing request token', message: 'This address lacks the oauth_token parameter. Start again from the application that sent you here.', problem: 'parameter_absent' });
  }
  return token;
}

// A token that is not of our making belongs to AppB's own links: its own approval page answers it.
async function foreignTokenToAppB(ctx: Context, next: Next): Promise<void> {
  const s = dance(ctx);
  if (s.cfg.config.upstream.passthroughUnknownConsumers && handleOfToken(tokenField(ctx)) === null) {
    await handOn(ctx);
    return;
  }
  await next();
}

const TOKEN_PAGES = {
  unknown: { title: 'Unknown authorization request', problem: 'token_rejected', message: 'This authorization request is not known here. Start again from the application that sent you here.' },
  expired: { title: 'Authorization request expired', problem: 'token_expired', message: 'This authorization request has expired. Go back to the application and start again.' },
  used: { title: 'Authorization request already answered', problem: 'token_used', message: 'This authorization request has already been allowed or denied and cannot be answered again. Go back to the application and start again if needed.' },
  gone: { title: 'Application link removed', problem: 'token_rejected', message: 'The application that asked is no longer linked to this site.' },
} as const;

function tokenPage(kind: keyof typeof TOKEN_PAGES): PageError {
  const p = TOKEN_PAGES[kind];
  return new PageError({ status: 401, title: p.title, message: p.message, problem: p.problem });
}

// The request token exists, has not expired, is still waiting for an answer, and its link still exists.
function pendingToken(gw: Gateway): Step {
  return async function pendingToken(ctx, next) {
    const s = dance(ctx);
    const found = await findRequestToken(gw.store, tokenField(ctx));
    if (found === 'unknown' || found === 'expired') throw tokenPage(found);
    if (ctx.state.facts) {
      ctx.state.facts.tokenHandle = found.handle;
      ctx.state.facts.link = found.linkId;
      ctx.state.facts.consumerKey = found.consumerKey;
    }
    if (found.state !== 'pending') throw tokenPage('used');
    const link = s.cfg.linksById.get(found.linkId);
    if (!link || link.consumerKey !== found.consumerKey) throw tokenPage('gone');
    s.requestToken = found;
    s.link = link;
    await next();
  };
}

// After signing in, the browser comes back to the approval page of the same token.
function returnToPage(ctx: Context): string {
  return ctx.method === 'GET' || ctx.method === 'HEAD'
    ? ctx.originalUrl
    : `${PATHS.authorize}?oauth_token=${encodeURIComponent(tokenField(ctx))}`;
}

function csrfPurpose(rt: RequestToken, user: string): string[] {
  return ['authorize', rt.token, user];
}

// The form was issued to this browser, for this token and this user.
async function sameBrowser(ctx: Context, next: Next): Promise<void> {
  const s = dance(ctx);
  const rt = need(s.requestToken, 'requestToken');
  const given = need(s.fields, 'fields').get(CSRF_FIELD, repeated(CSRF_FIELD));
  if (!checkCsrfToken(ctx, s.cfg, csrfPurpose(rt, need(s.user, 'user')), given)) {
    throw new PageError({
      status: 403,
      title: 'Approval not confirmed',
      message: html`<p>This approval form was not opened in this browser for the signed-in user, or it is out of date. Nothing was allowed.</p>
<p><a href="${publicPath(s.cfg, `${PATHS.authorize}?oauth_token=${encodeURIComponent(rt.token)}`)}">Open the approval page again</a></p>`,
    });
  }
  await next();
}

/** "5 years", "30 days", "2 hours": how long an approval lasts, for people. */
export function humanDuration(seconds: number): string {
  const units: Array<[number, string]> = [
    [365 * 86400, 'year'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, name] of units) {
    if (seconds >= size) {
      const n = Math.round(seconds / size);
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}

function whereNext(link: ResolvedLink, rt: RequestToken) {
  if (rt.callback === OOB) return html`After you allow access, this page shows a verification code to enter in ${link.name}.`;
  if (rt.callback === null) return html`After you choose, return to ${link.name} to continue.`;
  return html`After you choose, you will be sent back to ${callbackOrigin(rt.callback) ?? link.name}.`;
}

// The approval page: which application, which user, what approving means, Allow and Deny.
async function showApproval(ctx: Context): Promise<void> {
  const s = dance(ctx);
  const rt = need(s.requestToken, 'requestToken');
  const link = need(s.link, 'link');
  const user = need(s.user, 'user');
  const site = s.cfg.publicBaseUrl.host;
  const csrf = issueCsrfToken(ctx, s.cfg, csrfPurpose(rt, user));
  const origin = rt.callback === null || rt.callback === OOB ? null : callbackOrigin(rt.callback);
  renderPage(ctx, {
    title: `Allow ${link.name} to access your account?`,
    formTargets: origin ? [origin] : [],
    body: html`<h1>Allow ${link.name} to access your account?</h1>
<p>You are signed in to ${site} as <strong>${user}</strong>.</p>
<p><strong>${link.name}</strong> asks to use ${site} on your behalf.</p>
<h2>If you allow access, ${link.name} can</h2>
<ul>
<li>see and change everything you can see and change on ${site}, acting as ${user}, without knowing your password;</li>
<li>keep doing so for up to ${humanDuration(s.cfg.config.oauth.accessTokenTtlSeconds)}, until you revoke its access on <a href="${publicPath(s.cfg, PATHS.userTokens)}">your application access page</a>.</li>
</ul>
<p>Only allow this if you have just asked ${link.name} to connect to ${site}.</p>
<form method="post" action="${publicPath(s.cfg, PATHS.authorize)}">
<input type="hidden" name="oauth_token" value="${rt.token}">
<input type="hidden" name="oauth_callback" value="${rt.callback ?? ''}">
<input type="hidden" name="${CSRF_FIELD}" value="${csrf}">
<div class="actions">
<button type="submit" name="approve" value="Allow" class="primary">Allow</button>
<button type="submit" name="deny" value="Deny">Deny</button>
</div>
</form>
<p class="muted">${whereNext(link, rt)}</p>`,
  });
}

function decisionFailed(result: Exclude<DecideResult, { ok: true }>): PageError {
  return tokenPage(result.reason === 'already_decided' ? 'used' : result.reason);
}

// Approve or deny, atomically; then back to the callback stored with the token (never one from the form).
function recordDecision(gw: Gateway): Step {
  return async function recordDecision(ctx) {
    const s = dance(ctx);
    const rt = need(s.requestToken, 'requestToken');
    const link = need(s.link, 'link');
    const user = need(s.user, 'user');
    const fields = need(s.fields, 'fields');
    const approve = fields.has('approve');
    if (approve === fields.has('deny')) {
      throw new PageError({ status: 400, title: 'No decision', message: 'Choose either Allow or Deny.' });
    }
    const result = approve ? await gw.store.approveRequestToken(rt.token, user) : await gw.store.denyRequestToken(rt.token, user);
    if (!result.ok) throw decisionFailed(result);
    const decided = result.token;
    const event = approve ? 'approved' : 'denied';
    gw.metrics.danceEvents.inc({ event, link: link.id });
    gw.audit(approve ? 'token_approved' : 'token_denied', { link: link.id, user, handle: decided.handle, version: decided.version });

    if (decided.callback !== null && decided.callback !== OOB) {
      const verifier = approve ? (decided.verifier ?? '') : 'denied';
      ctx.redirect(appendQuery(decided.callback, [['oauth_token', decided.token], ['oauth_verifier', verifier]]));
      return;
    }
    if (!approve) {
      renderPage(ctx, {
        title: 'Access denied',
        body: html`<h1>Access denied</h1>
<p>${link.name} cannot use your account. You can close this page and return to ${link.name}.</p>`,
      });
      return;
    }
    if (decided.callback === OOB && decided.verifier) {
      renderPage(ctx, {
        title: 'Access allowed',
        body: html`<h1>Access allowed</h1>
<p>To finish connecting, enter this verification code in ${link.name}:</p>
<p><code class="verifier" aria-label="Verification code">${decided.verifier}</code></p>
<p class="muted">The code works once and only for a few minutes.</p>`,
      });
      return;
    }
    renderPage(ctx, {
      title: 'Access allowed',
      body: html`<h1>Access allowed</h1>
<p>Return to ${link.name} and continue there; it can now finish connecting to your account.</p>`,
    });
  };
}
