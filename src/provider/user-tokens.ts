// The signed-in user's own access tokens (DESIGN.md 1e): which application, since when, until
// when, and a revoke button each (POST with the non-secret handle, CSRF-checked, ownership checked).
import type { Context, Next } from 'koa';
import type { Gateway } from '../gateway.js';
import { PATHS, publicPath } from '../http/paths.js';
import { isHandle } from '../store/tokens.js';
import type { AccessTokenSummary } from '../store/types.js';
import type { UserAuth } from '../userauth/index.js';
import { checkCsrfToken, CSRF_FIELD, issueCsrfToken } from './csrf.js';
import { demoLogoutToken } from './demo-sign-in.js';
import { formFields, queryFields, repeated } from './forms.js';
import { html, PageError, renderPage } from './html.js';
import { pageErrors, signedInUser } from './page-steps.js';
import { dance, need, type Step } from './state.js';

type Route = 'list' | 'revoke';
const LIST: Route = 'list';
const REVOKE: Route = 'revoke';

export function userTokenSteps(gw: Gateway, users: UserAuth, route: Route): Step[] {
  const stack: Step[] = [];
  const use = (step: Step, ...only: Route[]) => {
    if (only.includes(route)) stack.push(step);
  };
  use(pageErrors(gw),                                  LIST, REVOKE);
  use(signedInUser(users, () => PATHS.userTokens),     LIST, REVOKE);
  use(listTokens(gw),                                  LIST);
  use(readRevokeForm,                                        REVOKE);
  use(revokeOwnToken(gw),                                    REVOKE);
  return stack;
}

function csrfPurpose(user: string): string[] {
  return ['revoke', user];
}

/** 2025-11-28 04:10 UTC: unambiguous for every reader, no script needed. */
function when(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function listTokens(gw: Gateway): Step {
  return async function listTokens(ctx) {
    const s = dance(ctx);
    const user = need(s.user, 'user');
    const tokens = await gw.store.listAccessTokens({ user });
    const csrf = issueCsrfToken(ctx, s.cfg, csrfPurpose(user));
    const revokedLink = queryFields(ctx).get('revoked', repeated('revoked'));
    const revokedName = revokedLink === undefined ? undefined : (s.cfg.linksById.get(revokedLink)?.name ?? 'the application');
    const nameOf = (t: AccessTokenSummary) => s.cfg.linksById.get(t.linkId)?.name ?? t.consumerKey;
    const action = publicPath(s.cfg, PATHS.userTokens);
    const rows = tokens.map(
      (t) => html`<tr>
<td>${nameOf(t)}</td>
<td>${when(t.createdAt)}</td>
<td>${when(t.expiresAt)}</td>
<td><form method="post" action="${action}">
<input type="hidden" name="handle" value="${t.handle}">
<input type="hidden" name="${CSRF_FIELD}" value="${csrf}">
<button type="submit" aria-label="Revoke access of ${nameOf(t)} granted ${when(t.createdAt)}">Revoke</button>
</form></td>
</tr>`,
    );
    const signOut =
      s.cfg.config.userAuth.mode === 'demo'
        ? html`<form method="post" action="${publicPath(s.cfg, PATHS.demoLogout)}"><input type="hidden" name="${CSRF_FIELD}" value="${demoLogoutToken(ctx, s.cfg)}"><button type="submit">Sign out</button></form>`
        : '';
    renderPage(ctx, {
      title: 'Application access',
      body: html`<h1>Application access</h1>
<p>Signed in as <strong>${user}</strong>. These applications can act as you on ${s.cfg.publicBaseUrl.host}. Revoking stops an application at once; it will have to ask you again.</p>
${revokedName === undefined ? '' : html`<p class="notice" role="status">Access for ${revokedName} was revoked.</p>`}
${
  tokens.length === 0
    ? html`<p>No application can access your account.</p>`
    : html`<table>
<caption class="muted">Your access tokens, newest first</caption>
<thead><tr><th scope="col">Application</th><th scope="col">Allowed</th><th scope="col">Expires</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`
}
${signOut}`,
    });
  };
}

// The revoke form as posted, from this browser for this user.
async function readRevokeForm(ctx: Context, next: Next): Promise<void> {
  const s = dance(ctx);
  s.fields = await formFields(ctx, s.cfg);
  if (!checkCsrfToken(ctx, s.cfg, csrfPurpose(need(s.user, 'user')), s.fields.get(CSRF_FIELD, repeated(CSRF_FIELD)))) {
    throw new PageError({
      status: 403,
      title: 'Revocation not confirmed',
      message: html`<p>This form was not opened in this browser for the signed-in user, or it is out of date. Nothing was revoked.</p>
<p><a href="${publicPath(s.cfg, PATHS.userTokens)}">Back to your application access</a></p>`,
    });
  }
  await next();
}

// Revokes one token of this user (the store checks ownership in the same atomic step).
function revokeOwnToken(gw: Gateway): Step {
  return async function revokeOwnToken(ctx) {
    const s = dance(ctx);
    const user = need(s.user, 'user');
    const handle = need(s.fields, 'fields').get('handle', repeated('handle'));
    if (handle === undefined || !isHandle(handle)) {
      throw new PageError({ status: 400, title: 'Bad request', message: 'The form did not name a token to revoke.' });
    }
    const revoked = await gw.store.revokeAccessToken(handle, { user });
    if (!revoked) {
      throw new PageError({
        status: 404,
        title: 'No such access',
        message: html`<p>You have no access token with that reference: it may have been revoked or expired already.</p>
<p><a href="${publicPath(s.cfg, PATHS.userTokens)}">Back to your application access</a></p>`,
      });
    }
    if (ctx.state.facts) {
      ctx.state.facts.tokenHandle = revoked.handle;
      ctx.state.facts.link = revoked.linkId;
    }
    gw.metrics.danceEvents.inc({ event: 'revoked', link: revoked.linkId });
    gw.audit('token_revoked', { link: revoked.linkId, user, handle: revoked.handle, by: 'user' });
    ctx.status = 303;
    ctx.redirect(`${publicPath(s.cfg, PATHS.userTokens)}?revoked=${encodeURIComponent(revoked.linkId)}`);
  };
}
