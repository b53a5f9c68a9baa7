// The running gateway's shared parts: live configuration, store, logger, metrics, state.
import type { RuntimeConfig } from './config/load.js';
import type { TokenStore } from './store/types.js';
import type { Logger } from './ops/logger.js';
import type { Metrics } from './ops/metrics.js';
import { createFailureLimit, type FailureLimit } from './verify/failure-limit.js';

export interface Gateway {
  /** The current configuration; a reload swaps it atomically, so read it once per request. */
  cfg(): RuntimeConfig;
  setCfg(next: RuntimeConfig): void;
  readonly store: TokenStore;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Brute-force damping of verification failures (security.failureLimit). */
  readonly failureLimit: FailureLimit;
  /** Set on SIGTERM: /readyz answers 503 from then on. */
  shuttingDown: boolean;
  /** An audit event (token issued, approved, ..., every impersonation): logged with audit: true. */
  audit(event: string, fields: Record<string, unknown>): void;
}

export function createGateway(parts: { cfg: RuntimeConfig; store: TokenStore; log: Logger; metrics: Metrics }): Gateway {
  let current = parts.cfg;
  const failureLimit = createFailureLimit({
    settings: () => current.config.security.failureLimit,
    store: parts.store,
    keyPrefix: () => current.config.store.redis?.keyPrefix ?? '',
    metrics: parts.metrics,
    log: parts.log,
  });
  return {
    cfg: () => current,
    setCfg(next) {
      current = next;
    },
    store: parts.store,
    log: parts.log,
    metrics: parts.metrics,
    failureLimit,
    shuttingDown: false,
    audit(event, fields) {
      parts.log.info({ audit: true, event, ...fields }, `audit ${event}`);
    },
  };
}
