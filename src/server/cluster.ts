// server.workers > 1: one primary process and N workers (node:cluster) sharing the public port.
// The primary owns the admin listener (metrics aggregated over the workers), watches the
// configuration and passes reloads and shutdown on; each worker is a whole gateway without
// an admin port. Several workers need Redis: config/load.ts refuses them on the memory store.
import cluster, { type Worker } from 'node:cluster';
import http from 'node:http';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import { loadConfigFile, type RuntimeConfig } from '../config/load.js';
import { watchConfig } from '../config/watch.js';
import { createGateway } from '../gateway.js';
import { createLogger, type Logger } from '../ops/logger.js';
import { createMetrics } from '../ops/metrics.js';
import { createAdminApp } from './admin.js';
import { closeServer, listen, startGateway, type RunningGateway } from './serve.js';
import { storeFromConfig } from './store.js';
import { workerCount } from './workers.js';

// Messages between the primary and its workers.
type PrimaryMessage = { type: 'applink:reload'; reason: string } | { type: 'applink:shutdown' };
type WorkerMessage = { type: 'applink:listening'; publicUrl: string };

function isMessage<T extends { type: string }>(m: unknown, type: T['type']): m is T {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === type;
}

/**
 * The single-process server with its signals: SIGTERM/SIGINT stop gracefully (a second
 * SIGINT stops at once), SIGHUP reloads. Resolves with the exit code once stopped.
 */
export function installSignals(running: RunningGateway, log: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        if (signal === 'SIGINT') {
          log.warn({ signal }, 'second interrupt: stopping now');
          resolve(130);
        } else log.info({ signal }, 'already shutting down');
        return;
      }
      stopping = true;
      log.info({ signal }, 'signal received');
      running.shutdown().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', () => void running.reload('SIGHUP'));
  });
}

/** A cluster worker: a whole gateway without admin port or file watch; the primary drives both. */
export async function runWorker(file: string): Promise<number> {
  const cfg = loadConfigFile(file);
  const log = createLogger({ level: cfg.config.logging.level });
  const running = await startGateway({ cfg, log, admin: false, watchConfig: false });
  // Answer the primary's metric requests with this gateway's registry.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([running.gw.metrics.registry]);
  let resolveExit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((r) => (resolveExit = r));
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'worker stopping');
    running.shutdown().then(
      () => resolveExit(0),
      (err: unknown) => {
        log.error({ err }, 'worker shutdown failed');
        resolveExit(1);
      },
    );
  };
  process.on('message', (m: unknown) => {
    if (isMessage<PrimaryMessage>(m, 'applink:reload')) void running.reload((m as { reason: string }).reason);
    else if (isMessage<PrimaryMessage>(m, 'applink:shutdown')) stop('primary asked');
  });
  // The primary tells a worker what to do; a terminal's Ctrl-C reaches every process of the group.
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => undefined);
  // An orphaned worker (primary gone) stops too.
  process.on('disconnect', () => stop('primary disconnected'));
  process.send?.({ type: 'applink:listening', publicUrl: running.publicUrl } satisfies WorkerMessage);
  return exited;
}

/** The cluster primary: forks and supervises the workers, serves the admin port. */
export async function runPrimary(file: string, cfg: RuntimeConfig, count: number): Promise<number> {
  let current = cfg;
  const log = createLogger({ level: cfg.config.logging.level });
  // A store of its own, only for /readyz/redis.
  const store = storeFromConfig(cfg, log);
  const gw = createGateway({ cfg, store, log, metrics: createMetrics({ defaultMetrics: false, storeHealthy: () => store.isHealthy() }) });

  const own = new Registry();
  const workersUp = new Gauge({ name: 'applink_workers', help: 'Worker processes serving the public port', registers: [own] });
  const restarts = new Counter({ name: 'applink_worker_restarts_total', help: 'Workers that died and were replaced', registers: [own] });
  const aggregator = new AggregatorRegistry();

  const listening = new Set<number>();
  let shuttingDown = false;
  let publicUrl = '';

  const admin = http.createServer(
    createAdminApp(gw, undefined, {
      metricsText: async () => `${await aggregator.clusterMetrics()}\n${await own.metrics()}`,
      notReady: () => (listening.size === 0 ? 'no worker is serving' : null),
    }).callback(),
  );

  cluster.on('message', (w: Worker, m: unknown) => {
    if (isMessage<WorkerMessage>(m, 'applink:listening')) {
      listening.add(w.id);
      workersUp.set(listening.size);
      publicUrl = (m as WorkerMessage).publicUrl;
    }
  });
  const fork = (): Worker => cluster.fork();

  // Start: every worker must come up once, or the whole start fails.
  const started = new Promise<void>((resolve, reject) => {
    const onMessage = () => {
      if (listening.size >= count) {
        cluster.off('message', onMessage);
        cluster.off('exit', onEarlyExit);
        resolve();
      }
    };
    const onEarlyExit = (w: Worker, code: number | null) => {
      if (!listening.has(w.id)) {
        cluster.off('message', onMessage);
        cluster.off('exit', onEarlyExit);
        reject(new Error(`worker ${w.process.pid ?? '?'} exited with ${code ?? 'a signal'} before it was serving`));
      }
    };
    cluster.on('message', onMessage);
    cluster.on('exit', onEarlyExit);
  });
  for (let i = 0; i < count; i++) fork();
  try {
    await started;
  } catch (err) {
    log.error({ err: (err as Error).message }, 'the gateway could not start');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    await store.close();
    return 1;
  }

  let adminUrl: string;
  try {
    adminUrl = await listen(admin, cfg.config.admin.listen);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'the admin listener could not start');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    await store.close();
    return 1;
  }
  log.info({ publicUrl, adminUrl, workers: count, links: cfg.links.length, identity: cfg.identity.mode, store: 'redis' }, 'gateway listening');

  // A worker that dies while serving is replaced (after a pause, so a crash loop stays slow).
  cluster.on('exit', (w, code, signal) => {
    listening.delete(w.id);
    workersUp.set(listening.size);
    if (shuttingDown) return;
    restarts.inc();
    log.error({ pid: w.process.pid, code, signal }, 'worker died; starting a new one');
    setTimeout(() => {
      if (!shuttingDown) fork();
    }, 1000);
  });

  const watcher = watchConfig({
    file,
    current: () => current,
    // The workers log and count their own reloads; the primary only keeps its copy current.
    log: createLogger({ level: 'silent' }),
    apply: (next) => {
      current = next;
      gw.setCfg(next);
    },
    onReload: (_outcome, reason) => {
      for (const w of Object.values(cluster.workers ?? {})) w?.send({ type: 'applink:reload', reason } satisfies PrimaryMessage);
    },
  });

  return new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (shuttingDown) {
        if (signal === 'SIGINT') resolve(130);
        return;
      }
      shuttingDown = true;
      gw.shuttingDown = true;
      watcher.close();
      const { delaySeconds, graceSeconds } = current.config.shutdown;
      log.info({ signal, delaySeconds, graceSeconds, workers: Object.keys(cluster.workers ?? {}).length }, 'signal received: stopping the workers');
      const codes: Array<number | null> = [];
      const alive = () => Object.values(cluster.workers ?? {}).filter((w) => w && !w.isDead());
      cluster.on('exit', (_w, code) => {
        codes.push(code);
        if (alive().length === 0) void finish();
      });
      for (const w of alive()) w?.send({ type: 'applink:shutdown' } satisfies PrimaryMessage);
      // Workers that overrun their own delay and grace are killed.
      const hardStop = setTimeout(
        () => {
          log.warn('workers overran the shutdown grace period: killing them');
          for (const w of alive()) w?.process.kill('SIGKILL');
        },
        (delaySeconds + graceSeconds + 5) * 1000,
      );
      let finished = false;
      const finish = async () => {
        if (finished) return;
        finished = true;
        clearTimeout(hardStop);
        admin.closeAllConnections();
        await closeServer(admin);
        await store.close();
        const failed = codes.some((c) => c !== 0);
        log.info({ failed }, 'stopped');
        resolve(failed ? 1 : 0);
      };
      if (alive().length === 0) void finish();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', () => void watcher.reload('SIGHUP'));
  });
}

/** `serve`: one process, or a cluster when server.workers > 1. Resolves with the exit code. */
export async function serve(file: string, cfg: RuntimeConfig): Promise<number> {
  if (cluster.isWorker) return runWorker(file);
  const count = workerCount(cfg);
  if (count > 1) return runPrimary(file, cfg, count);
  const log = createLogger({ level: cfg.config.logging.level });
  const running = await startGateway({ cfg, log });
  return installSignals(running, log);
}
