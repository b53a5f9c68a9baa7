// The gateway's public paths: the dance's URLs (Atlassian's, so existing clients need no change),
// its own pages, and how to write them behind a publicBaseUrl that may carry a context path such as /jira.
import type { RuntimeConfig } from '../config/load.js';

export const PATHS = {
  requestToken: '/plugins/servlet/oauth/request-token',
  accessToken: '/plugins/servlet/oauth/access-token',
  authorize: '/plugins/servlet/oauth/authorize',
  loginDance: '/plugins/servlet/applinks/oauth/login-dance/authorize',
  userTokens: '/plugins/servlet/oauth/users/access-tokens',
  /** The demo login form (userAuth.mode demo only). */
  demoLogin: '/plugins/servlet/applink-gateway/login',
  demoLogout: '/plugins/servlet/applink-gateway/logout',
} as const;

/** The context path of publicBaseUrl without a trailing slash ('' at the root). */
export function contextPath(cfg: RuntimeConfig): string {
  return cfg.publicBaseUrl.pathname.replace(/\/+$/, '');
}

/** A gateway path as the browser must request it (path-absolute: works whatever host it used). */
export function publicPath(cfg: RuntimeConfig, path: string): string {
  return contextPath(cfg) + path;
}

/** An absolute public URL for a context-relative path (for absolute login URLs of SSO systems). */
export function publicUrl(cfg: RuntimeConfig, path: string): string {
  return cfg.publicBaseUrl.origin + publicPath(cfg, path);
}
