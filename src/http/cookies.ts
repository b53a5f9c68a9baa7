// The gateway's own cookies, written by hand: Koa's cookie helper refuses Secure cookies when
// TLS ends at a proxy in front of us, and these must be Secure whenever publicBaseUrl is https.
import type { Context } from 'koa';
import type { RuntimeConfig } from '../config/load.js';

/** The first value of cookie `name` in the request, or undefined. */
export function readCookie(ctx: Context, name: string): string | undefined {
  const header = ctx.get('cookie');
  if (header === '') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

/** `__Host-` (no Domain, Path=/, Secure: a sibling host cannot plant it) when the public URL is https. */
export function cookieName(cfg: RuntimeConfig, base: string): string {
  return cfg.publicBaseUrl.protocol === 'https:' ? `__Host-${base}` : base;
}

export interface CookieOptions {
  /** Seconds; omitted = a browser-session cookie; 0 deletes it. */
  maxAge?: number;
}

/** Appends Set-Cookie: HttpOnly, SameSite=Lax, Path=/, Secure over https. Values must be cookie-safe. */
export function setCookie(ctx: Context, cfg: RuntimeConfig, name: string, value: string, opts: CookieOptions = {}): void {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (cfg.publicBaseUrl.protocol === 'https:') parts.push('Secure');
  if (opts.maxAge !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(opts.maxAge))}`);
  ctx.append('Set-Cookie', parts.join('; '));
}

// The cookies this gateway sets itself (with and without the __Host- prefix).
const GATEWAY_COOKIES = /^(?:__Host-)?applink_(?:csrf|demo_session)$/;

/** The Cookie header without the gateway's own cookies: what AppB's session check needs to see. */
export function withoutGatewayCookies(header: string): string {
  return header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '' && !GATEWAY_COOKIES.test(part.split('=', 1)[0]?.trim() ?? ''))
    .join('; ');
}
