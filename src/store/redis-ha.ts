// Redis high availability for the token store (README, "Redis for the token store"):
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
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { StoreUnavailableError } from './types.js';

/** Default of store.redis.waitTimeoutMs. */
export const DEFAULT_WAIT_TIMEOUT_MS = 500;

export interface DurabilityOptions {
  sentinels?: Array<{ host: string; port: number }>;
  clusterNodes?: Array<{ host: string; port: number }>;
  /** Replicas that must hold a token write before it is answered. Default 1 with sentinels, else 0. */
  waitReplicas?: number;
  /** How long WAIT may block. Default DEFAULT_WAIT_TIMEOUT_MS; must be below the command budget. */
  waitTimeoutMs?: number;
}

/** The replicas a token write waits for, as configured or by default (1 with Sentinel, else 0). */
export function replicasToWait(opts: DurabilityOptions): number {
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

type Run = <T>(step: () => Promise<T>) => Promise<T>;

/**
 * Wraps `run` for token writes: the write, then (when replicas are required) WAIT on the same
 * connection. The connection is identified by an epoch that every 'ready' advances: WAIT on a
 * newer connection would vouch for nothing, so a change in between is refused.
 */
export function durableTokenWrites(client: Redis | Cluster, run: Run, opts: DurabilityOptions & { budgetMs: number }): Run {
  const replicas = replicasToWait(opts);
  const timeoutMs = opts.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
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
