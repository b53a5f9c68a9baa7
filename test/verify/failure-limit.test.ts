// The failure limiter on each backend it runs on: the memory store, Redis standalone and Redis
// Cluster (rate-limiter-flexible on the store's own ioredis connection); and which address is
// the source.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { parseCidrList } from '../../src/config/cidr.js';
import { OAuthProblem } from '../../src/oauth1/index.js';
import { createLogger } from '../../src/ops/logger.js';
import { createMetrics } from '../../src/ops/metrics.js';
import { clientAddress } from '../../src/http/headers.js';
import { createMemoryStore, createRedisStore, generateKeyringLine, parseKeyring } from '../../src/store/index.js';
import type { TokenStore } from '../../src/store/types.js';
import { createFailureLimit, type FailureLimit, type FailureLimitConfig } from '../../src/verify/failure-limit.js';
import { TEST_REDIS_TIMINGS, startRedisCluster, testKeyPrefix, testRedisUrl, type EphemeralRedisCluster } from '../helpers/redis.js';

const SETTINGS: FailureLimitConfig = {
  enabled: true,
  perSource: { points: 5, durationSeconds: 60, blockSeconds: 30 },
  perConsumerSource: { points: 2, durationSeconds: 60, blockSeconds: 10 },
};
const BAD = () => new OAuthProblem('signature_invalid');

function limiter(store: TokenStore, prefix: string, settings: FailureLimitConfig = SETTINGS): FailureLimit {
  return createFailureLimit({ settings: () => settings, store, keyPrefix: () => prefix, metrics: createMetrics({ defaultMetrics: false }), log: createLogger({ level: 'silent' }) });
}

function refusedFor(err: unknown, maxSeconds: number): boolean {
  return err instanceof OAuthProblem && err.problem === 'consumer_key_refused' && err.status === 429 && (err.retryAfterSeconds ?? 0) >= 1 && (err.retryAfterSeconds ?? 0) <= maxSeconds;
}

function suite(name: string, open: () => Promise<{ store: TokenStore; prefix: string }>, shared: boolean): void {
  describe(`failure limit: ${name}`, () => {
    it('counts per (consumer, source) and per source; a second replica learns of a block at its next failure', async () => {
      const { store, prefix } = await open();
      try {
        const a = limiter(store, prefix);
        const src = `10.0.0.${Math.floor(Math.random() * 250) + 1}`;
        assert.equal((await a.recordFailure(src, 'app-a', BAD())).problem, 'signature_invalid');
        assert.equal((await a.recordFailure(src, 'app-a', BAD())).problem, 'signature_invalid');
        assert.ok(refusedFor(await a.recordFailure(src, 'app-a', BAD()), 10));
        assert.throws(() => a.checkNotBlocked(src, 'app-a'), (e) => refusedFor(e, 10));
        a.checkNotBlocked(src, 'app-h');
        a.checkNotBlocked('10.9.9.9', 'app-a');
        // Not a counted problem: answered as it is, nothing counted.
        const used = new OAuthProblem('nonce_used');
        for (let i = 0; i < 10; i++) assert.equal(await a.recordFailure('10.8.8.8', 'app-a', used), used);
        a.checkNotBlocked('10.8.8.8', 'app-a');

        if (shared) {
          // Another replica sharing the store has not seen the block: it learns at its next failure.
          const b = limiter(store, prefix);
          b.checkNotBlocked(src, 'app-a');
          assert.ok(refusedFor(await b.recordFailure(src, 'app-a', BAD()), 10));
          assert.throws(() => b.checkNotBlocked(src, 'app-a'), (e) => refusedFor(e, 10));
        }

        // Per source, whatever the consumer (unknown consumers count per source only).
        const other = `10.1.0.${Math.floor(Math.random() * 250) + 1}`;
        for (const ck of ['app-a', 'app-h', null, 'app-x', null]) assert.equal((await a.recordFailure(other, ck, BAD())).problem, 'signature_invalid');
        assert.ok(refusedFor(await a.recordFailure(other, null, BAD()), 30));
        assert.throws(() => a.checkNotBlocked(other, null), (e) => refusedFor(e, 30));
        assert.throws(() => a.checkNotBlocked(other, 'app-q'), (e) => refusedFor(e, 30));
      } finally {
        await store.close();
      }
    });

    it('enabled: false counts nothing and blocks nothing', async () => {
      const { store, prefix } = await open();
      try {
        const off = limiter(store, prefix, { ...SETTINGS, enabled: false });
        for (let i = 0; i < 20; i++) assert.equal((await off.recordFailure('10.2.0.1', 'app-a', BAD())).problem, 'signature_invalid');
        off.checkNotBlocked('10.2.0.1', 'app-a');
      } finally {
        await store.close();
      }
    });
  });
}

const keyring = () => parseKeyring(generateKeyringLine());

/** A store whose connection is up (the limiter counts nothing while it is not). */
async function ready(store: TokenStore): Promise<TokenStore> {
  for (let i = 0; ; i++) {
    try {
      await store.ping();
      return store;
    } catch (err) {
      if (i >= 20) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

suite('memory store (RateLimiterMemory)', async () => ({ store: createMemoryStore(), prefix: '' }), false);
suite(
  'Redis (RateLimiterRedis on the store connection)',
  async () => {
    const prefix = testKeyPrefix();
    return { store: await ready(createRedisStore({ url: await testRedisUrl(), keyPrefix: prefix, encryptionKeys: keyring(), ...TEST_REDIS_TIMINGS })), prefix };
  },
  true,
);

let cluster: Promise<EphemeralRedisCluster> | null = null;
after(async () => {
  if (cluster) await (await cluster).stop();
});
suite('Redis Cluster', async () => {
  cluster ??= startRedisCluster();
  const { nodes } = await cluster;
  const prefix = testKeyPrefix();
  return { store: await ready(createRedisStore({ clusterNodes: nodes, keyPrefix: prefix, encryptionKeys: keyring(), ...TEST_REDIS_TIMINGS })), prefix };
}, true);

describe('the source of a request (clientAddress)', () => {
  const req = (peer: string, xff?: string[]) => ({ socket: { remoteAddress: peer }, headersDistinct: xff ? { 'x-forwarded-for': xff } : {} }) as unknown as IncomingMessage;
  const trusted = parseCidrList(['10.0.0.0/8', '::1']);

  it('an untrusted peer is the source, whatever X-Forwarded-For says', () => {
    assert.equal(clientAddress(req('192.0.2.7', ['198.51.100.1']), trusted), '192.0.2.7');
    assert.equal(clientAddress(req('::ffff:192.0.2.7', ['198.51.100.1']), trusted), '192.0.2.7');
    assert.equal(clientAddress(req('192.0.2.7'), parseCidrList([])), '192.0.2.7');
  });

  it('from a trusted proxy: the nearest untrusted address, read from the right', () => {
    assert.equal(clientAddress(req('10.1.1.1', ['198.51.100.1']), trusted), '198.51.100.1');
    assert.equal(clientAddress(req('10.1.1.1', ['6.6.6.6, 198.51.100.1, 10.2.2.2']), trusted), '198.51.100.1');
    assert.equal(clientAddress(req('::1', ['6.6.6.6', '2001:db8::5']), trusted), '2001:db8::5');
    assert.equal(clientAddress(req('10.1.1.1', ['::ffff:198.51.100.9']), trusted), '198.51.100.9');
  });

  it('from a trusted proxy without a usable X-Forwarded-For: the last trusted hop', () => {
    assert.equal(clientAddress(req('10.1.1.1'), trusted), '10.1.1.1');
    assert.equal(clientAddress(req('10.1.1.1', ['garbage']), trusted), '10.1.1.1');
    assert.equal(clientAddress(req('10.1.1.1', ['198.51.100.1, not-an-ip, 10.3.3.3']), trusted), '10.3.3.3');
    assert.equal(clientAddress(req('10.1.1.1', ['10.4.4.4']), trusted), '10.4.4.4');
  });
});
