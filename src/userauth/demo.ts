// userAuth mode demo: a built-in sign-in form for the users listed in the configuration and a
// signed session cookie. Demo only (refused when NODE_ENV=production), so its signing key may
// live in this process: a restart signs everybody out, which a demo can afford.
import { createHmac, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { RuntimeConfig } from '../config/load.js';
import { safeEqual } from '../oauth1/index.js';
import { checkCsrfToken, CSRF_FIELD, issueCsrfToken } from '../provider/csrf.js';
import { formFields, queryFields, repeated } from '../provider/forms.js';
import { html, PageError, renderPage } from '../provider/html.js';
import { PATHS, publicPath } from '../http/paths.js';
import { dance } from '../provider/state.js';
import { cookieName, readCookie, setCookie } from './cookies.js';

type DemoAuth = Extract<RuntimeConfig['config']['userAuth'], { mode: 'demo' }>;

const SESSION_COOKIE = 'applink_demo_session';
const SESSION_SECONDS = 8 * 3600;
const SIGNING_KEY = randomBytes(32);

function sessionMac(user: string, expires: number): string {
  return createHmac('sha256', SIGNING_KEY).update(`${user}\n${expires}`).digest('base64url');
}

/** The demo user of this browser, or null. The user must still be in the configuration. */
export function demoUser(ctx: Context, cfg: RuntimeConfig, auth: DemoAuth, now: number = Date.now()): string | null {
  const value = readCookie(ctx, cookieName(cfg, SESSION_COOKIE));
  const m = value === undefined ? null : /^([A-Za-z0-9_-]+)\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!m) return null;
  const user = Buffer.from(m[1] ?? '', 'base64url').toString('utf8');
  const expires = Number(m[2]);
  if (!safeEqual(sessionMac(user, expires), m[3] ?? '') || expires * 1000 <= now) return null;
  return auth.users.some((u) => u.name === user) ? user : null;
}

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

function demoAuthOf(cfg: RuntimeConfig): DemoAuth | null {
  const auth = cfg.config.userAuth;
  return auth.mode === 'demo' ? auth : null;
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
  const entry = auth.users.find((u) => u.name.toLowerCase() === username.toLowerCase());
  // Compare a password even for unknown users, so that timing does not tell which names exist.
  const ok = safeEqual(entry?.password ?? '\0no such user', password) && entry !== undefined;
  if (!ok) {
    loginForm(ctx, cfg, { returnPath, username, status: 401, error: 'Wrong user name or password.' });
    return;
  }
  const expires = Math.floor(Date.now() / 1000) + SESSION_SECONDS;
  const value = `${Buffer.from(entry.name, 'utf8').toString('base64url')}.${expires}.${sessionMac(entry.name, expires)}`;
  setCookie(ctx, cfg, cookieName(cfg, SESSION_COOKIE), value, { maxAge: SESSION_SECONDS });
  const facts = ctx.state.facts;
  if (facts) facts.user = entry.name;
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
  setCookie(ctx, cfg, cookieName(cfg, SESSION_COOKIE), '', { maxAge: 0 });
  ctx.status = 303;
  ctx.redirect(publicPath(cfg, PATHS.demoLogin));
}

/** The CSRF token of a sign-out button (shown on the user's token page in demo mode). */
export function demoLogoutToken(ctx: Context, cfg: RuntimeConfig): string {
  return issueCsrfToken(ctx, cfg, ['demo-logout']);
}
