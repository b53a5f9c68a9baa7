// Starts a gateway: store, public listener, admin listener, configuration watch; and stops it
// gracefully in the order DESIGN.md section 3 gives (readiness first, then listeners, then Redis).
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo, Socket } from 'node:net';
import type { RuntimeConfig } from '../config/load.js';
import { watchConfig, type ConfigWatcher, type ReloadOutcome } from '../config/watch.js';
import { createGateway, type Gateway } from '../gateway.js';
import { createLogger, type Logger } from '../ops/logger.js';
import { createMetrics, type Metrics } from '../ops/metrics.js';
import { PATHS } from '../http/paths.js';
import { createProxyHandler, originFormPath } from '../proxy/handler.js';
import { forwarderOf } from '../proxy/index.js';
import { attachUpgradeHandler } from '../proxy/upgrade.js';
import type { TokenStore } from '../store/types.js';
import { createAdminApp } from './admin.js';
import { createPublicApp } from './app.js';
import { storeFromConfig } from './store.js';

export { storeFromConfig };

const DANCE_PATHS: ReadonlySet<string> = new Set(Object.values(PATHS));

export interface StartOptions {
  cfg: RuntimeConfig;
  log?: Logger;
  /** Use this store instead of building one from the configuration (tests, demo); not closed by close(). */
  store?: TokenStore;
  /** Override the listen addresses (tests listen on port 0). */
  listen?: string;
  adminListen?: string;
  /** false: no admin listener (a cluster worker: the primary serves it). Default true. */
  admin?: boolean;
  /** Watch the configuration file and reload on change. Default: when cfg.sourcePath is set. */
  watchConfig?: boolean;
  /** Debounce of the configuration watch (tests shorten it). */
  watchDebounceMs?: number;
  defaultMetrics?: boolean;
}

export interface RunningGateway {
  gw: Gateway;
  publicServer: http.Server;
  /** null when started with admin: false. */
  adminServer: http.Server | null;
  /** e.g. http://127.0.0.1:34567 */
  publicUrl: string;
  /** '' when started with admin: false. */
  adminUrl: string;
  /** Re-reads the configuration file (SIGHUP); a no-op outcome 'unchanged' for a config built in code. */
  reload(reason?: string): Promise<ReloadOutcome>;
  /** Graceful stop: readiness off, wait delaySeconds, close listeners, drain within graceSeconds, close the store. */
  shutdown(opts?: { delaySeconds?: number; graceSeconds?: number }): Promise<void>;
  /** Immediate stop (tests). */
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const idx = listen.lastIndexOf(':');
  const host = listen.slice(0, idx).replace(/^\[|\]$/g, '') || '0.0.0.0';
  return { host, port: Number(listen.slice(idx + 1)) };
}

/** Listens and returns a URL a local client can use (0.0.0.0 becomes 127.0.0.1). */
export function listen(server: http.Server, address: string): Promise<string> {
  const { host, port } = parseListen(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve(`http://${h === '0.0.0.0' ? '127.0.0.1' : h === '[::]' ? '[::1]' : h}:${a.port}`);
    });
  });
}

/** server.timeouts of Node's HTTP server: applied at start and on every reload. */
export function applyServerTimeouts(server: http.Server, cfg: RuntimeConfig): void {
  const t = cfg.config.server.timeouts;
  server.headersTimeout = t.headersMs;
  server.requestTimeout = t.requestMs;
  server.keepAliveTimeout = t.keepAliveMs;
}

/** How often Node looks for connections past headersMs / requestMs (its default, 30 s, would add up to that much). */
function connectionsCheckingInterval(cfg: RuntimeConfig): number {
  const t = cfg.config.server.timeouts;
  const shortest = Math.min(t.headersMs, t.requestMs > 0 ? t.requestMs : Infinity);
  return Math.max(50, Math.min(1000, Math.floor(shortest / 4)));
}

/** Node answers a slow head (or, when on, a slow request) 408 and destroys the socket with this error: counted by phase. */
function countClientTimeouts(server: http.Server, metrics: Metrics): void {
  server.on('connection', (socket: Socket) => {
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ERR_HTTP_REQUEST_TIMEOUT') return;
      // A response exists once the head was read: then it was the whole-request timeout.
      const inRequest = (socket as Socket & { _httpMessage?: unknown })._httpMessage != null;
      metrics.clientTimeouts.inc({ phase: inRequest ? 'request' : 'headers' });
    });
  });
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

export async function startGateway(opts: StartOptions): Promise<RunningGateway> {
  const log = opts.log ?? createLogger({ level: opts.cfg.config.logging.level });
  let storeRef: TokenStore | null = null;
  const metrics = createMetrics({ defaultMetrics: opts.defaultMetrics, storeHealthy: () => storeRef?.isHealthy() ?? false });
  const store =
    opts.store ??
    storeFromConfig(opts.cfg, log, (err) => {
      metrics.storeErrors.inc();
      log.warn({ err: err.message }, 'token store error');
    });
  storeRef = store;
  const gw = createGateway({ cfg: opts.cfg, store, log, metrics });

  // Only the dance and page paths (and the rare target that is not origin-form) enter Koa;
  // every other request takes the plain proxy handler.
  const handleKoa = createPublicApp(gw).callback();
  const handleProxy = createProxyHandler(gw);
  const publicServer = http.createServer({ connectionsCheckingInterval: connectionsCheckingInterval(opts.cfg) }, (req, res) => {
    const path = originFormPath(req.url);
    if (path !== null && !DANCE_PATHS.has(path)) handleProxy(req, res);
    else void handleKoa(req, res);
  });
  // Slow clients must not hold sockets forever (server.timeouts); AppB's own timeout is upstream.timeoutMs.
  applyServerTimeouts(publicServer, opts.cfg);
  countClientTimeouts(publicServer, metrics);
  attachUpgradeHandler(publicServer, gw);
  // Upgraded (WebSocket) sockets leave the HTTP server's bookkeeping: tracked here so the
  // end of the grace period can close them too.
  const upgraded = new Set<Duplex>();
  publicServer.on('upgrade', (_req, socket: Duplex) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
  });
  const adminServer = opts.admin === false ? null : http.createServer(createAdminApp(gw).callback());

  const publicUrl = await listen(publicServer, opts.listen ?? opts.cfg.config.server.listen).catch(async (err: unknown) => {
    if (!opts.store) await store.close();
    throw err;
  });
  let adminUrl = '';
  if (adminServer) {
    try {
      adminUrl = await listen(adminServer, opts.adminListen ?? opts.cfg.config.admin.listen);
    } catch (err) {
      publicServer.closeAllConnections();
      await closeServer(publicServer);
      if (!opts.store) await store.close();
      throw err;
    }
  }
  log.info(
    { publicUrl, adminUrl: adminUrl || undefined, links: opts.cfg.links.length, identity: opts.cfg.identity.mode, store: opts.cfg.config.store.redis ? 'redis' : 'memory' },
    'gateway listening',
  );

  const watcher: ConfigWatcher | null =
    opts.cfg.sourcePath === null
      ? null
      : watchConfig({
          file: opts.cfg.sourcePath,
          current: () => gw.cfg(),
          apply: (next) => {
            gw.setCfg(next);
            applyServerTimeouts(publicServer, next);
            log.level = next.config.logging.level;
          },
          log,
          metrics,
          watch: opts.watchConfig ?? true,
          debounceMs: opts.watchDebounceMs,
        });

  let stopping: Promise<void> | null = null;

  const shutdown = (o: { delaySeconds?: number; graceSeconds?: number } = {}): Promise<void> => {
    if (stopping) return stopping;
    stopping = (async () => {
      const delay = o.delaySeconds ?? gw.cfg().config.shutdown.delaySeconds;
      const grace = o.graceSeconds ?? gw.cfg().config.shutdown.graceSeconds;
      gw.shuttingDown = true;
      watcher?.close();
      log.info({ delaySeconds: delay, graceSeconds: grace }, 'shutting down: readiness off');
      // Endpoints take a moment to drop this replica: keep serving meanwhile.
      await new Promise((r) => setTimeout(r, delay * 1000));
      log.info('shutting down: no new connections, draining in-flight requests');
      const closed = closeServer(publicServer);
      publicServer.closeIdleConnections();
      // A keep-alive socket whose request ends later stays open until keepAliveTimeout: sweep it once idle.
      const idleSweep = setInterval(() => publicServer.closeIdleConnections(), 100);
      let graceTimer: NodeJS.Timeout | undefined;
      const timer = new Promise<'timeout'>((r) => (graceTimer = setTimeout(() => r('timeout'), grace * 1000)));
      const result = await Promise.race([closed.then(() => 'drained' as const), timer]);
      clearInterval(idleSweep);
      clearTimeout(graceTimer);
      if (result === 'timeout') {
        log.warn('grace period over: closing the remaining connections');
        publicServer.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
        await closed;
      }
      forwarderOf(gw).close();
      if (adminServer) {
        adminServer.closeAllConnections();
        await closeServer(adminServer);
      }
      await store.close();
      log.info('stopped');
    })();
    return stopping;
  };

  const close = async (): Promise<void> => {
    gw.shuttingDown = true;
    watcher?.close();
    publicServer.closeAllConnections();
    for (const socket of upgraded) socket.destroy();
    adminServer?.closeAllConnections();
    forwarderOf(gw).close();
    await Promise.all([closeServer(publicServer), adminServer ? closeServer(adminServer) : Promise.resolve()]);
    if (!opts.store) await store.close();
  };

  const reload = async (reason = 'SIGHUP'): Promise<ReloadOutcome> => {
    if (!watcher) {
      log.info({ reason }, 'configuration built in code: nothing to reload');
      return { result: 'unchanged' };
    }
    return watcher.reload(reason);
  };

  return { gw, publicServer, adminServer, publicUrl, adminUrl, reload, shutdown, close };
}
