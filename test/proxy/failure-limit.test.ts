// Brute force and resource exhaustion: repeated verification failures (bad signatures, unknown
// tokens, wrong verifiers) are limited per source address and per (consumer key, source), never
// per consumer key alone; past a limit → 429 consumer_key_refused with Retry-After. Real Redis;
// sources are loopback addresses of their own (127.0.0.x) or X-Forwarded-For from a trusted proxy.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Redis } from 'ioredis';
import { startRedis, type EphemeralRedis } from '../helpers/redis.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { problemOf, signWithGatewaySigner, type Sent } from '../helpers/clients.js';
import { type LinkKind } from '../helpers/fixtures.js';

const TARGET = '/rest/api/2/myself';
const TRUSTED_PROXY = '127.0.0.1';
const LIMIT = {
  server: { trustedProxies: [TRUSTED_PROXY] },
  security: {
    failureLimit: {
      enabled: true,
      perSource: { points: 8, durationSeconds: 60, blockSeconds: 30 },
      perConsumerSource: { points: 4, durationSeconds: 60, blockSeconds: 20 },
    },
  },
};

/** One request from `localAddress` (a loopback address of its own: another peer). */
function sendFrom(baseUrl: string, o: { localAddress?: string; target: string; method?: string; headers: Record<string, string> }): Promise<Sent> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, method: o.method ?? 'GET', path: o.target, headers: o.headers, agent: false, localAddress: o.localAddress ?? '127.0.0.1' },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body, text: body.toString('utf8'), appb: () => JSON.parse(body.toString('utf8')) });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Where a request comes from: a peer address, or a client address told by the trusted proxy. */
type From = { peer: string } | { forwardedFor: string; peer?: string };

function fromHeaders(from: From): { localAddress: string; headers: Record<string, string> } {
  if ('forwardedFor' in from) return { localAddress: from.peer ?? TRUSTED_PROXY, headers: { 'x-forwarded-for': from.forwardedFor } };
  return { localAddress: from.peer, headers: {} };
}

function garble(authorization: string): string {
  return authorization.replace(/oauth_signature="[^"]*"/, 'oauth_signature="Z2FyYmFnZQ%3D%3D"');
}

async function badSignature(h: Harness, from: From, link: LinkKind = 'rsa'): Promise<Sent> {
  const authorization = garble(await signWithGatewaySigner({ link, method: 'GET', target: TARGET }));
  const f = fromHeaders(from);
  return sendFrom(h.url, { localAddress: f.localAddress, target: TARGET, headers: { ...f.headers, authorization } });
}

async function unknownConsumer(h: Harness, from: From): Promise<Sent> {
  const authorization = (await signWithGatewaySigner({ link: 'hmac', method: 'GET', target: TARGET })).replace('oauth_consumer_key="app-h"', 'oauth_consumer_key="nobody"');
  const f = fromHeaders(from);
  return sendFrom(h.url, { localAddress: f.localAddress, target: TARGET, headers: { ...f.headers, authorization } });
}

async function valid(h: Harness, from: From, link: LinkKind = 'rsa', user = 'alice'): Promise<Sent> {
  const token = await h.accessToken(link, user);
  const authorization = await signWithGatewaySigner({ link, method: 'GET', target: TARGET, token });
  const f = fromHeaders(from);
  return sendFrom(h.url, { localAddress: f.localAddress, target: TARGET, headers: { ...f.headers, authorization } });
}

function assertRefused(r: Sent, problem: string): void {
  assert.equal(problemOf(r).oauth_problem, problem, `${r.status} ${r.text}`);
}

function assertLimited(r: Sent, maxSeconds: number): void {
  assert.equal(r.status, 429, r.text);
  assert.equal(problemOf(r).oauth_problem, 'consumer_key_refused');
  assert.match(r.headers['www-authenticate'] ?? '', /^OAuth realm="http%3A%2F%2Fgateway.test", oauth_problem="consumer_key_refused"/);
  const retryAfter = Number(r.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= maxSeconds, `Retry-After ${r.headers['retry-after']}`);
}

async function metric(h: Harness, scope: string): Promise<number> {
  const text = await (await fetch(`${h.adminUrl}/metrics`)).text();
  const m = new RegExp(`^applink_failure_limit_refusals_total\\{scope="${scope}"\\} (\\d+)`, 'm').exec(text);
  return Number(m?.[1] ?? 0);
}

describe('failure limit with Redis: brute force is damped per source and per (consumer, source)', () => {
  let redis: EphemeralRedis;
  let admin: Redis;
  let h: Harness;
  before(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    try {
      h = await startHarness({ identity: 'oauth1-rsa', redisUrl: redis.url, patch: LIMIT });
      // Failures are not counted while the store's connection is not up yet (the limiter fails open).
      await h.running.gw.store.ping();
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

  it('bad signatures from one source: 429 with Retry-After after the limit; valid requests of that consumer too', async () => {
    const attacker = { forwardedFor: '198.51.100.1' };
    for (let i = 0; i < 4; i++) assertRefused(await badSignature(h, attacker), 'signature_invalid');
    assertLimited(await badSignature(h, attacker), 20);
    const appbBefore = h.appb.requests.length;
    assertLimited(await valid(h, attacker), 20);
    assert.equal(h.appb.requests.length, appbBefore, 'a blocked request does no work');
    // The block is per (consumer, source): another link from that address still works.
    assert.equal((await valid(h, attacker, 'hmac')).status, 200);
    assert.ok((await metric(h, 'consumer_source')) >= 2);
    // The counters live in Redis under the store's prefix (keys of the limiter, not per request).
    const prefix = h.cfg.config.store.redis?.keyPrefix ?? '';
    const [, keys] = await admin.scan('0', 'MATCH', `${prefix}fl:*`, 'COUNT', 10_000);
    assert.ok(keys.some((k) => k.endsWith('app-a|198.51.100.1')), keys.join(' '));
  });

  it('a different source is unaffected', async () => {
    assert.equal((await valid(h, { forwardedFor: '198.51.100.2' })).status, 200);
  });

  it('a valid request after failures below the limit works', async () => {
    const from = { forwardedFor: '198.51.100.3' };
    for (let i = 0; i < 3; i++) assertRefused(await badSignature(h, from), 'signature_invalid');
    assert.equal((await valid(h, from)).status, 200);
  });

  it('an attacker rotating sources against one consumer cannot lock out the legitimate source', async () => {
    for (let s = 0; s < 30; s++) {
      for (let i = 0; i < 3; i++) assertRefused(await badSignature(h, { forwardedFor: `203.0.113.${s + 1}` }), 'signature_invalid');
    }
    // 90 failures of app-a in all: the legitimate AppA at its own address is not touched.
    assert.equal((await valid(h, { peer: '127.0.0.5' })).status, 200);
    assert.equal((await valid(h, { forwardedFor: '198.51.100.4' })).status, 200);
  });

  it('failures of any consumer (unknown ones included) add up per source; past that every OAuth request from it is refused', async () => {
    const from = { forwardedFor: '198.51.100.5' };
    const kinds = [() => badSignature(h, from, 'rsa'), () => badSignature(h, from, 'hmac'), () => unknownConsumer(h, from)];
    for (let i = 0; i < 8; i++) assert.equal((await kinds[i % 3]!()).status, 401);
    assertLimited(await unknownConsumer(h, from), 30);
    assertLimited(await valid(h, from, 'hmac'), 30);
    assert.ok((await metric(h, 'source')) >= 2);
  });

  it('X-Forwarded-For is believed only from server.trustedProxies', async () => {
    // An untrusted peer rotating X-Forwarded-For values is counted as itself.
    const peer = '127.0.0.7';
    for (let i = 0; i < 4; i++) assertRefused(await badSignature(h, { peer, forwardedFor: `192.0.2.${i + 1}` }), 'signature_invalid');
    assertLimited(await badSignature(h, { peer, forwardedFor: '192.0.2.200' }), 20);
    assertLimited(await valid(h, { peer }), 20);
    // The trusted proxy speaking for that address: the same source, blocked.
    assertLimited(await valid(h, { forwardedFor: peer }), 20);
    // The trusted proxy speaking for another client, and another peer: unaffected.
    assert.equal((await valid(h, { forwardedFor: '192.0.2.1' })).status, 200);
    assert.equal((await valid(h, { peer: '127.0.0.8' })).status, 200);
  });

  it('wrong verifiers at access-token count too', async () => {
    const store = h.running.gw.store;
    const from = { forwardedFor: '198.51.100.6' };
    const target = '/plugins/servlet/oauth/access-token';
    const attempt = async () => {
      const rt = await store.createRequestToken({ linkId: h.cfg.linksByConsumerKey.get('app-a')!.id, consumerKey: 'app-a', callback: 'oob', version: '1.0a', ttlSeconds: 600 });
      assert.ok((await store.approveRequestToken(rt.token, 'alice')).ok);
      const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'POST', target, token: { token: rt.token, secret: rt.secret }, extraOAuth: { oauth_verifier: 'guessed' } });
      const f = fromHeaders(from);
      return sendFrom(h.url, { localAddress: f.localAddress, method: 'POST', target, headers: { ...f.headers, authorization } });
    };
    for (let i = 0; i < 4; i++) assertRefused(await attempt(), 'token_rejected');
    assertLimited(await attempt(), 20);
  });

  it('the success path issues exactly the same Redis commands with the limit on as with it off (INFO commandstats)', async () => {
    const off = await startHarness({ identity: 'oauth1-rsa', redisUrl: redis.url, patch: { ...LIMIT, security: { failureLimit: { enabled: false } } } });
    try {
      const commands = async (gw: Harness): Promise<Record<string, number>> => {
        // Warm: the client's first call of a script on a new connection is an EVAL.
        assert.equal((await valid(gw, { peer: '127.0.0.1' })).status, 200);
        const tokens = await Promise.all(Array.from({ length: 5 }, (_, i) => gw.accessToken('rsa', `user${i}`)));
        const signed = await Promise.all(tokens.map((token) => signWithGatewaySigner({ link: 'rsa', method: 'GET', target: TARGET, token })));
        await admin.config('RESETSTAT');
        for (const authorization of signed) assert.equal((await sendFrom(gw.url, { target: TARGET, headers: { authorization } })).status, 200);
        const stats = await admin.info('commandstats');
        const calls: Record<string, number> = {};
        for (const [, name, n] of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!/^(info|config)\b/.test(name as string)) calls[name as string] = Number(n);
        return calls;
      };
      // The limiter on this gateway has counted failures before (earlier tests): it is live.
      const withLimit = await commands(h);
      const withoutLimit = await commands(off);
      assert.deepEqual(withLimit, withoutLimit);
      // One script call per request (and the commands it runs: the token's HMGET and the nonce SET).
      assert.deepEqual(withLimit, { evalsha: 5, set: 5, hmget: 5 });
    } finally {
      await off.close();
    }
  });
});

describe('failure limit while Redis is down: failures are answered as before, never 500, never a hang', () => {
  let redis: EphemeralRedis;
  let h: Harness;
  before(async () => {
    redis = await startRedis();
    try {
      h = await startHarness({ identity: 'oauth1-rsa', redisUrl: redis.url, patch: LIMIT });
    } catch (err) {
      await redis.stop();
      throw err;
    }
  });
  after(async () => {
    await h?.close();
  });

  it('bad signatures with the store stopped still get signature_invalid', async () => {
    await redis.stop();
    for (let i = 0; i < 6; i++) {
      const started = Date.now();
      const r = await badSignature(h, { forwardedFor: '198.51.100.9' });
      assertRefused(r, 'signature_invalid');
      assert.ok(Date.now() - started < 5000, 'answered without waiting on the store');
    }
  });
});

describe('failure limit with the memory store', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'oauth1-rsa', store: 'memory', patch: LIMIT });
  });
  after(() => h?.close());

  it('limits one source, not another', async () => {
    const attacker = { forwardedFor: '198.51.100.10' };
    for (let i = 0; i < 4; i++) assertRefused(await badSignature(h, attacker), 'signature_invalid');
    assertLimited(await badSignature(h, attacker), 20);
    assertLimited(await valid(h, attacker), 20);
    assert.equal((await valid(h, { forwardedFor: '198.51.100.11' })).status, 200);
    assert.equal((await valid(h, { peer: '127.0.0.9' })).status, 200);
  });
});
