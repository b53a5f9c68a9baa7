// Every refusal of the proxy is a test: a bad request never reaches AppB, and gets its OAuth
// problem (DESIGN.md section 3). Also AppB's own failures: down (502), slow (504), refusing the
// gateway's signature (502, counted), and the token store down (503).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { signRequest } from '../../src/oauth1/index.js';
import { startGateway, type RunningGateway } from '../../src/server/serve.js';
import { createLogger } from '../../src/ops/logger.js';
import { startRedis } from '../helpers/redis.js';
import { LINK_ID, PUBLIC_BASE } from '../helpers/fixtures.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { problemOf, send, signWithGatewaySigner, type Sent } from '../helpers/clients.js';

function assertProblem(r: Sent, status: number, problem: string): void {
  assert.equal(r.status, status, r.text);
  assert.equal(problemOf(r).oauth_problem, problem, r.text);
  assert.match(r.headers['www-authenticate'] ?? '', new RegExp(`^OAuth realm="http%3A%2F%2Fgateway.test", oauth_problem="${problem}"`));
}

describe('refused signed requests never reach AppB (Redis store)', () => {
  let h: Harness;
  // The store's clock, ahead of real time by this much.
  let clock = 0;
  const setClock = (ms: number) => {
    h.advance(ms - clock);
    clock = ms;
  };
  before(async () => {
    h = await startHarness({ identity: 'oauth1-rsa', movableClock: true });
  });
  after(() => h?.close());

  /** Sends and checks that AppB received nothing. */
  async function refused(target: string, authorization: string, status: number, problem: string): Promise<Sent> {
    const before = h.appb.requests.length;
    const r = await send(h.url, { target, headers: { authorization } });
    assertProblem(r, status, problem);
    assert.equal(h.appb.requests.length, before, 'AppB received nothing');
    return r;
  }

  it('a replayed request (same nonce) → nonce_used', async () => {
    const token = await h.accessToken('rsa', 'alice');
    const target = '/rest/api/2/myself';
    const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token });
    assert.equal((await send(h.url, { target, headers: { authorization } })).status, 200);
    await refused(target, authorization, 401, 'nonce_used');
  });

  it('a replay at another replica sharing the Redis store → nonce_used; a revocation there holds here', async () => {
    const replica: RunningGateway = await startGateway({ cfg: h.cfg, log: createLogger({ level: 'silent' }), defaultMetrics: false });
    try {
      const token = await h.accessToken('rsa', 'alice');
      const target = '/rest/api/2/myself?replica=1';
      const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token });
      assert.equal((await send(h.url, { target, headers: { authorization } })).status, 200);
      assertProblem(await send(replica.publicUrl, { target, headers: { authorization } }), 401, 'nonce_used');
      assert.ok(await replica.gw.store.revokeAccessToken(token.handle));
      await refused(target, await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }), 401, 'token_revoked');
    } finally {
      await replica.close();
    }
  });

  it("another link's token → token_rejected", async () => {
    const token = await h.accessToken('hmac', 'alice');
    const target = '/rest/api/2/myself';
    const r = await refused(target, await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }), 401, 'token_rejected');
    assert.equal(problemOf(r).oauth_problem, 'token_rejected');
  });

  it('a request token used at a resource → token_rejected', async () => {
    const rt = await h.running.gw.store.createRequestToken({ linkId: '0f9a3c1e-5b7d-4c1a-9e2f-3a4b5c6d7e8f', consumerKey: 'app-a', callback: 'oob', version: '1.0a', ttlSeconds: 600 });
    await h.running.gw.store.approveRequestToken(rt.token, 'alice');
    const target = '/rest/api/2/myself';
    await refused(target, await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token: { token: rt.token, secret: rt.secret } }), 401, 'token_rejected');
  });

  it('a revoked token → token_revoked, on its very next request (HMAC-SHA1 too: its secret is gone)', async () => {
    const token = await h.accessToken('rsa', 'alice');
    const hmacToken = await h.accessToken('hmac', 'alice');
    const target = '/rest/api/2/myself';
    assert.equal((await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }) } })).status, 200);
    assert.ok(await h.running.gw.store.revokeAccessToken(token.handle));
    assert.ok(await h.running.gw.store.revokeAccessToken(hmacToken.handle));
    await refused(target, await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }), 401, 'token_revoked');
    await refused(target, await signWithGatewaySigner({ link: 'hmac', method: 'GET', target, token: hmacToken }), 401, 'token_revoked');
    // Revoked for another link is still another link's token.
    await refused(target, await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token: hmacToken }), 401, 'token_rejected');
    // A forged value with the revoked token's (non-secret) handle learns nothing.
    const forged = { ...token, token: `${token.handle}.${'A'.repeat(32)}` };
    await refused(target, await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token: forged }), 401, 'token_rejected');
  });

  it('an expired (still renewable) token → token_expired, so AppA renews it; past its authorization → token_rejected', async () => {
    // Lives 3600 s, renewable for 7200 s (h.accessToken's tokens are renewable only as long as they live).
    const store = h.running.gw.store;
    const rt = await store.createRequestToken({ linkId: LINK_ID, consumerKey: 'app-a', callback: 'oob', version: '1.0a', ttlSeconds: 600 });
    const approved = await store.approveRequestToken(rt.token, 'alice');
    assert.ok(approved.ok);
    const issued = await store.exchangeRequestToken(rt.token, { consumerKey: 'app-a', verifier: approved.token.verifier, accessTtlSeconds: 3600, authorizationTtlSeconds: 7200 });
    assert.ok(issued.ok);
    const token = { token: issued.access.token, secret: issued.access.secret };
    const target = '/rest/api/2/myself';
    try {
      setClock(3601_000);
      await refused(target, await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }), 401, 'token_expired');
      // Neither usable nor renewable: gone, as Redis drops it then (its key's TTL) on real time.
      setClock(7201_000);
      await refused(target, await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }), 401, 'token_rejected');
    } finally {
      setClock(0);
    }
  });

  it('an unknown token → token_rejected', async () => {
    const target = '/rest/api/2/myself';
    await refused(target, await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token: { token: 'AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', secret: 'x' } }), 401, 'token_rejected');
  });

  it('an old timestamp → timestamp_refused (400) with the acceptable range', async () => {
    const token = await h.accessToken('rsa', 'alice');
    const target = '/rest/api/2/myself';
    const r = await refused(target, await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token, timestamp: Math.floor(Date.now() / 1000) - 3600 }), 400, 'timestamp_refused');
    assert.match(problemOf(r).oauth_acceptable_timestamps ?? '', /^\d+-\d+$/);
  });

  it('a signature over another URL → signature_invalid', async () => {
    const token = await h.accessToken('rsa', 'alice');
    await refused('/rest/api/2/user?username=admin', await signWithGatewaySigner({ link: 'rsa', method: 'GET', target: '/rest/api/2/myself', token }), 401, 'signature_invalid');
  });

  it('a signature method the link does not allow → signature_method_rejected', async () => {
    const target = '/rest/api/2/myself';
    const signed = await signRequest({ method: 'GET', url: `${PUBLIC_BASE}${target}`, consumerKey: 'app-a', signatureMethod: 'HMAC-SHA1', consumerSecret: 'guess', token: '' });
    await refused(`${target}?xoauth_requestor_id=alice`, signed.authorization, 400, 'signature_method_rejected');
  });

  it('an unknown consumer without pass-through → consumer_key_unknown', async () => {
    const target = '/rest/api/2/myself';
    const signed = await signRequest({ method: 'GET', url: `${PUBLIC_BASE}${target}`, consumerKey: 'appb-own', signatureMethod: 'HMAC-SHA1', consumerSecret: 'own-secret', token: '' });
    await refused(target, signed.authorization, 401, 'consumer_key_unknown');
  });

  it('oauth_version 2.0 → version_rejected', async () => {
    const target = '/rest/api/2/myself';
    const authorization = (await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, emptyToken: true })).replace('oauth_version="1.0"', 'oauth_version="2.0"');
    await refused(target, authorization, 400, 'version_rejected');
  });

  it('OAuth parameters in both the header and the query → parameter_rejected', async () => {
    const target = '/rest/api/2/myself?oauth_nonce=x';
    await refused(target, await signWithGatewaySigner({ link: 'rsa', method: 'GET', target: '/rest/api/2/myself', emptyToken: true }), 400, 'parameter_rejected');
  });
});

describe('what a link allows: 3LO, 2LO, 2LOi with allowUsers / denyUsers (case-insensitive)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      identity: 'header',
      linkPatch: {
        rsa: { twoLegged: { enabled: false, executeAs: null }, impersonation: { enabled: true, allowUsers: ['alice', 'Jörg', 'admin'], denyUsers: ['ADMIN'] } },
        hmac: { threeLegged: false, impersonation: { enabled: false } },
      },
    });
  });
  after(() => h?.close());

  async function twoLOi(link: 'rsa' | 'hmac', user: string): Promise<Sent> {
    const target = `/rest/api/2/myself?xoauth_requestor_id=${encodeURIComponent(user)}`;
    return send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link, method: 'GET', target, emptyToken: true }) } });
  }

  it('a user allowUsers admits, in any case, runs as the name sent', async () => {
    for (const user of ['ALICE', 'jÖRG']) {
      const r = await twoLOi('rsa', user);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.appb().user, user);
    }
  });

  it('a user allowUsers does not list → permission_denied', async () => {
    assertProblem(await twoLOi('rsa', 'bob'), 401, 'permission_denied');
  });

  it('denyUsers wins over allowUsers, case-insensitively → permission_denied', async () => {
    assertProblem(await twoLOi('rsa', 'Admin'), 401, 'permission_denied');
  });

  it('2LOi on a link without impersonation → permission_denied', async () => {
    assertProblem(await twoLOi('hmac', 'alice'), 401, 'permission_denied');
  });

  it('plain 2LO on a link without twoLegged → permission_denied', async () => {
    const target = '/rest/api/2/myself';
    assertProblem(await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target }) } }), 401, 'permission_denied');
  });

  it('a 3LO token of a link without threeLegged → permission_denied', async () => {
    const token = await h.accessToken('hmac', 'alice');
    const target = '/rest/api/2/myself';
    assertProblem(await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'hmac', method: 'GET', target, token }) } }), 401, 'permission_denied');
  });

  it('a requestor with a control character → parameter_rejected (it would become a header)', async () => {
    assertProblem(await twoLOi('rsa', 'alice\r\nX-Forwarded-User: admin'), 400, 'parameter_rejected');
  });
});

describe('upstream.passthroughUnknownConsumers: AppB’s own application links keep working', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      identity: 'oauth1-rsa',
      patch: { upstream: { passthroughUnknownConsumers: true } },
      appbConsumers: { 'appb-own': { hmacSecret: 'own-secret', impersonation: true, executeAs: 'own-svc' } },
    });
  });
  after(() => h?.close());

  async function ownSigned(method: string, target: string, secret = 'own-secret', extraOAuth?: Record<string, string>): Promise<string> {
    return (await signRequest({ method, url: `${PUBLIC_BASE}${target}`, consumerKey: 'appb-own', signatureMethod: 'HMAC-SHA1', consumerSecret: secret, token: '', ...(extraOAuth && { extraOAuth }) })).authorization;
  }

  it('a resource request of an unknown consumer reaches AppB untouched and AppB verifies it', async () => {
    const target = '/rest/api/2/myself?xoauth_requestor_id=erin';
    const authorization = await ownSigned('GET', target);
    const r = await send(h.url, { target, headers: { authorization } });
    assert.equal(r.status, 200, r.text);
    const seen = r.appb();
    assert.equal(seen.user, 'erin');
    assert.equal(seen.auth?.consumerKey, 'appb-own');
    assert.deepEqual(seen.headers.filter(([k]) => k.toLowerCase() === 'authorization').map(([, v]) => v), [authorization]);
    assert.equal(seen.target, target);
  });

  it('a dance call of an unknown consumer reaches AppB untouched', async () => {
    const target = '/plugins/servlet/oauth/request-token';
    const r = await send(h.url, { method: 'POST', target, headers: { authorization: await ownSigned('POST', target, 'own-secret', { oauth_callback: 'oob' }) } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.appb().path, target);
    assert.equal(r.appb().auth?.consumerKey, 'appb-own');
  });

  it("AppB's own refusal of a pass-through request passes through as AppB's 401", async () => {
    const target = '/rest/api/2/myself';
    const r = await send(h.url, { target, headers: { authorization: await ownSigned('GET', target, 'wrong-secret') } });
    assert.equal(r.status, 401);
    assert.match(r.headers['www-authenticate'] ?? '', /oauth_problem="signature_invalid"/);
  });

  it('a configured link is still verified by the gateway', async () => {
    const target = '/rest/api/2/myself';
    const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target: '/elsewhere', emptyToken: true });
    assertProblem(await send(h.url, { target, headers: { authorization } }), 401, 'signature_invalid');
  });
});

describe('AppB failures', () => {
  it('AppB down → 502 with a short explanation, signed or not', async () => {
    const h = await startHarness({ identity: 'oauth1-rsa', store: 'memory', upstreamUrl: 'http://127.0.0.1:1' });
    try {
      const unsigned = await send(h.url, { target: '/x' });
      assert.equal(unsigned.status, 502);
      assert.match(unsigned.text, /AppB could not be reached \(ECONNREFUSED\)/);
      const token = await h.accessToken('rsa', 'alice');
      const signed = await send(h.url, { target: '/x', headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target: '/x', token }) } });
      assert.equal(signed.status, 502);
      const line = h.logs.find((l) => l.msg === 'request' && l.outcome === 'upstream_error');
      assert.ok(line, 'logged as upstream_error');
    } finally {
      await h.close();
    }
  });

  it('AppB slower than upstream.timeoutMs → 504', async () => {
    const h = await startHarness({ identity: 'oauth1-rsa', store: 'memory', patch: { upstream: { timeoutMs: 300 } } });
    try {
      const r = await send(h.url, { target: '/__appb/slow?ms=1500' });
      assert.equal(r.status, 504);
      assert.match(r.text, /AppB did not answer within 300 ms/);
    } finally {
      await h.close();
    }
  });

  it("AppB refusing the gateway's signature → 502 (never AppB's 401, which would make AppA drop a good token), counted", async () => {
    const h = await startHarness({ identity: 'oauth1-rsa', store: 'memory', appbDistrustsGateway: true });
    try {
      const token = await h.accessToken('rsa', 'alice');
      const target = '/rest/api/2/myself';
      const r = await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }) } });
      assert.equal(r.status, 502);
      assert.equal(r.headers['www-authenticate'], undefined);
      assert.match(r.text, /AppB refused the gateway's credentials/);
      assert.equal(h.appb.requests.at(-1)?.refused?.problem, 'signature_invalid', 'AppB did check and refuse it');
      const metrics = await (await fetch(`${h.adminUrl}/metrics`)).text();
      assert.match(metrics, /applink_upstream_oauth_refusals_total\{link="0f9a3c1e-5b7d-4c1a-9e2f-3a4b5c6d7e8f"\} 1/);
    } finally {
      await h.close();
    }
  });

  it('the token store down → 503 for signed requests; unsigned traffic still flows', async () => {
    const redis = await startRedis();
    const h = await startHarness({ identity: 'oauth1-rsa', redisUrl: redis.url });
    try {
      const token = await h.accessToken('rsa', 'alice');
      await redis.stop();
      const target = '/rest/api/2/myself';
      const r = await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }) } });
      assert.equal(r.status, 503, r.text);
      assert.equal((await send(h.url, { target: '/secure/Dashboard.jspa' })).status, 200);
    } finally {
      await h.close();
      await redis.stop();
    }
  });

  it('header mode: a wrong shared secret at AppB is AppB’s plain 401, passed through (no OAuth challenge)', async () => {
    const h = await startHarness({ identity: 'header', store: 'memory', appbDistrustsGateway: true });
    try {
      const token = await h.accessToken('rsa', 'alice');
      const target = '/rest/api/2/myself';
      const r = await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }) } });
      assert.equal(r.status, 401);
      assert.equal(h.appb.requests.at(-1)?.refused?.detail, 'header signature invalid');
    } finally {
      await h.close();
    }
  });
});
