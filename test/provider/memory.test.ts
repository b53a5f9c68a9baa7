// Smoke test on the embedded memory store: the same dance, one process.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DANCE, startHarness, type Harness } from '../helpers/harness.js';
import { Browser, decide, demoLogin, npmConsumer, oauth10aClient, signedPost, type NpmError } from '../helpers/clients.js';

describe('the dance on the memory store', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ ...DANCE, store: 'memory' });
  });
  after(() => h?.close());

  it('request token → approval → access token for the approving user; reuse and expiry refused', async () => {
    const consumer = npmConsumer(h, 'rsa', h.appACallback);
    const rt = await consumer.requestToken();
    const browser = new Browser(h.url);
    await demoLogin(browser, 'bob');
    const back = new URL((await decide(browser, rt.token)).location ?? '');
    const verifier = back.searchParams.get('oauth_verifier') ?? '';
    const at = await consumer.accessToken(rt.token, rt.secret, verifier);
    assert.equal((await h.store.getAccessToken(at.token))?.user, 'bob');
    await assert.rejects(consumer.accessToken(rt.token, rt.secret, verifier), (e: NpmError) => e.statusCode === 401 && /token_used/.test(e.data ?? ''));

    const late = await signedPost(h, oauth10aClient('hmac'), '/plugins/servlet/oauth/request-token', { oauth: { oauth_callback: h.appHCallback } });
    h.advance(601_000);
    try {
      const res = await signedPost(h, oauth10aClient('hmac'), '/plugins/servlet/oauth/access-token', {
        token: { key: late.form.get('oauth_token') ?? '', secret: late.form.get('oauth_token_secret') ?? '' },
        oauth: { oauth_verifier: 'x' },
      });
      assert.equal(res.form.get('oauth_problem'), 'token_expired');
    } finally {
      h.advance(-601_000);
    }
  });
});
