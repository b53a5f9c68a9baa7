// Redis memory per live access token and per remembered nonce, written with the store's own
// API (the same Lua scripts the gateway runs): `count` dances (request token, approval,
// exchange) spread over 1,000 users, then `count` nonce claims of 3LO requests. INFO memory
// used_memory before and after each, on the bench's own redis-server with nothing else connected.
import { randomBytes } from 'node:crypto';
import { createRedisStore, parseKeyring, type AccessToken } from '../src/store/index.js';

export interface StoreCost {
  count: number;
  bytesPerAccessToken: number;
  bytesPerNonce: number;
  keysPerToken: number;
}

const PARALLEL = 64;

async function inParallel(n: number, step: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) await step(next++);
  };
  await Promise.all(Array.from({ length: PARALLEL }, lane));
}

export async function measureStoreCost(url: string, keyring: string, count: number, usedMemory: () => Promise<number>, dbsize?: () => Promise<number>): Promise<StoreCost> {
  const store = createRedisStore({ url, keyPrefix: 'applink:', encryptionKeys: parseKeyring(keyring), commandTimeoutMs: 1500, waitTimeoutMs: 500 });
  try {
    await store.ping();
    const keys0 = dbsize ? await dbsize() : 0;
    const before = await usedMemory();
    let sample: AccessToken | null = null;
    await inParallel(count, async (i) => {
      const rt = await store.createRequestToken({ linkId: 'link-hmac', consumerKey: 'app-h', callback: 'http://apph.bench/callback', version: '1.0a', ttlSeconds: 600 });
      const approved = await store.approveRequestToken(rt.token, `user-${i % 1000}`);
      if (!approved.ok) throw new Error(`store cost: approve failed (${approved.reason})`);
      const ex = await store.exchangeRequestToken(rt.token, { consumerKey: 'app-h', verifier: approved.token.verifier, accessTtlSeconds: 157_680_000 });
      if (!ex.ok) throw new Error(`store cost: exchange failed (${ex.reason})`);
      sample ??= ex.access;
    });
    const afterTokens = await usedMemory();
    const keys1 = dbsize ? await dbsize() : 0;
    const token = (sample as AccessToken | null)?.token ?? '';
    const ts = String(Math.floor(Date.now() / 1000));
    await inParallel(count, async () => {
      const fresh = await store.claimNonce({ consumerKey: 'app-h', timestamp: ts, nonce: randomBytes(16).toString('hex'), token }, 300);
      if (!fresh) throw new Error('store cost: a fresh nonce was refused');
    });
    const afterNonces = await usedMemory();
    return {
      count,
      bytesPerAccessToken: (afterTokens - before) / count,
      bytesPerNonce: (afterNonces - afterTokens) / count,
      keysPerToken: dbsize ? (keys1 - keys0) / count : NaN,
    };
  } finally {
    await store.close();
  }
}
