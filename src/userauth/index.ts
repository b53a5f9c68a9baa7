// Who the browser user is at the approval step (DESIGN.md section 4): upstream-session asks AppB,
// trusted-header believes an SSO proxy, demo checks the users of the configuration (its sign-in
// pages are src/provider/demo-sign-in.ts).
import type { Context } from 'koa';
import type { RuntimeConfig } from '../config/load.js';
import { PATHS, publicPath, publicUrl } from '../http/paths.js';
import type { Logger } from '../ops/logger.js';
import { withoutGatewayCookies } from '../http/cookies.js';
import { demoUser } from './demo.js';
import { userFromTrustedHeader } from './trusted-header.js';
import { createSessionChecker } from './upstream-session.js';

export interface UserAuth {
  /** The signed-in user, or null. Throws a UserAuthError when AppB cannot say (provider renders it as a page). */
  identify(ctx: Context, cfg: RuntimeConfig): Promise<string | null>;
  /**
   * Where to send an anonymous browser so that it comes back to `returnPath` (a gateway path
   * with its query, relative to publicBaseUrl); null when the mode has no sign-in page.
   */
  loginLocation(cfg: RuntimeConfig, returnPath: string): string | null;
}

/** `{return}` filled in: an absolute sign-in URL gets an absolute return URL, a path a path. */
export function fillLoginUrl(cfg: RuntimeConfig, template: string, returnPath: string): string {
  if (/^https?:\/\//i.test(template)) return template.replaceAll('{return}', encodeURIComponent(publicUrl(cfg, returnPath)));
  const path = template.replaceAll('{return}', encodeURIComponent(returnPath));
  return publicPath(cfg, path.startsWith('/') ? path : `/${path}`);
}

export function createUserAuth(log: Logger): UserAuth {
  const sessions = createSessionChecker(log);
  return {
    async identify(ctx, cfg) {
      const auth = cfg.config.userAuth;
      switch (auth.mode) {
        case 'upstream-session':
          // Our own cookies change during the dance; they must not defeat the cache (nor reach AppB).
          return sessions.check(cfg, auth, withoutGatewayCookies(ctx.get('cookie')));
        case 'trusted-header':
          return userFromTrustedHeader(ctx, cfg, auth, log);
        case 'demo':
          return demoUser(ctx, cfg, auth);
      }
    },
    loginLocation(cfg, returnPath) {
      const auth = cfg.config.userAuth;
      switch (auth.mode) {
        case 'upstream-session':
          return fillLoginUrl(cfg, auth.loginUrl, returnPath);
        case 'trusted-header':
          return auth.loginUrl === undefined ? null : fillLoginUrl(cfg, auth.loginUrl, returnPath);
        case 'demo':
          return publicPath(cfg, `${PATHS.demoLogin}?return=${encodeURIComponent(returnPath)}`);
      }
    },
  };
}
