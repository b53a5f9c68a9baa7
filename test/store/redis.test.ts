// The contract suite against a real redis-server, plus what only Redis has: data at rest,
// TTLs, key rotation, and behaviour when Redis goes away.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { generateKeyringLine, parseKeyring, tokenDigest } from '../../src/store/crypto.js';
import type { EncryptionKey } from '../../src/store/crypto.js';
import { createStore } from '../../src/store/index.js';
import { createRedisStore } from '../../src/store/redis/index.js';
import { TOMBSTONE_MAX_MS } from '../../src/store/tokens.js';
import type { RedisStoreOptions } from '../../src/store/redis/index.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import type { AccessToken, TokenStore } from '../../src/store/types.js';
import { TEST_REDIS_TIMINGS, startRedis, startRedisCluster, testKeyPrefix, testRedisUrl } from '../helpers/redis.js';
import type { EphemeralRedisCluster } from '../helpers/redis.js';
import { fakeClock, storeContract } from './contract.js';

const newKey = (): EncryptionKey => {
  const [key] = parseKeyring(generateKeyringLine());
  assert.ok(key);
  return key;
};

let admin: Redis | null = null;
async function adminClient(): Promise<Redis> {
  admin ??= new Redis(await testRedisUrl());
  return admin;
}
after(async () => {
  await admin?.quit();
});

async function deletePrefix(prefix: string): Promise<void> {
  const r = await adminClient();
  const keys = await r.keys(`${prefix}*`);
  if (keys.length > 0) await r.del(...keys);
}

/** Every key under the prefix with its value, as an attacker with a dump would see it. */
async function dump(prefix: string): Promise<Record<string, unknown>> {
  const r = await adminClient();
  const out: Record<string, unknown> = {};
  for (const key of await r.keys(`${prefix}*`)) {
    const type = await r.type(key);
    if (type === 'hash') out[key] = await r.hgetall(key);
    else if (type === 'string') out[key] = await r.get(key);
    else if (type === 'set') out[key] = await r.smembers(key);
    else out[key] = `<${type}>`;
  }
  return out;
}

async function redisStore(over: Partial<RedisStoreOptions> = {}): Promise<{
  store: TokenStore;
  prefix: string;
  clock: ReturnType<typeof fakeClock>;
}> {
  const clock = fakeClock();
  const prefix = over.keyPrefix ?? testKeyPrefix();
  const store = createRedisStore({
    url: await testRedisUrl(),
    keyPrefix: prefix,
    encryptionKeys: [newKey()],
    now: clock.now,
    ...TEST_REDIS_TIMINGS,
    ...over,
  });
  return { store, prefix, clock };
}

async function issue(store: TokenStore, user = 'alice'): Promise<AccessToken> {
  const rt = await store.createRequestToken({
    linkId: 'link-a',
    consumerKey: 'app-a',
    callback: 'oob',
    version: '1.0a',
    ttlSeconds: 600,
  });
  const ok = await store.approveRequestToken(rt.token, user);
  assert.ok(ok.ok);
  const res = await store.exchangeRequestToken(rt.token, {
    consumerKey: 'app-a',
    verifier: ok.token.verifier,
    accessTtlSeconds: 3600,
  });
  assert.ok(res.ok);
  return res.access;
}

storeContract('redis', async () => {
  const { store, prefix, clock } = await redisStore();
  return {
    store,
    now: clock,
    nonceTtlIsRealTime: true,
    keyTtlIsRealTime: true,
    async cleanup() {
      await store.close();
      await deletePrefix(prefix);
    },
  };
});

// The same contract on a three-master Redis Cluster: every multi-key script must stay in one
// slot (CROSSSLOT otherwise), and listing without a filter must scan every master.
let cluster: Promise<EphemeralRedisCluster> | null = null;
after(async () => {
  if (cluster) await (await cluster).stop();
});

storeContract('redis cluster', async () => {
  cluster ??= startRedisCluster();
  const { nodes } = await cluster;
  const clock = fakeClock();
  const store = createRedisStore({
    clusterNodes: nodes,
    keyPrefix: testKeyPrefix(),
    encryptionKeys: [newKey()],
    now: clock.now,
    ...TEST_REDIS_TIMINGS,
  });
  // Keys are left to their TTLs: the cluster is thrown away after this file.
  return { store, now: clock, nonceTtlIsRealTime: true, keyTtlIsRealTime: true, cleanup: () => store.close() };
});

describe('redis cluster', () => {
  it('grants spread over the masters, each grant in one slot', async () => {
    cluster ??= startRedisCluster();
    const { nodes } = await cluster;
    const prefix = testKeyPrefix();
    const store = createRedisStore({ clusterNodes: nodes, keyPrefix: prefix, encryptionKeys: [newKey()], ...TEST_REDIS_TIMINGS });
    const direct = nodes.map((n) => new Redis(n.port, n.host));
    try {
      const handles: string[] = [];
      for (let i = 0; i < 12; i++) {
        const a = await issue(store, `user${i}`);
        await store.claimNonceAndGetAccessToken({ consumerKey: 'app-a', timestamp: '1', nonce: `n${i}`, token: a.token }, 60, 'link-a');
        handles.push(a.handle);
      }
      const perNode = await Promise.all(direct.map((r) => r.keys(`${prefix}*`)));
      assert.ok(perNode.filter((keys) => keys.some((k) => k.includes('at:{'))).length >= 2, 'sharded');
      for (const h of handles) {
        const holders = perNode.filter((keys) => keys.some((k) => k.includes(`{${h}}`)));
        assert.equal(holders.length, 1, `grant ${h} on one node`);
        assert.equal(holders[0]?.filter((k) => k.includes(`{${h}}`)).length, 3, 'rt, at and nonce');
      }
      assert.equal((await store.listAccessTokens({})).length, 12);
    } finally {
      await store.close();
      await Promise.all(direct.map((r) => r.quit()));
    }
  });
});

describe('redis store: data at rest', () => {
  it('a dump of every key holds no token value, secret, verifier or session handle', async () => {
    const { store, prefix } = await redisStore();
    try {
      const pending = await store.createRequestToken({
        linkId: 'link-a',
        consumerKey: 'app-a',
        callback: 'https://appa.example.com/cb',
        version: '1.0a',
        ttlSeconds: 600,
      });
      const rt = await store.createRequestToken({
        linkId: 'link-a',
        consumerKey: 'app-a',
        callback: 'oob',
        version: '1.0a',
        ttlSeconds: 600,
      });
      const approved = await store.approveRequestToken(rt.token, 'Alice');
      assert.ok(approved.ok && approved.token.verifier);
      const res = await store.exchangeRequestToken(rt.token, {
        consumerKey: 'app-a',
        verifier: approved.token.verifier,
        accessTtlSeconds: 3600,
      });
      assert.ok(res.ok);
      const a = res.access;
      await store.claimNonceAndGetAccessToken(
        { consumerKey: 'app-a', timestamp: '1', nonce: 'n', token: a.token },
        600,
        'link-a',
      );
      await store.claimNonce({ consumerKey: 'app-a', timestamp: '1', nonce: 'n', token: pending.token }, 600);
      // A revoked token's tombstone keeps no secret at all, not even encrypted.
      const revoked = await issue(store, 'Bob');
      const liveRecord = await (await adminClient()).hgetall(`${prefix}at:{${revoked.handle}}`);
      assert.ok(liveRecord.s && liveRecord.sh && liveRecord.shd, 'a live record holds the encrypted secrets');
      assert.ok(await store.revokeAccessToken(revoked.handle, { user: 'bob' }));

      const everything = await dump(prefix);
      const tombstone = everything[`${prefix}at:{${revoked.handle}}`] as Record<string, string>;
      assert.deepEqual(Object.keys(tombstone).sort(), ['aea', 'ca', 'ck', 'd', 'ea', 'ku', 'lk', 'rv', 'u', 'ul']);
      assert.equal(tombstone.d, tokenDigest(revoked.token));
      // Dead by the rules of a reader that knows no tombstones (an older replica mid-rollout).
      assert.ok(tombstone.rv && tombstone.ea === tombstone.rv && tombstone.aea === tombstone.rv);
      for (const value of Object.values(tombstone)) {
        assert.ok(!value.includes(liveRecord.s) && !value.includes(liveRecord.sh) && !value.includes(liveRecord.shd));
      }
      const text = JSON.stringify(everything);
      const secrets = {
        'pending token': pending.token,
        'pending secret': pending.secret,
        'request token': rt.token,
        'request secret': rt.secret,
        verifier: approved.token.verifier,
        'access token': a.token,
        'access secret': a.secret,
        'session handle': a.sessionHandle,
        'revoked token': revoked.token,
        'revoked secret': revoked.secret,
        'revoked session handle': revoked.sessionHandle,
      };
      for (const [what, value] of Object.entries(secrets)) {
        assert.ok(!text.includes(value), `${what} appears in the dump`);
        const secretPart = value.split('.').pop() ?? value;
        assert.ok(!text.includes(secretPart), `the secret part of the ${what} appears in the dump`);
      }
      // The records are there, keyed by handle and holding digests.
      assert.ok(text.includes(tokenDigest(a.token)));
      assert.ok(text.includes(a.handle));
      assert.ok(text.includes('Alice') && text.includes('alice'), 'original spelling and index key');
    } finally {
      await store.close();
      await deletePrefix(prefix);
    }
  });

  it('every key has a TTL, and a grant keeps to one hash tag', async () => {
    const { store, prefix } = await redisStore();
    try {
      const a = await issue(store, 'Alice');
      await store.renewAccessToken(a.token, {
        consumerKey: 'app-a',
        sessionHandle: a.sessionHandle,
        accessTtlSeconds: 3600,
      });
      await store.claimNonceAndGetAccessToken({ consumerKey: 'app-a', timestamp: '1', nonce: 'n', token: a.token }, 600, 'link-a');
      await store.claimNonce({ consumerKey: 'app-a', timestamp: '1', nonce: 'n', token: '' }, 600);
      await store.createRequestToken({ linkId: 'l', consumerKey: 'c', callback: null, version: '1.0', ttlSeconds: 600 });
      await store.listAccessTokens({ user: 'alice' });

      const r = await adminClient();
      const keys = await r.keys(`${prefix}*`);
      assert.ok(keys.length >= 7, `keys: ${keys.join(' ')}`);
      for (const key of keys) {
        const ttl = await r.pttl(key);
        assert.ok(ttl > 0, `${key} has no TTL (${ttl})`);
      }
      const tag = `{${a.handle}}`;
      const grantKeys = keys.filter((k) => k.includes(tag));
      assert.deepEqual(
        grantKeys.map((k) => k.slice(prefix.length).split(':')[0]).sort(),
        ['at', 'n', 'rt'],
        'request token, access token and the token-signed nonce share the grant tag',
      );
      const atTtl = await r.pttl(`${prefix}at:{${a.handle}}`);
      assert.ok(atTtl > 3_500_000 && atTtl <= 3_600_000, `access token TTL ${atTtl}`);
      const rtTtl = await r.pttl(`${prefix}rt:{${a.handle}}`);
      assert.ok(rtTtl > 1_100_000 && rtTtl <= 1_200_000, `used request token kept for its TTL and as long again (${rtTtl})`);
      // Tombstones: until the authorization would have ended, at most 30 days.
      const long = await store.createRequestToken({ linkId: 'l', consumerKey: 'c', callback: 'oob', version: '1.0a', ttlSeconds: 600 });
      const ok = await store.approveRequestToken(long.token, 'alice');
      assert.ok(ok.ok);
      const x = await store.exchangeRequestToken(long.token, { consumerKey: 'c', verifier: ok.token.verifier, accessTtlSeconds: 3600, authorizationTtlSeconds: 365 * 86_400 });
      assert.ok(x.ok);
      await store.revokeAccessTokens({ user: 'alice' });
      const shortTomb = await r.pttl(`${prefix}at:{${a.handle}}`);
      assert.ok(shortTomb > 3_500_000 && shortTomb <= 3_600_000, `tombstone until the authorization ends (${shortTomb})`);
      const longTomb = await r.pttl(`${prefix}at:{${x.access.handle}}`);
      assert.ok(longTomb > TOMBSTONE_MAX_MS - 100_000 && longTomb <= TOMBSTONE_MAX_MS, `tombstone capped at 30 days (${longTomb})`);
      const stats = await r.info('commandstats');
      assert.match(stats, /cmdstat_evalsha:calls=\d+/, 'scripts run by EVALSHA');
    } finally {
      await store.close();
      await deletePrefix(prefix);
    }
  });

  it('a request token outlives its TTL by a grace period, then Redis drops it (real time, no moved clock)', async () => {
    const { store, prefix } = await redisStore({ now: Date.now });
    try {
      const created = Date.now();
      const rt = await store.createRequestToken({
        linkId: 'l',
        consumerKey: 'c',
        callback: 'oob',
        version: '1.0a',
        ttlSeconds: 1,
      });
      const r = await adminClient();
      const key = `${prefix}rt:{${rt.handle}}`;
      const ttl = await r.pttl(key);
      assert.ok(ttl > 1000 && ttl <= 2000, `TTL ${ttl}: its own second and as long again`);
      await new Promise((res) => setTimeout(res, 1150));
      // Past its TTL on every clock, and still there to say so.
      assert.equal(await r.exists(key), 1);
      assert.equal(await store.getRequestToken(rt.token), null);
      assert.equal((await store.inspectToken(rt.token))?.state, 'expired');
      assert.deepEqual(await store.approveRequestToken(rt.token, 'alice'), { ok: false, reason: 'expired' });
      assert.deepEqual(await store.exchangeRequestToken(rt.token, { consumerKey: 'c', verifier: 'v', accessTtlSeconds: 60 }), {
        ok: false,
        reason: 'expired',
      });
      // Redis drops it at the end of the grace period.
      while ((await r.exists(key)) === 1) {
        assert.ok(Date.now() - created < 3000, 'dropped after about 2 s');
        await new Promise((res) => setTimeout(res, 50));
      }
      assert.ok(Date.now() - created >= 1900, `dropped at ${Date.now() - created} ms, not before its grace period ended`);
      assert.equal(await store.inspectToken(rt.token), null);
    } finally {
      await store.close();
      await deletePrefix(prefix);
    }
  });

  it('key rotation: [new, old] reads what [old] wrote; [new] alone refuses it loudly', async () => {
    const oldKey = newKey();
    const nextKey = newKey();
    const prefix = testKeyPrefix();
    const url = await testRedisUrl();
    const before = createRedisStore({ url, keyPrefix: prefix, encryptionKeys: [oldKey], ...TEST_REDIS_TIMINGS });
    const rotated = createRedisStore({ url, keyPrefix: prefix, encryptionKeys: [nextKey, oldKey], ...TEST_REDIS_TIMINGS });
    const newOnly = createRedisStore({ url, keyPrefix: prefix, encryptionKeys: [nextKey], ...TEST_REDIS_TIMINGS });
    try {
      const a = await issue(before);
      const pending = await before.createRequestToken({
        linkId: 'l',
        consumerKey: 'c',
        callback: 'oob',
        version: '1.0a',
        ttlSeconds: 600,
      });
      assert.deepEqual(await rotated.getAccessToken(a.token), a);
      assert.equal((await rotated.getRequestToken(pending.token))?.secret, pending.secret);
      const renewed = await rotated.renewAccessToken(a.token, {
        consumerKey: 'app-a',
        sessionHandle: a.sessionHandle,
        accessTtlSeconds: 3600,
      });
      assert.ok(renewed.ok);
      assert.equal(renewed.access.secret, a.secret);

      const b = await issue(rotated);
      const record = await (await adminClient()).hgetall(`${prefix}at:{${b.handle}}`);
      assert.ok(record.s?.startsWith(`v1.${nextKey.id}.`), 'new tokens are encrypted under the first key');
      assert.deepEqual(await newOnly.getAccessToken(b.token), b);
      await assert.rejects(newOnly.getAccessToken(a.token), /not in the keyring/);
    } finally {
      await Promise.all([before.close(), rotated.close(), newOnly.close()]);
      await deletePrefix(prefix);
    }
  });

  it('a tampered or transplanted ciphertext fails authentication', async () => {
    const { store, prefix } = await redisStore();
    try {
      const a = await issue(store);
      const b = await issue(store);
      const r = await adminClient();
      const bRecord = await r.hgetall(`${prefix}at:{${b.handle}}`);
      assert.ok(bRecord.s);
      // b's encrypted secret moved into a's record: bound to b's handle, so refused.
      await r.hset(`${prefix}at:{${a.handle}}`, 's', bRecord.s);
      await assert.rejects(store.getAccessToken(a.token), /failed authentication/);
      const flipped = bRecord.s.slice(0, -2) + (bRecord.s.endsWith('AA') ? 'BB' : 'AA');
      await r.hset(`${prefix}at:{${b.handle}}`, 's', flipped);
      await assert.rejects(store.getAccessToken(b.token), /failed authentication/);
    } finally {
      await store.close();
      await deletePrefix(prefix);
    }
  });

  it('createStore picks Redis when given, and validates the prefix', async () => {
    const url = await testRedisUrl();
    const prefix = testKeyPrefix();
    const store = createStore({ redis: { url, keyPrefix: prefix, encryptionKeys: [newKey()], ...TEST_REDIS_TIMINGS } });
    try {
      const a = await issue(store);
      assert.equal(await (await adminClient()).exists(`${prefix}at:{${a.handle}}`), 1);
    } finally {
      await store.close();
      await deletePrefix(prefix);
    }
    assert.throws(() => createRedisStore({ url, keyPrefix: 'a{b}:', encryptionKeys: [newKey()], ...TEST_REDIS_TIMINGS }), /hash tags/);
    assert.throws(() => createRedisStore({ url, keyPrefix: 'a:', encryptionKeys: [], ...TEST_REDIS_TIMINGS }), /encryption key/);
  });
});

describe('redis store: imported (Jira-issued) access tokens', () => {
  it('one round trip on the hot path, and nothing usable at rest', async () => {
    const { store, prefix } = await redisStore();
    const r = await adminClient();
    const monitor = await r.monitor();
    try {
      const token = randomBytes(24).toString('base64').replace(/[^A-Za-z0-9]/g, 'q').slice(0, 32);
      const secret = 'S'.repeat(16) + 'secretpart123456';
      const sessionHandle = 'H'.repeat(16) + 'sessionpart12345';
      const t = Date.now();
      const imported = await store.importAccessToken({ token, secret, sessionHandle, linkId: 'link-a', consumerKey: 'app-a', user: 'alice', createdAt: t, expiresAt: t + 3_600_000, authorizationExpiresAt: t + 7_200_000 });
      assert.equal(imported.result, 'imported');
      const seen: string[][] = [];
      // Commands a script runs inside Redis are reported with source "lua": not round trips.
      const onMonitor = (_time: string, args: string[], source: string) => {
        if (source !== 'lua' && args.some((a) => a.startsWith(prefix))) seen.push(args);
      };
      monitor.on('monitor', onMonitor);
      await new Promise((res) => setTimeout(res, 50));
      seen.length = 0;
      const got = await store.claimNonceAndGetAccessToken({ consumerKey: 'app-a', timestamp: '1', nonce: 'hot', token }, 60, 'link-a');
      await new Promise((res) => setTimeout(res, 100));
      monitor.off('monitor', onMonitor);
      assert.equal(got.access?.user, 'alice');
      assert.equal(seen.length, 1, `one command: ${JSON.stringify(seen)}`);
      assert.match(String(seen[0]?.[0]).toLowerCase(), /^eval(sha)?$/);
      const text = JSON.stringify(await dump(prefix));
      for (const value of [token, secret, sessionHandle]) assert.ok(!text.includes(value), 'no token value, secret or session handle at rest');
      assert.ok(text.includes(tokenDigest(token)));
      assert.ok(text.includes(`at:{${imported.handle}}`));
    } finally {
      monitor.disconnect();
      await store.close();
      await deletePrefix(prefix);
    }
  });
});

describe('redis store: when Redis goes away', () => {
  const BOUND_MS = 2500;
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'applink-redis-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Every store method, each expected to reject with StoreUnavailableError. */
  function everyMethod(store: TokenStore, a: AccessToken): Array<[string, () => Promise<unknown>]> {
    const nonce = { consumerKey: 'app-a', timestamp: '9', nonce: 'outage', token: a.token };
    return [
      ['createRequestToken', () => store.createRequestToken({ linkId: 'l', consumerKey: 'c', callback: 'oob', version: '1.0a', ttlSeconds: 60 })],
      ['getRequestToken', () => store.getRequestToken(a.token)],
      ['approveRequestToken', () => store.approveRequestToken(a.token, 'alice')],
      ['denyRequestToken', () => store.denyRequestToken(a.token, 'alice')],
      ['exchangeRequestToken', () => store.exchangeRequestToken(a.token, { consumerKey: 'app-a', verifier: 'v', accessTtlSeconds: 60 })],
      ['inspectToken', () => store.inspectToken(a.token)],
      ['getAccessToken', () => store.getAccessToken(a.token)],
      ['renewAccessToken', () => store.renewAccessToken(a.token, { consumerKey: 'app-a', sessionHandle: a.sessionHandle, accessTtlSeconds: 60 })],
      ['revokeAccessToken', () => store.revokeAccessToken(a.handle, { user: 'alice' })],
      ['revokeAccessTokens', () => store.revokeAccessTokens({ user: 'alice' })],
      ['listAccessTokens', () => store.listAccessTokens({ user: 'alice' })],
      ['claimNonce', () => store.claimNonce(nonce, 60)],
      ['claimNonceAndGetAccessToken', () => store.claimNonceAndGetAccessToken(nonce, 60, 'link-a')],
      ['ping', () => store.ping()],
    ];
  }

  async function expectUnavailable(name: string, call: () => Promise<unknown>): Promise<void> {
    const started = Date.now();
    await assert.rejects(call(), (err: unknown) => {
      assert.ok(err instanceof StoreUnavailableError, `${name}: ${String(err)}`);
      assert.equal(err.status, 503);
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took < BOUND_MS, `${name} took ${took} ms`);
  }

  async function waitHealthy(store: TokenStore, ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!store.isHealthy()) {
      if (Date.now() > until) assert.fail('store did not become healthy again');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('rejects within 2.5 s while Redis is down, recovers when it is back, tokens kept', async () => {
    let server = await startRedis({ dataDir });
    const errors: Error[] = [];
    const store = createRedisStore({
      url: server.url,
      keyPrefix: testKeyPrefix(),
      encryptionKeys: [newKey()],
      onError: (err) => errors.push(err),
      ...TEST_REDIS_TIMINGS,
    });
    try {
      const a = await issue(store);
      assert.equal(store.isHealthy(), true);

      await server.stop();
      // All at once, right after the loss (some calls meet the closing connection)...
      const started = Date.now();
      await Promise.all(everyMethod(store, a).map(([name, call]) => expectUnavailable(name, call)));
      assert.ok(Date.now() - started < BOUND_MS);
      assert.equal(store.isHealthy(), false);
      // ... and each one again, later in the outage.
      await new Promise((r) => setTimeout(r, 500));
      for (const [name, call] of everyMethod(store, a)) await expectUnavailable(name, call);
      assert.equal(store.isHealthy(), false);
      assert.ok(errors.length > 0, 'connection errors reported through onError');

      server = await startRedis({ port: server.port, dataDir });
      await waitHealthy(store, 6000);
      await store.ping();
      assert.deepEqual(await store.getAccessToken(a.token), a, 'token survived the restart');
      const b = await issue(store);
      assert.ok(await store.getAccessToken(b.token));
    } finally {
      await store.close();
      await server.stop();
    }
  });

  it('a hung Redis (SIGSTOP) answers 503 within 2.5 s, not never', async () => {
    const server = await startRedis();
    const store = createRedisStore({ url: server.url, keyPrefix: testKeyPrefix(), encryptionKeys: [newKey()], ...TEST_REDIS_TIMINGS });
    try {
      const a = await issue(store);
      process.kill(server.pid, 'SIGSTOP');
      try {
        await expectUnavailable('getAccessToken', () => store.getAccessToken(a.token));
        await expectUnavailable('claimNonceAndGetAccessToken', () =>
          store.claimNonceAndGetAccessToken({ consumerKey: 'app-a', timestamp: '1', nonce: 'hung', token: a.token }, 60, 'link-a'),
        );
        assert.equal(store.isHealthy(), false);
      } finally {
        process.kill(server.pid, 'SIGCONT');
      }
      await store.ping();
      assert.equal(store.isHealthy(), true);
      assert.deepEqual(await store.getAccessToken(a.token), a);
    } finally {
      await store.close();
      await server.stop();
    }
  });

  it('no Redis at start: rejects within 2.5 s and reports unhealthy', async () => {
    const server = await startRedis();
    const port = server.port;
    await server.stop();
    const store = createRedisStore({ url: `redis://127.0.0.1:${port}`, keyPrefix: testKeyPrefix(), encryptionKeys: [newKey()], ...TEST_REDIS_TIMINGS });
    try {
      await expectUnavailable('ping', () => store.ping());
      await expectUnavailable('getAccessToken', () => store.getAccessToken('x'.repeat(16) + '.' + 'y'.repeat(32)));
      assert.equal(store.isHealthy(), false);
    } finally {
      await store.close();
    }
  });

  it('close() quits cleanly and later calls are refused', async () => {
    const { store } = await redisStore();
    await store.ping();
    await store.close();
    assert.equal(store.isHealthy(), false);
    await assert.rejects(store.ping(), StoreUnavailableError);
    await store.close();
  });
});
