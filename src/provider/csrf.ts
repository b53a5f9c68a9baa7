// Anti-CSRF tokens bound to the browser without server state (so any replica can check them):
// a random cookie, and in each form an HMAC of what the form does keyed by that cookie. A page on
// another site can neither read the cookie nor, with SameSite=Lax, have it sent with its POST.
import { createHmac, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { RuntimeConfig } from '../config/load.js';
import { safeEqual } from '../oauth1/index.js';
import { cookieName, readCookie, setCookie } from '../http/cookies.js';

const COOKIE = 'applink_csrf';
const VALUE = /^[A-Za-z0-9_-]{43}$/;

/** The form field carrying the token. */
export const CSRF_FIELD = 'atl_token';

function browserKey(ctx: Context, cfg: RuntimeConfig): string | undefined {
  const value = readCookie(ctx, cookieName(cfg, COOKIE));
  return value !== undefined && VALUE.test(value) ? value : undefined;
}

function mac(key: string, purpose: string[]): string {
  return createHmac('sha256', key).update(purpose.join('\n')).digest('base64url');
}

/**
 * The token for a form doing `purpose` (e.g. ['approve', oauth_token, user]); sets the browser
 * cookie first when this browser has none yet.
 */
export function issueCsrfToken(ctx: Context, cfg: RuntimeConfig, purpose: string[]): string {
  let key = browserKey(ctx, cfg);
  if (key === undefined) {
    key = randomBytes(32).toString('base64url');
    setCookie(ctx, cfg, cookieName(cfg, COOKIE), key);
  }
  return mac(key, purpose);
}

/** true when `token` was issued to this browser for exactly this purpose (constant-time). */
export function checkCsrfToken(ctx: Context, cfg: RuntimeConfig, purpose: string[], token: string | undefined): boolean {
  const key = browserKey(ctx, cfg);
  if (key === undefined || token === undefined || token === '') return false;
  return safeEqual(mac(key, purpose), token);
}
