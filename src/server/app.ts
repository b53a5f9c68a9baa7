// The public Koa application: request context and logging, one error handler, the dance
// routes (src/provider), then everything else to AppB through the proxy (src/proxy).
import Koa from 'koa';
import type { Gateway } from '../gateway.js';
import { providerRoutes } from '../provider/index.js';
import { proxyMiddleware } from '../proxy/index.js';
import { errorHandler } from './errors.js';
import { requestContext } from './request-context.js';

export function createPublicApp(gw: Gateway): Koa {
  const app = new Koa();
  // X-Forwarded-* trust is decided per request against server.trustedProxies, never by Koa's global flag.
  app.proxy = false;
  app.silent = true;
  app.use(requestContext(gw));
  // While shutting down, answers end their connection (proxied ones: see proxy/forward.ts).
  app.use(async (ctx, next) => {
    await next();
    if (gw.shuttingDown && !ctx.res.headersSent) ctx.set('Connection', 'close');
  });
  app.use(errorHandler(gw));
  app.use(providerRoutes(gw));
  app.use(proxyMiddleware(gw));
  return app;
}
