// userAuth mode demo: who the user is when the users are listed in the configuration. Checks a
// user's password and keeps a signed session cookie; the sign-in pages that use this are
// src/provider/demo-sign-in.ts. Demo only (refused when NODE_ENV=production), so its signing key
// may live in this process: a restart signs everybody out, which a demo can afford.
import { createHmac, randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import type { RuntimeConfig } from '../config/load.js';
import { safeEqual } from '../oauth1/index.js';
import { cookieName, readCookie, setCookie } from '../http/cookies.js';

export type DemoAuth = Extract<RuntimeConfig['config']['userAuth'], { mode: 'demo' }>;

const SESSION_COOKIE = 'applink_demo_session';
const SESSION_SECONDS = 8 * 3600;
const SIGNING_KEY = randomBytes(32);

function sessionMac(user: string, expires: number): string {
  return createHmac('sha256', SIGNING_KEY).update(`${user}\n${expires}`).digest('base64url');
}

/** The demo settings when userAuth.mode is demo, else null. */
export function demoAuthOf(cfg: RuntimeConfig): DemoAuth | null {
  const auth = cfg.config.userAuth;
  return auth.mode === 'demo' ? auth : null;
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

/**
 * The configured user named `username` (any case; returned as configured) when `password` is
 * theirs, else null.
 */
export function checkDemoPassword(auth: DemoAuth, username: string, password: string): string | null {
  const entry = auth.users.find((u) => u.name.toLowerCase() === username.toLowerCase());
  // Compare a password even for unknown users, so that timing does not tell which names exist.
  const ok = safeEqual(entry?.password ?? '\0no such user', password) && entry !== undefined;
  if (!ok) return null;
  return entry.name;
}

/** Signs `user` in on this browser: sets the signed session cookie. */
export function startDemoSession(ctx: Context, cfg: RuntimeConfig, user: string): void {
  const expires = Math.floor(Date.now() / 1000) + SESSION_SECONDS;
  const value = `${Buffer.from(user, 'utf8').toString('base64url')}.${expires}.${sessionMac(user, expires)}`;
  setCookie(ctx, cfg, cookieName(cfg, SESSION_COOKIE), value, { maxAge: SESSION_SECONDS });
}

/** Signs this browser out: deletes the session cookie. */
export function endDemoSession(ctx: Context, cfg: RuntimeConfig): void {
  setCookie(ctx, cfg, cookieName(cfg, SESSION_COOKIE), '', { maxAge: 0 });
}
