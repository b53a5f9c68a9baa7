// The sign-in pages of userAuth mode demo: the form, its POST and the sign-out button. Who may
// sign in and the session cookie are src/userauth/demo.ts; this file is the pages around them.
import type { Context } from 'koa';
import type { RuntimeConfig } from '../config/load.js';
import { PATHS, publicPath } from '../http/paths.js';
import { checkDemoPassword, demoAuthOf, endDemoSession, startDemoSession } from '../userauth/demo.js';
import { checkCsrfToken, CSRF_FIELD, issueCsrfToken } from './csrf.js';
import { formFields, queryFields, repeated } from './forms.js';
import { html, PageError, renderPage } from './html.js';
import { dance } from './state.js';

/** Only paths of this site: an absolute or scheme-relative return URL would be an open redirect. */
export function safeReturnPath(value: string | undefined): string {
  if (value !== undefined && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) && !value.includes('\\')) return value;
  return PATHS.userTokens;
}

function loginForm(ctx: Context, cfg: RuntimeConfig, opts: { returnPath: string; username?: string; error?: string; status?: number }): void {
  const token = issueCsrfToken(ctx, cfg, ['demo-login']);
  renderPage(ctx, {
    status: opts.status ?? 200,
    title: 'Sign in',
    body: html`<h1>Sign in</h1>
<p class="muted">Demo sign-in of applink-gateway: the users come from the configuration (<code>userAuth.users</code>). Never use this mode in production.</p>
${opts.error ? html`<p class="alert" role="alert">${opts.error}</p>` : ''}
<form method="post" action="${publicPath(cfg, PATHS.demoLogin)}">
<input type="hidden" name="return" value="${opts.returnPath}">
<input type="hidden" name="${CSRF_FIELD}" value="${token}">
<label for="username">User name</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="${opts.username ?? ''}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="actions"><button type="submit" class="primary">Sign in</button></div>
</form>`,
  });
}

/** GET the sign-in form. */
export async function showDemoLogin(ctx: Context): Promise<void> {
  const { cfg } = dance(ctx);
  const returnPath = safeReturnPath(queryFields(ctx).get('return', repeated('return')));
  loginForm(ctx, cfg, { returnPath });
}

/** POST: check the password, set the session cookie, go back to where the user came from. */
export async function submitDemoLogin(ctx: Context): Promise<void> {
  const { cfg } = dance(ctx);
  const auth = demoAuthOf(cfg);
  if (!auth) throw new PageError({ status: 404, title: 'Not found', message: 'Demo sign-in is not enabled.' });
  const form = await formFields(ctx, cfg);
  const returnPath = safeReturnPath(form.get('return', repeated('return')));
  if (!checkCsrfToken(ctx, cfg, ['demo-login'], form.get(CSRF_FIELD, repeated(CSRF_FIELD)))) {
    loginForm(ctx, cfg, { returnPath, status: 403, error: 'This sign-in form has expired or was not opened in this browser. Please sign in again.' });
    return;
  }
  const username = (form.get('username', repeated('username')) ?? '').trim();
  const password = form.get('password', repeated('password')) ?? '';
  const user = checkDemoPassword(auth, username, password);
  if (user === null) {
    loginForm(ctx, cfg, { returnPath, username, status: 401, error: 'Wrong user name or password.' });
    return;
  }
  startDemoSession(ctx, cfg, user);
  const facts = ctx.state.facts;
  if (facts) facts.user = user;
  ctx.status = 303;
  ctx.redirect(publicPath(cfg, returnPath));
}

/** POST: forget the session. */
export async function submitDemoLogout(ctx: Context): Promise<void> {
  const { cfg } = dance(ctx);
  const form = await formFields(ctx, cfg);
  if (!checkCsrfToken(ctx, cfg, ['demo-logout'], form.get(CSRF_FIELD, repeated(CSRF_FIELD)))) {
    throw new PageError({ status: 403, title: 'Sign-out not confirmed', message: 'This form has expired or was not opened in this browser. Reload the page and try again.' });
  }
  endDemoSession(ctx, cfg);
  ctx.status = 303;
  ctx.redirect(publicPath(cfg, PATHS.demoLogin));
}

/** The CSRF token of a sign-out button (shown on the user's token page in demo mode). */
export function demoLogoutToken(ctx: Context, cfg: RuntimeConfig): string {
  return issueCsrfToken(ctx, cfg, ['demo-logout']);
}
