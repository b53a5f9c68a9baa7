// Brute-force damping (security.failureLimit): verification failures are counted per source
// address and per (consumer key, source) — never per consumer key alone, which anyone could use
// to lock a link out. Past a limit the source (or that consumer from it) is answered 429
// consumer_key_refused with Retry-After until the block ends.
//
// Off the success path: points are consumed only when a request has already failed, and a block
// is remembered in this process until it ends, so a blocked source is refused before any work
// and a valid request costs nothing extra. Another replica learns of a block at its own next
// failure from that source (the counters are shared in Redis). The counters live beside the
// tokens (rate-limiter-flexible: RateLimiterRedis on the store's connection, RateLimiterMemory
// with the memory store); when Redis fails the failure is answered as it would have been.
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Config } from '../config/schema.js';
import { OAuthProblem, isOAuthProblem, type OAuthProblemName } from '../oauth1/index.js';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { TokenStore } from '../store/types.js';

export type FailureLimitConfig = Config['security']['failureLimit'];
export type FailureScope = 'source' | 'consumer_source';

/** The refusals that count: a wrong signature, an unknown or foreign token or a wrong verifier, an unknown consumer. */
export const COUNTED_PROBLEMS: ReadonlySet<OAuthProblemName> = new Set(['signature_invalid', 'token_rejected', 'consumer_key_unknown']);

// Blocks remembered here at most (an attacker rotating sources must not grow the map without end).
const MAX_LOCAL_BLOCKS = 50_000;
// A limiter call on the failure path waits at most this long (the store's own timeouts are shorter).
const LIMITER_TIMEOUT_MS = 2000;
// Limiter errors are logged at most this often.
const ERROR_LOG_INTERVAL_MS = 10_000;

export interface FailureLimit {
  /** Throws consumer_key_refused (429) when the source, or `consumerKey` from it, is blocked here. No I/O. */
  checkNotBlocked(source: string, consumerKey: string | null): void;
  /** Counts a failure; resolves to the problem to answer: `problem`, or consumer_key_refused once a limit is crossed. */
  recordFailure(source: string, consumerKey: string | null, problem: OAuthProblem): Promise<OAuthProblem>;
}

interface Limiters {
  settings: string;
  perSource: RateLimiterAbstract;
  perConsumerSource: RateLimiterAbstract;
}

export function createFailureLimit(parts: {
  settings: () => FailureLimitConfig;
  store: TokenStore;
  /** Prefix of the limiter's Redis keys (store.redis.keyPrefix). */
  keyPrefix: () => string;
  metrics: Metrics;
  log: Logger;
  now?: () => number;
}): FailureLimit {
  const now = parts.now ?? Date.now;
  const blocked = new Map<string, number>(); // local key -> blocked until (epoch ms)
  let limiters: Limiters | null = null;
  let lastErrorLog = 0;

  function limitersFor(cfg: FailureLimitConfig): Limiters {
    const prefix = parts.keyPrefix();
    const settings = JSON.stringify([cfg, prefix]);
    if (limiters?.settings === settings) return limiters;
    const make = (name: string, w: FailureLimitConfig['perSource']): RateLimiterAbstract => {
      const opts = { keyPrefix: `${prefix}fl:${name}`, points: w.points, duration: w.durationSeconds, blockDuration: w.blockSeconds };
      const client = parts.store.redisClient;
      return client ? new RateLimiterRedis({ ...opts, storeClient: client, rejectIfRedisNotReady: true }) : new RateLimiterMemory(opts);
    };
    limiters = { settings, perSource: make('s', cfg.perSource), perConsumerSource: make('cs', cfg.perConsumerSource) };
    return limiters;
  }

  // Limiter keys. The consumer key is the client's text: encoded, so that it cannot forge
  // another source or a Redis Cluster hash tag.
  const consumerSourceKey = (consumerKey: string, source: string) => `${encodeURIComponent(consumerKey)}|${source}`;
  // Keys of the local block map.
  const sourceKey = (source: string) => `s|${source}`;
  const localConsumerSourceKey = (consumerKey: string, source: string) => `c|${consumerSourceKey(consumerKey, source)}`;

  function remember(key: string, until: number): void {
    if (blocked.size >= MAX_LOCAL_BLOCKS) {
      const t = now();
      for (const [k, u] of blocked) if (u <= t) blocked.delete(k);
      // Still full: the oldest entries go (they are also the first to end, most of the time).
      for (const k of blocked.keys()) {
        if (blocked.size < MAX_LOCAL_BLOCKS) break;
        blocked.delete(k);
      }
    }
    blocked.set(key, until);
  }

  function blockedFor(key: string): number {
    const until = blocked.get(key);
    if (until === undefined) return 0;
    const left = until - now();
    if (left <= 0) {
      blocked.delete(key);
      return 0;
    }
    return left;
  }

  function refusal(scope: FailureScope, ms: number): OAuthProblem {
    parts.metrics.failureLimitRefusals.inc({ scope });
    const retryAfterSeconds = Math.max(1, Math.ceil(ms / 1000));
    return new OAuthProblem('consumer_key_refused', {
      detail: scope === 'source' ? 'too many failed requests from this address' : 'too many failed requests of this consumer from this address',
      params: { oauth_problem_advice: `too many failed requests; retry after ${retryAfterSeconds} s` },
      retryAfterSeconds,
    });
  }

  /** Consumes one point; the block's remaining ms when the limit is crossed, 0 otherwise (and on any limiter error). */
  async function consume(limiter: RateLimiterAbstract, key: string): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        limiter.consume(key, 1),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`failure limiter did not answer within ${LIMITER_TIMEOUT_MS} ms`)), LIMITER_TIMEOUT_MS);
        }),
      ]);
      return 0;
    } catch (err) {
      if (err instanceof RateLimiterRes) return Math.max(1, err.msBeforeNext);
      // The store is down or slow: the failure is answered as it would have been, never 500.
      parts.metrics.storeErrors.inc();
      const t = now();
      if (t - lastErrorLog >= ERROR_LOG_INTERVAL_MS) {
        lastErrorLog = t;
        parts.log.warn({ err: (err as Error).message }, 'failure limiter unavailable: failures are not counted');
      }
      return 0;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    checkNotBlocked(source, consumerKey) {
      if (!parts.settings().enabled || blocked.size === 0) return;
      const bySource = blockedFor(sourceKey(source));
      if (bySource > 0) throw refusal('source', bySource);
      if (consumerKey === null) return;
      const byConsumer = blockedFor(localConsumerSourceKey(consumerKey, source));
      if (byConsumer > 0) throw refusal('consumer_source', byConsumer);
    },

    async recordFailure(source, consumerKey, problem) {
      const cfg = parts.settings();
      if (!cfg.enabled || !COUNTED_PROBLEMS.has(problem.problem)) return problem;
      const l = limitersFor(cfg);
      const [bySource, byConsumer] = await Promise.all([
        consume(l.perSource, source),
        consumerKey === null ? Promise.resolve(0) : consume(l.perConsumerSource, consumerSourceKey(consumerKey, source)),
      ]);
      const t = now();
      if (bySource > 0) remember(sourceKey(source), t + bySource);
      if (byConsumer > 0 && consumerKey !== null) remember(localConsumerSourceKey(consumerKey, source), t + byConsumer);
      if (bySource > 0) return refusal('source', bySource);
      if (byConsumer > 0) return refusal('consumer_source', byConsumer);
      return problem;
    },
  };
}

/**
 * Runs the verification of one request under the failure limit: refused at once while its
 * source (or its link's consumer key from that source) is blocked; a counted failure is recorded
 * and answered, as the limiter says, with its own problem or with consumer_key_refused.
 * `consumerKey`: a configured link's consumer key, else null (counted per source only).
 */
export async function underFailureLimit<T>(limit: FailureLimit, source: string, consumerKey: string | null, verify: () => Promise<T>): Promise<T> {
  limit.checkNotBlocked(source, consumerKey);
  try {
    return await verify();
  } catch (err) {
    if (isOAuthProblem(err) && COUNTED_PROBLEMS.has(err.problem)) throw await limit.recordFailure(source, consumerKey, err);
    throw err;
  }
}
