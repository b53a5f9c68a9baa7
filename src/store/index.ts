// The token store: Redis when configured, the in-process memory store otherwise.
import { createMemoryStore } from './memory.js';
import { createRedisStore } from './redis/index.js';
import type { RedisStoreOptions } from './redis/index.js';
import type { TokenStore } from './types.js';

export * from './types.js';
export {
  constantTimeEqual,
  decryptSecret,
  encryptSecret,
  generateKeyringLine,
  parseKeyring,
  randomToken,
  tokenDigest,
} from './crypto.js';
export type { EncryptionKey } from './crypto.js';
export type { TokenBackend } from './backend.js';
export { composeStore } from './compose.js';
export { createMemoryStore, MEMORY_STORE_WARNING } from './memory.js';
export { createRedisStore } from './redis/index.js';
export type { RedisStoreOptions } from './redis/index.js';
export { accessHandleOfToken, handleOfToken, isForeignToken, isHandle } from './tokens.js';

/** Redis when `redis` is given, else the memory store (the caller logs MEMORY_STORE_WARNING). */
export function createStore(opts: {
  redis?: RedisStoreOptions | null;
  now?: () => number;
}): TokenStore {
  if (opts.redis) {
    return createRedisStore(opts.now && !opts.redis.now ? { ...opts.redis, now: opts.now } : opts.redis);
  }
  return createMemoryStore(opts.now ? { now: opts.now } : {});
}
