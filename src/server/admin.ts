// The admin listener (never the public port): liveness, readiness, Redis readiness, metrics.
import Koa from 'koa';
import { Router } from '@koa/router';
import type { Gateway } from '../gateway.js';
import { jwksOf } from '../proxy/identity.js';

export interface AdminOptions {
  /** The /metrics text (a cluster primary aggregates its workers'); default: this gateway's registry. */
  metricsText?: () => Promise<string>;
  /** Why this process is not ready beyond shutting down (a cluster primary without a live worker), or null. */
  notReady?: () => string | null;
}

export function createAdminApp(gw: Gateway, extra?: (router: Router) => void, opts: AdminOptions = {}): Koa {
  const app = new Koa();
  app.silent = true;
  const router = new Router();

  // Alive: the process answers.
  router.get('/healthz', (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = 'ok\n';
  });

  // Route traffic here: config loaded and not shutting down. Deliberately not tied to Redis
  // (a Redis fault must not take AppB's browser traffic off the Service; DESIGN.md section 3).
  router.get('/readyz', (ctx) => {
    ctx.type = 'text/plain';
    if (gw.shuttingDown) {
      ctx.status = 503;
      ctx.body = 'shutting down\n';
      return;
    }
    const reason = opts.notReady?.() ?? null;
    if (reason !== null) {
      ctx.status = 503;
      ctx.body = `${reason}\n`;
      return;
    }
    ctx.body = 'ready\n';
  });

  // Token store reachability, for a fleet overlay that wants to probe it.
  router.get('/readyz/redis', async (ctx) => {
    ctx.type = 'text/plain';
    try {
      await gw.store.ping();
      gw.metrics.storeUp.set(1);
      ctx.body = 'store ok\n';
    } catch {
      gw.metrics.storeUp.set(0);
      ctx.status = 503;
      ctx.body = 'store unreachable\n';
    }
  });

  // Public keys of the identity mode (jwt), for AppB to verify the gateway's JWTs; 404 for a mode without keys.
  router.get('/jwks.json', (ctx) => {
    const jwks = jwksOf(gw);
    if (!jwks) {
      ctx.status = 404;
      ctx.type = 'text/plain';
      ctx.body = `no JWKS: upstream.identity.mode ${gw.cfg().identity.mode} publishes no keys\n`;
      return;
    }
    ctx.body = jwks;
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = gw.metrics.registry.contentType;
    ctx.body = opts.metricsText ? await opts.metricsText() : await gw.metrics.registry.metrics();
  });

  extra?.(router);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
