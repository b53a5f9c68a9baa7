// The running gateway's shared parts: live configuration, store, logger, metrics, state.
import type { RuntimeConfig } from './config/load.js';
import type { TokenStore } from './store/types.js';
import type { Logger } from './ops/logger.js';
import type { Metrics } from './ops/metrics.js';

export interface Gateway {
  /** The current configuration; a reload swaps it atomically, so read it once per request. */
  cfg(): RuntimeConfig;
  setCfg(next: RuntimeConfig): void;
  readonly store: TokenStore;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Set on SIGTERM: /readyz answers 503 from then on. */
  shuttingDown: boolean;
  /** An audit event (token issued, approved, ..., every impersonation): logged with audit: true. */
  audit(event: string, fields: Record<string, unknown>): void;
}

export function createGateway(parts: { cfg: RuntimeConfig; store: TokenStore; log: Logger; metrics: Metrics }): Gateway {
  let current = parts.cfg;
  return {
    cfg: () => current,
    setCfg(next) {
      current = next;
    },
    store: parts.store,
    log: parts.log,
    metrics: parts.metrics,
    shuttingDown: false,
    audit(event, fields) {
      parts.log.info({ audit: true, event, ...fields }, `audit ${event}`);
    },
  };
}
