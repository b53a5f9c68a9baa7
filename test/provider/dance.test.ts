// The three-legged dance end to end over real sockets, on the Redis store, driven by two OAuth
// implementations nobody here wrote (the `oauth` package and oauth-1.0a): 1.0a, 1.0, oob, deny,
// expiry, reuse, wrong consumer, renewal, revocation, and the refusals' Problem Reporting format.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DANCE, linksOf, startHarness, type Harness } from '../helpers/harness.js';
import { Browser, decide, demoLogin, inputValue, npmConsumer, oauth10aClient, signedPost, type NpmError } from '../helpers/clients.js';
import { LINK_ID, HMAC_LINK_ID } from '../helpers/fixtures.js';

const RT = '/plugins/servlet/oauth/request-token';
const AT = '/plugins/servlet/oauth/access-token';

function verifierFrom(location: string | null): { token: string; verifier: string; url: URL } {
  assert.ok(location, 'expected a redirect');
  const url = new URL(location);
  return { token: url.searchParams.get('oauth_token') ?? '', verifier: url.searchParams.get('oauth_verifier') ?? '', url };
}

async function signedIn(h: Harness, user = 'alice'): Promise<Browser> {
  const b = new Browser(h.url);
  const res = await demoLogin(b, user);
  assert.equal(res.status, 303, res.text);
  return b;
}

function assertProblem(res: { status: number; headers: Headers; form: URLSearchParams }, status: number, problem: string): void {
  assert.equal(res.status, status, `expected ${status} ${problem}, got ${res.status} ${res.form.toString()}`);
  assert.equal(res.form.get('oauth_problem'), problem);
  assert.match(res.headers.get('www-authenticate') ?? '', new RegExp(`^OAuth realm="[^"]+", oauth_problem="${problem}"`));
  assert.match(res.headers.get('content-type') ?? '', /^application\/x-www-form-urlencoded/);
}

async function rejectsWith(p: Promise<unknown>, status: number, problem: string): Promise<void> {
  await assert.rejects(p, (err: NpmError) => {
    assert.equal(err.statusCode, status, String(err.data));
    assert.equal(new URLSearchParams(err.data ?? '').get('oauth_problem'), problem);
    return true;
  });
}

describe('the OAuth 1.0a dance (Redis store)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ ...DANCE, store: 'redis' });
  });
  after(() => h?.close());

  for (const which of ['rsa', 'hmac'] as const) {
    it(`runs with the oauth package, ${which === 'rsa' ? 'RSA-SHA1' : 'HMAC-SHA1'}, and binds the token to the approving user`, async () => {
      const callback = which === 'rsa' ? `${h.appACallback}?applicationLinkID=${LINK_ID}` : h.appHCallback;
      const consumer = npmConsumer(h, which, callback);
      const rt = await consumer.requestToken();
      assert.equal(rt.extra.oauth_callback_confirmed, 'true');
      assert.ok(rt.token && rt.secret);

      const user = which === 'rsa' ? 'alice' : 'bob';
      const browser = await signedIn(h, user);
      const answer = await decide(browser, rt.token);
      assert.equal(answer.status, 302, answer.text);
      const back = verifierFrom(answer.location);
      assert.ok(answer.location?.startsWith(`${callback}${which === 'rsa' ? '&' : '?'}oauth_token=`), answer.location ?? '');
      if (which === 'rsa') assert.equal(back.url.searchParams.get('applicationLinkID'), LINK_ID);
      assert.equal(back.token, rt.token);
      assert.ok(back.verifier.length >= 16);

      const at = await consumer.accessToken(rt.token, rt.secret, back.verifier);
      assert.ok(Number(at.extra.oauth_expires_in) > 157_000_000);
      assert.ok(Number(at.extra.oauth_authorization_expires_in) > 157_000_000);
      assert.ok(at.extra.oauth_session_handle);
      const stored = await h.store.getAccessToken(at.token);
      assert.equal(stored?.user, user);
      assert.equal(stored?.linkId, which === 'rsa' ? LINK_ID : HMAC_LINK_ID);
      assert.equal(stored?.secret, at.secret);
    });
  }

  for (const placement of ['header', 'body'] as const) {
    it(`runs with oauth-1.0a, OAuth parameters in the ${placement}`, async () => {
      const client = oauth10aClient(placement === 'header' ? 'hmac' : 'rsa');
      const callback = placement === 'header' ? h.appHCallback : h.appACallback;
      const rt = await signedPost(h, client, RT, { oauth: { oauth_callback: callback }, placement });
      assert.equal(rt.status, 200, rt.text);
      assert.match(rt.headers.get('content-type') ?? '', /^application\/x-www-form-urlencoded/);
      assert.equal(rt.headers.get('cache-control'), 'no-store');
      assert.deepEqual([...rt.form.keys()], ['oauth_token', 'oauth_token_secret', 'oauth_callback_confirmed']);
      const token = rt.form.get('oauth_token') ?? '';
      const secret = rt.form.get('oauth_token_secret') ?? '';
      const stored = await h.store.getRequestToken(token);
      assert.equal(stored?.callback, callback);
      assert.equal(stored?.version, '1.0a');

      const { verifier } = verifierFrom((await decide(await signedIn(h), token)).location);
      const at = await signedPost(h, client, AT, { token: { key: token, secret }, oauth: { oauth_verifier: verifier }, placement });
      assert.equal(at.status, 200, at.text);
      assert.deepEqual([...at.form.keys()], ['oauth_token', 'oauth_token_secret', 'oauth_expires_in', 'oauth_session_handle', 'oauth_authorization_expires_in']);
      assert.equal((await h.store.getAccessToken(at.form.get('oauth_token') ?? ''))?.user, 'alice');
    });
  }

  it('out of band: the page shows the verifier, which the consumer then exchanges', async () => {
    const consumer = npmConsumer(h, 'rsa', 'oob');
    const rt = await consumer.requestToken();
    const answer = await decide(await signedIn(h), rt.token);
    assert.equal(answer.status, 200);
    const verifier = /<code class="verifier"[^>]*>([^<]+)<\/code>/.exec(answer.text)?.[1];
    assert.ok(verifier, answer.text);
    const at = await consumer.accessToken(rt.token, rt.secret, verifier);
    assert.equal((await h.store.getAccessToken(at.token))?.user, 'alice');
  });

  it('deny: back to the callback with oauth_verifier=denied; the exchange answers permission_denied', async () => {
    const consumer = npmConsumer(h, 'rsa', h.appACallback);
    const rt = await consumer.requestToken();
    const answer = await decide(await signedIn(h), rt.token, 'deny');
    assert.equal(answer.status, 302);
    const back = verifierFrom(answer.location);
    assert.equal(back.verifier, 'denied');
    assert.equal(back.token, rt.token);
    await rejectsWith(consumer.accessToken(rt.token, rt.secret, 'denied'), 401, 'permission_denied');
    assert.equal((await h.store.getRequestToken(rt.token))?.state, 'denied');
  });

  it('a token not yet approved answers permission_unknown', async () => {
    const consumer = npmConsumer(h, 'hmac', h.appHCallback);
    const rt = await consumer.requestToken();
    await rejectsWith(consumer.accessToken(rt.token, rt.secret, 'guess'), 401, 'permission_unknown');
  });

  it('an exchange without verifier is parameter_absent, a wrong one token_rejected; the right one still works', async () => {
    const client = oauth10aClient('rsa');
    const rt = await signedPost(h, client, RT, { oauth: { oauth_callback: h.appACallback } });
    const token = { key: rt.form.get('oauth_token') ?? '', secret: rt.form.get('oauth_token_secret') ?? '' };
    const { verifier } = verifierFrom((await decide(await signedIn(h), token.key)).location);
    const none = await signedPost(h, client, AT, { token });
    assertProblem(none, 400, 'parameter_absent');
    assert.equal(none.form.get('oauth_parameters_absent'), 'oauth_verifier');
    assertProblem(await signedPost(h, client, AT, { token, oauth: { oauth_verifier: `${verifier}x` } }), 401, 'token_rejected');
    assert.equal((await signedPost(h, client, AT, { token, oauth: { oauth_verifier: verifier } })).status, 200);
  });

  it('a request token is exchanged once: the second exchange answers token_used, its approval page says so', async () => {
    const consumer = npmConsumer(h, 'rsa', h.appACallback);
    const rt = await consumer.requestToken();
    const browser = await signedIn(h);
    const { verifier } = verifierFrom((await decide(browser, rt.token)).location);
    await consumer.accessToken(rt.token, rt.secret, verifier);
    await rejectsWith(consumer.accessToken(rt.token, rt.secret, verifier), 401, 'token_used');
    const page = await browser.get(`/plugins/servlet/oauth/authorize?oauth_token=${encodeURIComponent(rt.token)}`);
    assert.equal(page.status, 401);
    assert.match(page.text, /already been allowed or denied/);
    assert.match(page.headers.get('www-authenticate') ?? '', /oauth_problem="token_used"/);
  });

  it('an approval cannot be given twice (a second POST of the same form is refused)', async () => {
    const consumer = npmConsumer(h, 'rsa', h.appACallback);
    const rt = await consumer.requestToken();
    const browser = await signedIn(h);
    const page = await browser.get(`/plugins/servlet/oauth/authorize?oauth_token=${encodeURIComponent(rt.token)}`);
    const form = { oauth_token: rt.token, atl_token: inputValue(page.text, 'atl_token') ?? '', approve: 'Allow' };
    const [first, second] = await Promise.all([browser.post('/plugins/servlet/oauth/authorize', form), browser.post('/plugins/servlet/oauth/authorize', form)]);
    assert.deepEqual([first.status, second.status].sort(), [302, 401]);
  });

  it("another link's request token answers token_rejected", async () => {
    const appA = npmConsumer(h, 'rsa', h.appACallback);
    const rt = await appA.requestToken();
    const { verifier } = verifierFrom((await decide(await signedIn(h), rt.token)).location);
    const appH = npmConsumer(h, 'hmac', h.appHCallback);
    await rejectsWith(appH.accessToken(rt.token, rt.secret, verifier), 401, 'token_rejected');
    // The rightful consumer can still exchange it.
    assert.ok((await appA.accessToken(rt.token, rt.secret, verifier)).token);
  });

  it('an expired request token: token_expired at access-token, a clear page at authorize', async () => {
    const consumer = npmConsumer(h, 'rsa', h.appACallback);
    const rt = await consumer.requestToken();
    const browser = await signedIn(h);
    const { verifier } = verifierFrom((await decide(browser, rt.token)).location);
    const pending = await consumer.requestToken();
    h.advance(601_000);
    try {
      await rejectsWith(consumer.accessToken(rt.token, rt.secret, verifier), 401, 'token_expired');
      const page = await browser.get(`/plugins/servlet/oauth/authorize?oauth_token=${encodeURIComponent(pending.token)}`);
      assert.equal(page.status, 401);
      assert.match(page.text, /has expired/);
      assert.match(page.headers.get('www-authenticate') ?? '', /oauth_problem="token_expired"/);
    } finally {
      h.advance(-601_000);
    }
  });

  it('an expired request token answers token_expired on real time, no clock moved: it outlives its TTL in Redis', async () => {
    // The configuration's shortest request-token TTL is 10 s; the store takes any, so these are made there.
    const make = () => h.store.createRequestToken({ linkId: LINK_ID, consumerKey: 'app-a', callback: h.appACallback, version: '1.0a', ttlSeconds: 1 });
    const rt = await make();
    const approved = await h.store.approveRequestToken(rt.token, 'alice');
    assert.ok(approved.ok && approved.token.verifier);
    const verifier = approved.token.verifier;
    const pending = await make();
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(await h.store.getRequestToken(rt.token), null, 'expired');
    assert.equal((await h.store.inspectToken(rt.token))?.state, 'expired', 'and still known');
    await rejectsWith(npmConsumer(h, 'rsa', h.appACallback).accessToken(rt.token, rt.secret, verifier), 401, 'token_expired');
    // Another consumer is told nothing about it.
    await rejectsWith(npmConsumer(h, 'hmac', h.appHCallback).accessToken(rt.token, rt.secret, verifier), 401, 'token_rejected');
    const page = await (await signedIn(h)).get(`/plugins/servlet/oauth/authorize?oauth_token=${encodeURIComponent(pending.token)}`);
    assert.equal(page.status, 401);
    assert.match(page.text, /has expired/);
    assert.match(page.headers.get('www-authenticate') ?? '', /oauth_problem="token_expired"/);
  });

  it('renews an access token with its session handle; a wrong handle is token_rejected', async (t) => {
    // Short tokens under a long authorization, so that a renewal visibly moves the expiry.
    h.reconfigure((obj) => {
      obj.oauth = { accessTokenTtlSeconds: 3600, authorizationTtlSeconds: 86400 };
    });
    t.after(() => h.reconfigure(() => undefined));
    const client = oauth10aClient('hmac');
    const rt = await signedPost(h, client, RT, { oauth: { oauth_callback: h.appHCallback } });
    const rtToken = { key: rt.form.get('oauth_token') ?? '', secret: rt.form.get('oauth_token_secret') ?? '' };
    const { verifier } = verifierFrom((await decide(await signedIn(h, 'bob'), rtToken.key)).location);
    const at = await signedPost(h, client, AT, { token: rtToken, oauth: { oauth_verifier: verifier } });
    const access = { key: at.form.get('oauth_token') ?? '', secret: at.form.get('oauth_token_secret') ?? '' };
    const handle = at.form.get('oauth_session_handle') ?? '';
    assert.ok(Math.abs(Number(at.form.get('oauth_expires_in')) - 3600) <= 2);
    assert.ok(Math.abs(Number(at.form.get('oauth_authorization_expires_in')) - 86400) <= 2);
    const before = await h.store.getAccessToken(access.key);

    assertProblem(await signedPost(h, client, AT, { token: access, oauth: { oauth_session_handle: `${handle}x` } }), 401, 'token_rejected');
    h.advance(5_000);
    try {
      const renewed = await signedPost(h, client, AT, { token: access, oauth: { oauth_session_handle: handle } });
      assert.equal(renewed.status, 200, renewed.text);
      assert.equal(renewed.form.get('oauth_token'), access.key);
      assert.equal(renewed.form.get('oauth_session_handle'), handle);
      const after = await h.store.getAccessToken(access.key);
      assert.ok(after && before && after.expiresAt > before.expiresAt, 'expiry moved forward');
      assert.equal(after?.user, 'bob');
    } finally {
      h.advance(-5_000);
    }
    // An access token without session handle is not a request token.
    assertProblem(await signedPost(h, client, AT, { token: access, oauth: { oauth_verifier: verifier } }), 401, 'token_rejected');
  });

  it('renews an expired access token while its authorization lasts (RSA-SHA1); HMAC-SHA1 cannot prove an expired one', async (t) => {
    h.reconfigure((obj) => {
      obj.oauth = { accessTokenTtlSeconds: 3600, authorizationTtlSeconds: 86400 };
    });
    t.after(() => h.reconfigure(() => undefined));
    const dance = async (which: 'rsa' | 'hmac') => {
      const client = oauth10aClient(which);
      const rt = await signedPost(h, client, RT, { oauth: { oauth_callback: which === 'rsa' ? h.appACallback : h.appHCallback } });
      const token = { key: rt.form.get('oauth_token') ?? '', secret: rt.form.get('oauth_token_secret') ?? '' };
      const { verifier } = verifierFrom((await decide(await signedIn(h), token.key)).location);
      const at = await signedPost(h, client, AT, { token, oauth: { oauth_verifier: verifier } });
      return { client, access: { key: at.form.get('oauth_token') ?? '', secret: at.form.get('oauth_token_secret') ?? '' }, handle: at.form.get('oauth_session_handle') ?? '' };
    };
    const rsa = await dance('rsa');
    const hmac = await dance('hmac');
    h.advance(2 * 3600_000);
    try {
      assert.equal(await h.store.getAccessToken(rsa.access.key), null, 'expired');
      assertProblem(await signedPost(h, rsa.client, AT, { token: rsa.access, oauth: { oauth_session_handle: 'wrong' } }), 401, 'token_rejected');
      const renewed = await signedPost(h, rsa.client, AT, { token: rsa.access, oauth: { oauth_session_handle: rsa.handle } });
      assert.equal(renewed.status, 200, renewed.text);
      assert.equal((await h.store.getAccessToken(rsa.access.key))?.user, 'alice');
      assertProblem(await signedPost(h, hmac.client, AT, { token: hmac.access, oauth: { oauth_session_handle: hmac.handle } }), 401, 'token_rejected');
    } finally {
      h.advance(-2 * 3600_000);
    }
  });

  it('the user page lists own tokens; revoking one makes its next use fail; others cannot revoke it', async () => {
    const consumer = npmConsumer(h, 'rsa', h.appACallback);
    const rt = await consumer.requestToken();
    const alice = await signedIn(h, 'alice');
    const { verifier } = verifierFrom((await decide(alice, rt.token)).location);
    const at = await consumer.accessToken(rt.token, rt.secret, verifier);
    const stored = await h.store.getAccessToken(at.token);
    assert.ok(stored);

    const list = await alice.get('/plugins/servlet/oauth/users/access-tokens');
    assert.equal(list.status, 200);
    assert.equal(list.headers.get('x-frame-options'), 'DENY');
    assert.ok(list.text.includes(`value="${stored.handle}"`));
    assert.ok(!list.text.includes(at.token) && !list.text.includes(at.secret), 'no token value or secret on the page');
    assert.match(list.text, /<td>AppA<\/td>/);
    const csrf = inputValue(list.text, 'atl_token') ?? '';

    // bob cannot see or revoke alice's token, even with a valid form of his own.
    const bob = await signedIn(h, 'bob');
    const bobList = await bob.get('/plugins/servlet/oauth/users/access-tokens');
    assert.ok(!bobList.text.includes(stored.handle));
    const stolen = await bob.post('/plugins/servlet/oauth/users/access-tokens', { handle: stored.handle, atl_token: inputValue(bobList.text, 'atl_token') ?? '' });
    assert.equal(stolen.status, 404);
    // Without the CSRF token (a cross-site form) nothing happens.
    assert.equal((await alice.post('/plugins/servlet/oauth/users/access-tokens', { handle: stored.handle })).status, 403);
    assert.ok(await h.store.getAccessToken(at.token), 'still valid');

    const revoked = await alice.post('/plugins/servlet/oauth/users/access-tokens', { handle: stored.handle, atl_token: csrf });
    assert.equal(revoked.status, 303);
    assert.equal(revoked.location, `/plugins/servlet/oauth/users/access-tokens?revoked=${LINK_ID}`);
    const after = await alice.get(revoked.location ?? '');
    assert.match(after.text, /Access for AppA was revoked/);
    assert.ok(!after.text.includes(`value="${stored.handle}"`));
    assert.equal(await h.store.getAccessToken(at.token), null);
    // Its next use at the gateway fails: renewal with its session handle is refused as revoked.
    const client = oauth10aClient('rsa');
    assertProblem(await signedPost(h, client, AT, { token: { key: at.token, secret: at.secret }, oauth: { oauth_session_handle: at.extra.oauth_session_handle ?? '' } }), 401, 'token_revoked');
  });

  it('renewing a revoked token answers token_revoked, with HMAC-SHA1 too (whose token secret is gone)', async () => {
    const client = oauth10aClient('hmac');
    const rt = await signedPost(h, client, RT, { oauth: { oauth_callback: h.appHCallback } });
    const rtToken = { key: rt.form.get('oauth_token') ?? '', secret: rt.form.get('oauth_token_secret') ?? '' };
    const { verifier } = verifierFrom((await decide(await signedIn(h, 'bob'), rtToken.key)).location);
    const at = await signedPost(h, client, AT, { token: rtToken, oauth: { oauth_verifier: verifier } });
    assert.equal(at.status, 200, at.text);
    const access = { key: at.form.get('oauth_token') ?? '', secret: at.form.get('oauth_token_secret') ?? '' };
    const sessionHandle = at.form.get('oauth_session_handle') ?? '';
    const stored = await h.store.getAccessToken(access.key);
    assert.ok(stored && (await h.store.revokeAccessToken(stored.handle, { user: 'bob' })));
    assertProblem(await signedPost(h, client, AT, { token: access, oauth: { oauth_session_handle: sessionHandle } }), 401, 'token_revoked');
    // Another consumer presenting it is not told.
    assertProblem(await signedPost(h, oauth10aClient('rsa'), AT, { token: access, oauth: { oauth_session_handle: sessionHandle } }), 401, 'token_rejected');
    // Nor is it a request token to exchange again.
    assertProblem(await signedPost(h, client, AT, { token: rtToken, oauth: { oauth_verifier: verifier } }), 401, 'token_used');
  });

  it('refuses replayed nonces, stale timestamps, bad signatures and unknown consumers in the problem format', async () => {
    const client = oauth10aClient('hmac');
    client.getNonce = () => 'fixed-nonce-for-replay';
    // The same timestamp too: two requests a second boundary apart are not a replay (another nonce key).
    const now = Math.floor(Date.now() / 1000);
    client.getTimeStamp = () => now;
    const first = await signedPost(h, client, RT, { oauth: { oauth_callback: h.appHCallback } });
    assert.equal(first.status, 200);
    assertProblem(await signedPost(h, client, RT, { oauth: { oauth_callback: h.appHCallback } }), 401, 'nonce_used');

    const stale = await signedPost(h, oauth10aClient('hmac'), RT, { oauth: { oauth_callback: h.appHCallback }, timestampOffset: -3600 });
    assertProblem(stale, 400, 'timestamp_refused');
    assert.match(stale.form.get('oauth_acceptable_timestamps') ?? '', /^\d+-\d+$/);

    const forged = new (oauth10aClient('hmac').constructor as typeof import('oauth-1.0a'))({
      consumer: { key: 'app-h', secret: 'not-the-secret' },
      signature_method: 'HMAC-SHA1',
      hash_function: (base: string, key: string) => `${base.length}${key.length}`,
    });
    assertProblem(await signedPost(h, forged, RT, { oauth: { oauth_callback: h.appHCallback } }), 401, 'signature_invalid');

    assertProblem(await signedPost(h, oauth10aClient('hmac', { consumerKey: 'stranger' }), RT, { oauth: { oauth_callback: h.appHCallback } }), 401, 'consumer_key_unknown');
    // RSA-SHA1 from a link that only allows HMAC-SHA1.
    assertProblem(await signedPost(h, oauth10aClient('rsa', { consumerKey: 'app-h' }), RT, { oauth: { oauth_callback: h.appHCallback } }), 400, 'signature_method_rejected');
    const realm = /realm="([^"]+)"/.exec(stale.headers.get('www-authenticate') ?? '');
    assert.equal(decodeURIComponent(realm?.[1] ?? ''), h.url);
  });

  it('never answers 500 for bad input', async () => {
    const post = (headers: Record<string, string>, body?: string) => fetch(h.url + RT, { method: 'POST', headers, body });
    const cases: Array<[string, Promise<Response>, number]> = [
      ['no OAuth at all', post({}), 400],
      ['garbage Authorization', post({ authorization: 'OAuth oauth_consumer_key=unquoted' }), 400],
      ['malformed percent-encoding in the body', post({ 'content-type': 'application/x-www-form-urlencoded' }, 'oauth_consumer_key=%zz'), 400],
      ['two Authorization headers', fetch(h.url + RT, { method: 'POST', headers: [['authorization', 'OAuth oauth_consumer_key="a"'], ['authorization', 'OAuth oauth_consumer_key="b"']] }), 400],
      ['oauth_version 2.0', post({ authorization: 'OAuth oauth_consumer_key="app-h", oauth_version="2.0"' }), 400],
      ['a body over formBodyLimitBytes', post({ 'content-type': 'application/x-www-form-urlencoded' }, `a=${'x'.repeat(1024 * 1024 + 10)}`), 413],
      ['GET on request-token', fetch(h.url + RT), 405],
      ['a token at request-token', post({ authorization: 'OAuth oauth_consumer_key="app-h", oauth_token="x", oauth_signature_method="HMAC-SHA1", oauth_signature="x", oauth_timestamp="1", oauth_nonce="n"' }), 400],
    ];
    for (const [name, response, status] of cases) {
      const res = await response;
      await res.arrayBuffer();
      assert.equal(res.status, status, name);
    }
    const dup = await fetch(h.url + RT, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'oauth_consumer_key=app-h&oauth_consumer_key=app-a' });
    assert.equal(dup.status, 400);
    assert.equal(new URLSearchParams(await dup.text()).get('oauth_problem'), 'parameter_rejected');
  });

  it('audits and counts every step, and never logs a token value, secret, verifier or session handle', async () => {
    const consumer = npmConsumer(h, 'rsa', h.appACallback);
    const rt = await consumer.requestToken();
    const { verifier } = verifierFrom((await decide(await signedIn(h), rt.token)).location);
    const at = await consumer.accessToken(rt.token, rt.secret, verifier);
    const handle = (await h.store.getAccessToken(at.token))?.handle;
    const text = h.logText();
    for (const secret of [rt.token, rt.secret, verifier, at.token, at.secret, at.extra.oauth_session_handle ?? '']) {
      assert.ok(secret.length > 10 && !text.includes(secret), 'a secret reached the log');
    }
    const audits = h.logs.filter((l) => l.audit === true && l.handle === handle);
    assert.deepEqual(audits.map((l) => l.event), ['token_issued', 'token_approved', 'token_exchanged']);
    assert.equal(audits[1]?.user, 'alice');
    const requestLines = h.logs.filter((l) => l.msg === 'request' && l.tokenHandle === handle);
    assert.ok(requestLines.every((l) => l.flow === 'dance'));
    const metrics = await h.running.gw.metrics.registry.getSingleMetricAsString('applink_dance_events_total');
    for (const event of ['issued', 'approved', 'denied', 'exchanged', 'renewed', 'revoked']) {
      assert.match(metrics, new RegExp(`event="${event}",link="[^"]+"\\} [1-9]`), event);
    }
  });
});

describe('OAuth 1.0 clients (no callback, no verifier: jirashell --oauth-dance)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ ...DANCE, store: 'redis' });
  });
  after(() => h?.close());

  it('are refused with parameter_absent naming oauth_callback unless the link allows OAuth 1.0', async () => {
    const res = await signedPost(h, oauth10aClient('rsa'), RT);
    assert.equal(res.status, 400);
    assert.equal(res.form.get('oauth_problem'), 'parameter_absent');
    assert.equal(res.form.get('oauth_parameters_absent'), 'oauth_callback');
  });

  it('run the dance when allowOAuth10 is true: no callback_confirmed, a "return to the application" page, no verifier', async () => {
    h.reconfigure((obj) => {
      linksOf(obj)[0]!.allowOAuth10 = true;
    });
    const consumer = npmConsumer(h, 'rsa', null);
    const rt = await consumer.requestToken();
    assert.equal(rt.extra.oauth_callback_confirmed, undefined);
    assert.equal((await h.store.getRequestToken(rt.token))?.version, '1.0');
    const browser = await signedIn(h);
    const page = await browser.get(`/plugins/servlet/oauth/authorize?oauth_token=${encodeURIComponent(rt.token)}`);
    assert.equal(inputValue(page.text, 'oauth_callback'), '');
    assert.match(page.text, /return to AppA to continue/);
    const answer = await decide(browser, rt.token);
    assert.equal(answer.status, 200);
    assert.equal(answer.location, null);
    assert.match(answer.text, /Return to AppA and continue there/);
    // A verifier makes no sense for a 1.0 token.
    const client = oauth10aClient('rsa');
    assert.equal((await signedPost(h, client, AT, { token: { key: rt.token, secret: rt.secret }, oauth: { oauth_verifier: 'x' } })).form.get('oauth_problem'), 'parameter_rejected');
    const at = await consumer.accessToken(rt.token, rt.secret);
    assert.equal((await h.store.getAccessToken(at.token))?.user, 'alice');
  });
});

describe('links that do not take part', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      ...DANCE,
      store: 'redis',
      edit: (obj) => {
        linksOf(obj)[1]!.threeLegged = false;
      },
    });
  });
  after(() => h?.close());

  it('a link without threeLegged gets permission_denied at request-token', async () => {
    const res = await signedPost(h, oauth10aClient('hmac'), RT, { oauth: { oauth_callback: h.appHCallback } });
    assert.equal(res.status, 401);
    assert.equal(res.form.get('oauth_problem'), 'permission_denied');
  });
});
