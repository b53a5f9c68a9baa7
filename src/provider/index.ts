// The OAuth dance routes (DESIGN.md sections 1a-1c, 1e), mounted before the proxy: every request
// that is not one of these routes, and every dance call handed on (unknown consumers when
// upstream.passthroughUnknownConsumers is set, AppB's own tokens), continues to the proxy.
import type { Context, Next } from 'koa';
import type { Gateway } from '../gateway.js';
import { methodNotAllowed } from '../errors/index.js';
import { PATHS } from '../http/paths.js';
import { createUserAuth } from '../userauth/index.js';
import { authorizeSteps } from './authorize.js';
import { showDemoLogin, submitDemoLogin, submitDemoLogout } from './demo-sign-in.js';
import { loginDanceSteps } from './login-dance.js';
import { answerAsPage, pageErrors } from './page-steps.js';
import { chain, type Step } from './state.js';
import { tokenEndpointSteps } from './token-endpoints.js';
import { userTokenSteps } from './user-tokens.js';

interface Route {
  handler: Step;
  /** false: the route exists only in some configurations (demo sign-in) and otherwise goes to AppB. */
  active(gw: Gateway): boolean;
}

const always = () => true;
// The dance endpoints for programs (OAuth problem or plain-text answers); every other route is a browser page.
const FOR_PROGRAMS: ReadonlySet<string> = new Set([PATHS.requestToken, PATHS.accessToken]);
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
      const refusal = methodNotAllowed(ctx.method, allowed, allowed.includes('GET') ? [...allowed, 'HEAD'].join(', ') : allowed.join(', '));
      // A browser page answers with a page; the token endpoints (for programs) in plain text.
      if (!FOR_PROGRAMS.has(ctx.path)) return answerAsPage(gw, ctx, gw.cfg(), refusal);
      throw refusal;
    }
    // One configuration for the whole request, even if a reload lands meanwhile.
    ctx.state.dance = { cfg: gw.cfg(), passOn: next };
    await route.handler(ctx, next);
  };
}
