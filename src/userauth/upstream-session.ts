// userAuth mode upstream-session: AppB says who the browser is. The browser's Cookie header goes
// to AppB's session endpoint (e.g. Jira's /rest/auth/1/session); a 200 names the user.
import { createHash } from 'node:crypto';
import type { RuntimeConfig } from '../config/load.js';
import type { Logger } from '../ops/logger.js';
import { UserAuthError } from './errors.js';
import { isValidUserName } from './names.js';

type SessionAuth = Extract<RuntimeConfig['config']['userAuth'], { mode: 'upstream-session' }>;

// Bounded, so a flood of made-up cookies cannot grow memory without limit.
const MAX_CACHED = 10_000;
// A session check that takes longer than this is answered 504, whatever upstream.timeoutMs says.
const MAX_CHECK_MS = 10_000;

/** The dotted `field` of a JSON value (e.g. "user.name"). */
function pick(value: unknown, field: string): unknown {
  let v = value;
  for (const key of field.split('.')) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

export interface SessionChecker {
  /** The AppB user of this Cookie header, or null when AppB says nobody is signed in. */
  check(cfg: RuntimeConfig, auth: SessionAuth, cookie: string): Promise<string | null>;
}

/**
 * Positive answers are cached for `cacheSeconds` by a digest of the cookie (never the cookie
 * itself); "not signed in" is not cached, so a user returning from AppB's login is seen at once.
 */
export function createSessionChecker(log: Logger, now: () => number = Date.now): SessionChecker {
  const cache = new Map<string, { user: string; until: number }>();

  function remember(key: string, user: string, seconds: number): void {
    if (seconds <= 0) return;
    if (cache.size >= MAX_CACHED) {
      const t = now();
      for (const [k, v] of cache) if (v.until <= t) cache.delete(k);
      // Still full: drop the oldest entry (Map keeps insertion order).
      if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
    }
    cache.set(key, { user, until: now() + seconds * 1000 });
  }

  return {
    async check(cfg, auth, cookie) {
      if (cookie === '') return null;
      const key = createHash('sha256').update(cfg.upstreamUrl.href).update('\0').update(cookie).digest('base64url');
      const hit = cache.get(key);
      if (hit && hit.until > now()) return hit.user;
      if (hit) cache.delete(key);

      const url = cfg.upstreamUrl.href.replace(/\/+$/, '') + auth.sessionCheckPath;
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'GET',
          headers: { cookie, accept: 'application/json' },
          redirect: 'manual',
          signal: AbortSignal.timeout(Math.min(cfg.config.upstream.timeoutMs, MAX_CHECK_MS)),
        });
      } catch (err) {
        const timedOut = (err as Error).name === 'TimeoutError';
        log.warn({ err: (err as Error).message, url }, 'userAuth: AppB session check failed');
        throw timedOut
          ? new UserAuthError('session_check_timeout', 504, 'AppB session check timed out', { cause: err })
          : new UserAuthError('session_check_unreachable', 502, 'AppB session check failed', { cause: err });
      }
      if (res.status === 401 || res.status === 403 || (res.status >= 300 && res.status < 400)) {
        await res.body?.cancel();
        return null;
      }
      let user: unknown;
      if (res.ok) {
        try {
          user = pick(await res.json(), auth.usernameField);
        } catch {
          user = undefined;
        }
      } else {
        await res.body?.cancel();
      }
      if (typeof user !== 'string' || !isValidUserName(user)) {
        log.warn({ url, status: res.status, usernameField: auth.usernameField }, 'userAuth: AppB session check gave no user name');
        throw new UserAuthError('session_check_no_user', 502, 'AppB session check gave no user name');
      }
      remember(key, user, auth.cacheSeconds);
      return user;
    },
  };
}
