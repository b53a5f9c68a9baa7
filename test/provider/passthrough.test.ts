// upstream.passthroughUnknownConsumers: dance calls that belong to AppB's own application links
// (a consumer key that is not one of ours, a request token AppB issued) reach AppB untouched,
// form body included, while our own links are still answered by the gateway.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DANCE, startHarness, type Harness } from '../helpers/harness.js';
import { Browser, demoLogin, oauth10aClient, signedPost } from '../helpers/clients.js';
import { resources } from '../helpers/cleanup.js';
import { startStubAppB, type StubAppB } from '../helpers/stub-appb.js';

describe('passthroughUnknownConsumers (Redis store)', () => {
  let h: Harness;
  let appb: StubAppB;
  // Closed by `after` even when `before` fails half-way.
  const started = resources();
  before(async () => {
    appb = started.add(await startStubAppB({ answer: () => ({ headers: { 'content-type': 'text/plain' }, body: 'answered by AppB' }) }), (a) => a.close());
    const upstream = appb.url;
    h = await startHarness({
      ...DANCE,
      store: 'redis',
      edit: (obj) => {
        obj.upstream = { ...(obj.upstream as object), url: upstream, passthroughUnknownConsumers: true };
      },
    });
    started.defer(() => h.close());
  });
  after(() => started.close());

  it("hands AppB's own consumers to AppB with the form body intact", async () => {
    const from = appb.requests.length;
    const client = oauth10aClient('hmac', { consumerKey: 'appb-own-consumer' });
    const res = await signedPost(h, client, '/plugins/servlet/oauth/request-token', { oauth: { oauth_callback: 'oob' }, placement: 'body' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'answered by AppB');
    const seen = appb.requests.slice(from);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.url, '/plugins/servlet/oauth/request-token');
    const forwarded = new URLSearchParams(seen[0]?.body() ?? '');
    assert.equal(forwarded.get('oauth_consumer_key'), 'appb-own-consumer');
    assert.equal(forwarded.get('oauth_callback'), 'oob');
    assert.ok(forwarded.get('oauth_signature'));
  });

  // The dance routes hand it on (facts.flow = 'passthrough'); src/proxy still verifies it as a signed request.
  it("hands the approval page of AppB's own request tokens to AppB", async () => {
    const from = appb.requests.length;
    const browser = new Browser(h.url);
    await demoLogin(browser);
    const page = await browser.get('/plugins/servlet/oauth/authorize?oauth_token=ABCDEF0123456789abcdef0123456789');
    assert.equal(page.text, 'answered by AppB');
    const seen = appb.requests.slice(from);
    assert.equal(seen[0]?.url, '/plugins/servlet/oauth/authorize?oauth_token=ABCDEF0123456789abcdef0123456789');
  });

  it('still answers its own links itself', async () => {
    const from = appb.requests.length;
    const res = await signedPost(h, oauth10aClient('hmac'), '/plugins/servlet/oauth/request-token', { oauth: { oauth_callback: h.appHCallback } });
    assert.equal(res.status, 200);
    assert.ok(res.form.get('oauth_token'));
    const seen = appb.requests.slice(from);
    assert.equal(seen.length, 0);
  });
});
