// The Redis connection of the token store: the ioredis client (standalone, Sentinel or Cluster),
// the budget of one store step (run / runGuarded: a 503 within commandTimeoutMs, never a hang),
// health, and Redis high availability (README, "Redis for the token store"):
//  * following a Sentinel failover at once: ioredis subscribes to +switch-master on the
//    sentinels and reconnects to the new master as soon as one is announced, instead of writing
//    on to the deposed master until Sentinel demotes it (about ten seconds, measured); a
//    READONLY answer (a demoted master) reconnects too;
//  * durable token writes: after a write that issues, renews or revokes a token the store sends
//    WAIT <replicas> <timeoutMs> on the same connection, and answers the caller only once that
//    many replicas hold the write. Fewer in time (no replica, a deposed master whose replica was
//    promoted away from it, a connection that changed in between) is StoreUnavailableError:
//    503, and the client retries or restarts the dance, instead of a token acknowledged to AppA
//    that a failover then loses. Nonce claims (the signed-request hot path) never wait.
import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import { StoreUnavailableError } from '../types.js';

export type Client = Redis | Cluster;

/** How to reach Redis; every value the configuration has a default for is given by the caller. */
export interface ConnectionOptions {
  /** redis:// or rediss:// URL; with sentinels or clusterNodes only its credentials and TLS are used. */
  url?: string;
  sentinels?: Array<{ host: string; port: number }>;
  /** The Sentinel master name; required with `sentinels`. */
  sentinelName?: string;
  clusterNodes?: Array<{ host: string; port: number }>;
  /** Budget of one store operation, waiting for a reconnection included (store.redis.commandTimeoutMs). */
  commandTimeoutMs: number;
  /** TCP connect timeout (not configurable). Default 2000. */
  connectTimeoutMs?: number;
  /** Connection errors, for the server to log and count (called at most once per reconnect attempt). */
  onError?: (err: Error) => void;
  /** Replicas that must hold a token write (WAIT) before it is answered; default 1 with sentinels, else 0 (replicasToWait). */
  waitReplicas?: number;
  /** How long a token write waits for them, in ms (store.redis.waitTimeoutMs); below commandTimeoutMs. */
  waitTimeoutMs: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
const MAX_BACKOFF_MS = 2000;
const QUIT_TIMEOUT_MS = 1000;

// Redis replies that mean "not now" rather than "bad request": answered as 503 too.
const TRANSIENT_REPLY =
  /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|NOREPLICAS|MISCONF|OOM|NOMASTERLINK)\b/;

function backoff(times: number): number {
  return Math.min(50 * 2 ** Math.min(times - 1, 10), MAX_BACKOFF_MS) + Math.floor(Math.random() * 100);
}

function isUnavailableError(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  // Server replies are errors of ours (a bug) unless they say the server is not ready.
  if (err.name === 'ReplyError') return TRANSIENT_REPLY.test(err.message);
  // Everything else ioredis raises is about the connection: closed, not writable, timed out.
  return true;
}

function credentialsFromUrl(url: string | undefined): Partial<RedisOptions> {
  if (url === undefined) return {};
  const u = new URL(url);
  const out: Partial<RedisOptions> = {};
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') out.tls = {};
  return out;
}

/** The replicas a token write waits for, as configured or by default (1 with Sentinel, else 0). */
export function replicasToWait(opts: Pick<ConnectionOptions, 'sentinels' | 'clusterNodes' | 'waitReplicas'>): number {
  const n = opts.waitReplicas ?? (opts.sentinels && opts.sentinels.length > 0 ? 1 : 0);
  if (!Number.isInteger(n) || n < 0) throw new Error('store.redis.waitReplicas must be a whole number >= 0');
  if (n > 0 && opts.clusterNodes && opts.clusterNodes.length > 0) {
    // WAIT has no key: in a Cluster it would reach a random node, not the one that took the write.
    throw new Error('store.redis.waitReplicas is not supported with clusterNodes (set it to 0)');
  }
  return n;
}

/** ioredis options for a master found through Sentinel: follow a switch the moment it is announced. */
export function sentinelFollowOptions(): Pick<RedisOptions, 'failoverDetector' | 'reconnectOnError'> {
  return {
    failoverDetector: true,
    reconnectOnError: (err: Error) => /^READONLY\b/.test(err.message),
  };
}

export type Run = <T>(step: () => Promise<T>) => Promise<T>;

/**
 * Wraps `run` for token writes: the write, then (when replicas are required) WAIT on the same
 * connection. The connection is identified by an epoch that every 'ready' advances: WAIT on a
 * newer connection would vouch for nothing, so a change in between is refused.
 */
export function durableTokenWrites(
  client: Client,
  run: Run,
  opts: Pick<ConnectionOptions, 'sentinels' | 'clusterNodes' | 'waitReplicas' | 'waitTimeoutMs'> & { budgetMs: number },
): Run {
  const replicas = replicasToWait(opts);
  const timeoutMs = opts.waitTimeoutMs;
  if (replicas === 0) return run;
  if (timeoutMs >= opts.budgetMs) {
    throw new Error(`store.redis.waitTimeoutMs (${timeoutMs}) must be below commandTimeoutMs (${opts.budgetMs})`);
  }
  const redis = client as Redis;
  let epoch = 0;
  redis.on('ready', () => {
    epoch++;
  });
  return async <T>(step: () => Promise<T>): Promise<T> => {
    let wroteOn = -1;
    const result = await run(() => {
      wroteOn = epoch;
      return step();
    });
    const acked = await run(async () => {
      if (epoch !== wroteOn) throw new StoreUnavailableError('the Redis connection changed before the token write was confirmed');
      return Number(await redis.wait(replicas, timeoutMs));
    });
    if (acked < replicas) {
      throw new StoreUnavailableError(`token write reached ${acked} of ${replicas} Redis replica(s) within ${timeoutMs} ms`);
    }
    return result;
  };
}

/** The connection as the store uses it. */
export interface Connection {
  client: Client;
  /** One store step against Redis: answers within the budget or rejects with StoreUnavailableError. */
  run: Run;
  /** run() for writes that issue, renew or revoke a token: confirmed on replicas when required. */
  runDurable: Run;
  ping(): Promise<void>;
  isHealthy(): boolean;
  close(): Promise<void>;
}

export function connect(opts: ConnectionOptions): Connection {
  const budgetMs = opts.commandTimeoutMs;
  const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;

  const perConnection: RedisOptions = {
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false,
    commandTimeout: budgetMs,
    connectTimeout: connectTimeoutMs,
    connectionName: 'applink-gateway',
    // Commands issued in one turn of the event loop (several requests' nonce-and-token lookups
    // under load) leave in one write: each write to the socket was as costly as forwarding a
    // request (README "Performance"). Each command still has its own reply and timeout.
    enableAutoPipelining: true,
  };
  const connection: RedisOptions = {
    ...perConnection,
    // Fail fast instead of queueing: a request must get its 503 within the budget.
    enableOfflineQueue: false,
    retryStrategy: backoff,
  };

  let client: Client;
  if (opts.clusterNodes && opts.clusterNodes.length > 0) {
    // Cluster: the offline queue is refused at the cluster level; ioredis keeps its own
    // per-node queue and node retry policy (slots are refreshed on MOVED).
    const clusterOptions: ClusterOptions = {
      enableOfflineQueue: false,
      clusterRetryStrategy: backoff,
      slotsRefreshTimeout: Math.min(budgetMs, 1000),
      redisOptions: { ...perConnection, ...credentialsFromUrl(opts.url) },
    };
    client = new Cluster(opts.clusterNodes, clusterOptions);
  } else if (opts.sentinels && opts.sentinels.length > 0) {
    if (!opts.sentinelName) throw new Error('store.redis.sentinelName is required with sentinels');
    client = new Redis({
      ...connection,
      ...credentialsFromUrl(opts.url),
      sentinels: opts.sentinels,
      name: opts.sentinelName,
      ...sentinelFollowOptions(),
    });
  } else {
    client = new Redis(opts.url ?? 'redis://127.0.0.1:6379', connection);
  }

  // Connection state: isHealthy() and how long a call may wait for a reconnection.
  let closed = false;
  let stalled = false; // a command timed out on an open connection; cleared by the next success
  let downSince: number | null = Date.now();
  client.on('ready', () => {
    downSince = null;
    stalled = false;
  });
  const markDown = () => {
    downSince ??= Date.now();
  };
  client.on('close', markDown);
  client.on('end', markDown);
  client.on('error', (err: Error) => opts.onError?.(err));

  // One shared waiter per outage, so that waiting callers do not pile listeners on the client.
  let readyWaiter: Promise<void> | null = null;
  function nextReady(): Promise<void> {
    if (readyWaiter === null) {
      const waiter = new Promise<void>((resolve, reject) => {
        const onReady = () => {
          client.off('end', onEnd);
          resolve();
        };
        const onEnd = () => {
          client.off('ready', onReady);
          reject(new StoreUnavailableError('Redis connection ended'));
        };
        client.once('ready', onReady);
        client.once('end', onEnd);
      });
      const clear = () => {
        readyWaiter = null;
      };
      waiter.then(clear, clear);
      readyWaiter = waiter;
    }
    return readyWaiter;
  }

  /**
   * Resolves when the client can send. Waits through a connection attempt that is younger than
   * the connect timeout (start-up, a blip); fails at once during a longer outage.
   */
  function whenReady(): Promise<void> {
    if (closed) return Promise.reject(new StoreUnavailableError('token store is closed'));
    if (client.status === 'ready') return Promise.resolve();
    if (client.status === 'end' || (downSince !== null && Date.now() - downSince > connectTimeoutMs)) {
      return Promise.reject(new StoreUnavailableError('Redis is unreachable'));
    }
    return nextReady();
  }

  // Standalone and Sentinel: a connected client's own commandTimeout (the budget) bounds every
  // command, so a call needs no timer or race of its own. Cluster keeps the guarded path (its
  // slot refreshes and redirections are not covered by one command's timeout).
  const ownTimeoutServes = !(opts.clusterNodes && opts.clusterNodes.length > 0);

  /** The result of a step sent on a ready connection: a timeout marks the connection stalled. */
  function settle<T>(sent: Promise<T>): Promise<T> {
    return sent.then(
      (result) => {
        stalled = false;
        return result;
      },
      (err: unknown) => {
        if (err instanceof Error && /timed out/i.test(err.message)) stalled = true;
        throw unavailable(err);
      },
    );
  }

  function unavailable(err: unknown): unknown {
    if (err instanceof StoreUnavailableError || !isUnavailableError(err)) return err;
    return new StoreUnavailableError(`token store unavailable: ${(err as Error).message}`, { cause: err });
  }

  function run<T>(step: () => Promise<T>): Promise<T> {
    if (ownTimeoutServes && !closed && client.status === 'ready') {
      let sent: Promise<T>;
      try {
        sent = step();
      } catch (err) {
        return Promise.reject(unavailable(err));
      }
      return settle(sent);
    }
    return runGuarded(step);
  }

  /** run() while the connection is not ready (or on Cluster): waits for it within the budget. */
  async function runGuarded<T>(step: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let late = false;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        late = true;
        stalled = true;
        reject(new StoreUnavailableError(`Redis did not answer within ${budgetMs} ms`));
      }, budgetMs);
    });
    // A step whose caller has already been answered 503 must not run when Redis comes back.
    const send = () => (late ? Promise.reject(new StoreUnavailableError('too late')) : step());
    try {
      const result = await Promise.race([whenReady().then(send), deadline]);
      stalled = false;
      return result;
    } catch (err) {
      throw unavailable(err);
    } finally {
      clearTimeout(timer);
    }
  }

  const runDurable = durableTokenWrites(client, run, { ...opts, budgetMs });

  return {
    client,
    run,
    runDurable,
    async ping(): Promise<void> {
      await run(() => client.ping());
    },
    isHealthy(): boolean {
      return !closed && client.status === 'ready' && !stalled;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (client.status === 'ready') {
        let timer: NodeJS.Timeout | undefined;
        const quit = client.quit().then(
          () => true,
          () => false,
        );
        const timeout = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), QUIT_TIMEOUT_MS);
        });
        await Promise.race([quit, timeout]);
        clearTimeout(timer);
      }
      // Also after a clean QUIT: only disconnect() ends the Sentinel failover detector's
      // subscriptions (ioredis), which would otherwise reconnect to the sentinels forever.
      client.disconnect();
    },
  };
}
