// Attack: anyone with a (public) consumer key floods the gateway with never-issued tokens and
// garbage signatures. Each refusal used to leave a nonce key in Redis for 2 x skew + 1 s, so one
// client could fill Redis until it refused writes or evicted real tokens. A request now makes the
// store keep a nonce only once it has proved something: a live access token of its link (3LO),
// or a verified signature (2LO, RSA-SHA1). Legitimate requests keep their replay protection.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis, type EphemeralRedis } from '../helpers/redis.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { problemOf, send, signWithGatewaySigner } from '../helpers/clients.js';
import { type LinkKind } from '../helpers/fixtures.js';

const TARGET = '/rest/api/2/myself';
const FLOOD = 200;
// The flood is about what the store keeps, not the failure limit: that is tested on its own.
const NO_LIMIT = { security: { failureLimit: { enabled: false } } };

/** A token value of the gateway's shape that was never issued. */
function neverIssued(i: number): { token: string; secret: string } {
  const handle = `flood${String(i).padStart(11, '0')}`;
  return { token: `${handle}.${'x'.repeat(32)}`, secret: 'guessed-secret' };
}

async function signedGet(h: Harness, link: LinkKind, o: { token?: { token: string; secret: string }; nonce?: string; emptyToken?: boolean } = {}) {
  const authorization = await signWithGatewaySigner({ link, method: 'GET', target: TARGET, ...o });
  return { authorization, res: await send(h.url, { target: TARGET, headers: { authorization } }) };
}

/** Flips the signature: a garbage signature of the right shape. */
function garbleSignature(authorization: string): string {
  assert.match(authorization, /oauth_signature="[^"]*"/);
  return authorization.replace(/oauth_signature="[^"]*"/, 'oauth_signature="Z2FyYmFnZQ%3D%3D"');
}

async function flood(h: Harness): Promise<void> {
  for (let i = 0; i < FLOOD; i++) {
    // HMAC-SHA1 with a never-issued token (its signature made with a guessed token secret).
    const hmac = await signedGet(h, 'hmac', { token: neverIssued(i) });
    assert.equal(hmac.res.status, 401, hmac.res.text);
    assert.equal(problemOf(hmac.res).oauth_problem, 'token_rejected');
    // A token value that cannot be the gateway's.
    const odd = await signedGet(h, 'hmac', { token: { token: `not-a-token-${i}`, secret: 's' } });
    assert.equal(problemOf(odd.res).oauth_problem, 'token_rejected');
    // RSA-SHA1 with a never-issued token and a garbage signature.
    const rsa = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target: TARGET, token: neverIssued(FLOOD + i) });
    const garbled = await send(h.url, { target: TARGET, headers: { authorization: garbleSignature(rsa) } });
    assert.equal(problemOf(garbled).oauth_problem, 'signature_invalid');
    // 2LO (HMAC link with twoLegged on) with a garbage signature.
    const twoLo = await signWithGatewaySigner({ link: 'hmac', method: 'GET', target: TARGET, emptyToken: true });
    const bad2lo = await send(h.url, { target: TARGET, headers: { authorization: garbleSignature(twoLo) } });
    assert.equal(problemOf(bad2lo).oauth_problem, 'signature_invalid');
  }
}

async function usedMemory(r: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await r.info('memory'))?.[1] ?? NaN);
}

async function replayIsRefused(h: Harness, link: LinkKind, token?: { token: string; secret: string }): Promise<void> {
  const first = await signedGet(h, link, token ? { token } : { emptyToken: true });
  assert.equal(first.res.status, 200, first.res.text);
  const replay = await send(h.url, { target: TARGET, headers: { authorization: first.authorization } });
  assert.equal(replay.status, 401, replay.text);
  assert.equal(problemOf(replay).oauth_problem, 'nonce_used');
}

describe('nonce flood with never-issued tokens and garbage signatures leaves no key in Redis', () => {
  let redis: EphemeralRedis;
  let admin: Redis;
  let h: Harness;
  before(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    try {
      h = await startHarness({ identity: 'oauth1-rsa', redisUrl: redis.url, patch: NO_LIMIT });
    } catch (err) {
      admin.disconnect();
      await redis.stop();
      throw err;
    }
  });
  after(async () => {
    await h?.close();
    admin.disconnect();
    await redis.stop();
  });

  it('the flood writes no key at all (DBSIZE unchanged, no nonce key under the prefix)', async (t) => {
    const prefix = h.cfg.config.store.redis?.keyPrefix ?? '';
    const keysBefore = await admin.dbsize();
    const memoryBefore = await usedMemory(admin);
    await flood(h);
    t.diagnostic(`flood of ${FLOOD * 4} refused requests: ${(await admin.dbsize()) - keysBefore} keys, ${(await usedMemory(admin)) - memoryBefore} bytes of used_memory`);
    assert.equal(await admin.dbsize(), keysBefore, 'DBSIZE after the flood');
    const [, nonceKeys] = await admin.scan('0', 'MATCH', `${prefix}n:*`, 'COUNT', 100_000);
    assert.deepEqual(nonceKeys, []);
    assert.equal(h.appb.requests.length, 0, 'AppB saw nothing');
  });

  it('legitimate requests still get replay protection: 3LO HMAC-SHA1 and RSA-SHA1, 2LO', async () => {
    const prefix = h.cfg.config.store.redis?.keyPrefix ?? '';
    await replayIsRefused(h, 'hmac', await h.accessToken('hmac', 'alice'));
    await replayIsRefused(h, 'rsa', await h.accessToken('rsa', 'bob'));
    await replayIsRefused(h, 'hmac');
    const [, nonceKeys] = await admin.scan('0', 'MATCH', `${prefix}n:*`, 'COUNT', 100_000);
    assert.equal(nonceKeys.length, 3, 'one nonce per accepted request');
  });
});

describe('nonce flood against the memory store: refused alike, replays still refused', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'oauth1-rsa', store: 'memory', patch: NO_LIMIT });
  });
  after(() => h?.close());

  it('floods are refused and legitimate requests keep replay protection', async () => {
    await flood(h);
    assert.equal(h.appb.requests.length, 0);
    await replayIsRefused(h, 'hmac', await h.accessToken('hmac', 'alice'));
    await replayIsRefused(h, 'rsa', await h.accessToken('rsa', 'bob'));
    await replayIsRefused(h, 'hmac');
  });
});
