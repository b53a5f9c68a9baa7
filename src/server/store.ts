// The token store a configuration names: Redis when store.redis is set, else the memory store.
import type { RuntimeConfig } from '../config/load.js';
import { createStore, MEMORY_STORE_WARNING } from '../store/index.js';
import type { TokenStore } from '../store/types.js';
import type { Logger } from '../ops/logger.js';

export function storeFromConfig(cfg: RuntimeConfig, log: Logger, onError?: (err: Error) => void): TokenStore {
  const r = cfg.config.store.redis;
  if (!r) {
    log.warn(MEMORY_STORE_WARNING);
    return createStore({ redis: null });
  }
  return createStore({
    redis: {
      url: r.url,
      sentinels: r.sentinels,
      sentinelName: r.sentinelName,
      clusterNodes: r.clusterNodes,
      keyPrefix: r.keyPrefix,
      encryptionKeys: cfg.encryptionKeys ?? [],
      commandTimeoutMs: r.commandTimeoutMs,
      waitReplicas: r.waitReplicas,
      waitTimeoutMs: r.waitTimeoutMs,
      onError,
    },
  });
}
