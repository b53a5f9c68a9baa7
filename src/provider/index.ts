// The OAuth dance routes (DESIGN.md sections 1a-1c, 1e), mounted before the proxy: every request
// that is not one of these routes, and every dance call handed on (unknown consumers when
// upstream.passthroughUnknownConsumers is set, AppB's own tokens), continues to the proxy.
import type { Context, Next } from 'koa';
import type { Gateway } from '../gateway.js';
import { PATHS } from '../http/paths.js';
import { createUserAuth } from '../userauth/index.js';
import { authorizeSteps } from './authorize.js';
import { showDemoLogin, submitDemoLogin, submitDemoLogout } from './demo-sign-in.js';
import { loginDanceSteps } from './login-dance.js';
import { pageErrors } from './page-steps.js';
import { chain, type Step } from './state.js';
import { tokenEndpointSteps } from './token-endpoints.js';
import { userTokenSteps } from './user-tokens.js';

interface Route {
  handler: Step;
  /** false: the route exists only in some configurations (demo sign-in) and otherwise goes to AppB. */
  active(gw: Gateway): boolean;
}

const always = () => true;
const demoOnly = (gw: Gateway) => gw.cfg().config.userAuth.mode === 'demo';

export function providerRoutes(gw: Gateway) {
  const users = createUserAuth(gw.log);
  const routes = new Map<string, Map<string, Route>>();
  const add = (method: string, path: string, steps: Step[], active: (gw: Gateway) => boolean = always) => {
    let byMethod = routes.get(path);
    if (!byMethod) routes.set(path, (byMethod = new Map()));
    byMethod.set(method, { handler: chain(steps), active });
  };

  add('POST', PATHS.requestToken, tokenEndpointSteps(gw, 'request-token'));
  add('POST', PATHS.accessToken, tokenEndpointSteps(gw, 'access-token'));
  add('GET', PATHS.authorize, authorizeSteps(gw, users, 'show'));
  add('POST', PATHS.authorize, authorizeSteps(gw, users, 'decide'));
  add('GET', PATHS.loginDance, loginDanceSteps(gw, users));
  add('GET', PATHS.userTokens, userTokenSteps(gw, users, 'list'));
  add('POST', PATHS.userTokens, userTokenSteps(gw, users, 'revoke'));
  add('GET', PATHS.demoLogin, [pageErrors(gw), showDemoLogin], demoOnly);
  add('POST', PATHS.demoLogin, [pageErrors(gw), submitDemoLogin], demoOnly);
  add('POST', PATHS.demoLogout, [pageErrors(gw), submitDemoLogout], demoOnly);

  return async function dance(ctx: Context, next: Next): Promise<void> {
    const byMethod = routes.get(ctx.path);
    if (!byMethod || ![...byMethod.values()].some((r) => r.active(gw))) return next();
    const route = byMethod.get(ctx.method) ?? (ctx.method === 'HEAD' ? byMethod.get('GET') : undefined);
    if (!route || !route.active(gw)) {
      const allowed = [...byMethod.entries()].filter(([, r]) => r.active(gw)).map(([m]) => m);
      ctx.status = 405;
      ctx.set('Allow', allowed.includes('GET') ? [...allowed, 'HEAD'].join(', ') : allowed.join(', '));
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'text/plain';
      ctx.body = `${ctx.method} is not allowed here; use ${allowed.join(' or ')}.\n`;
      return;
    }
    // One configuration for the whole request, even if a reload lands meanwhile.
    ctx.state.dance = { cfg: gw.cfg(), passOn: next };
    await route.handler(ctx, next);
  };
}
