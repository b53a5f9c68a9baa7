// upstream.passthroughUnknownConsumers: dance calls that belong to AppB's own application links
// (a consumer key that is not one of ours, a request token AppB issued) reach AppB untouched,
// form body included, while our own links are still answered by the gateway.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Browser, demoLogin, oauth10aClient, signedPost, startHarness, type Harness } from './support.js';
import { resources } from '../helpers/cleanup.js';

interface Seen {
  method: string;
  url: string;
  body: string;
  authorization: string | undefined;
}

describe('passthroughUnknownConsumers (Redis store)', () => {
  let h: Harness;
  let appb: http.Server;
  const seen: Seen[] = [];
  // Closed by `after` even when `before` fails half-way.
  const started = resources();
  before(async () => {
    appb = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', body, authorization: req.headers.authorization });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('answered by AppB');
      });
    });
    await new Promise<void>((r) => appb.listen(0, '127.0.0.1', r));
    started.defer(() => {
      appb.closeAllConnections();
      return new Promise<void>((r) => appb.close(() => r()));
    });
    const upstream = `http://127.0.0.1:${(appb.address() as AddressInfo).port}`;
    h = await startHarness({
      store: 'redis',
      patch: (obj) => {
        obj.upstream = { ...(obj.upstream as object), url: upstream, passthroughUnknownConsumers: true };
      },
    });
    started.defer(() => h.close());
  });
  after(() => started.close());

  it("hands AppB's own consumers to AppB with the form body intact", async () => {
    seen.length = 0;
    const client = oauth10aClient('hmac', { consumerKey: 'appb-own-consumer' });
    const res = await signedPost(h, client, '/plugins/servlet/oauth/request-token', { oauth: { oauth_callback: 'oob' }, placement: 'body' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'answered by AppB');
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.url, '/plugins/servlet/oauth/request-token');
    const forwarded = new URLSearchParams(seen[0]?.body ?? '');
    assert.equal(forwarded.get('oauth_consumer_key'), 'appb-own-consumer');
    assert.equal(forwarded.get('oauth_callback'), 'oob');
    assert.ok(forwarded.get('oauth_signature'));
  });

  // The dance routes hand it on (facts.flow = 'passthrough'); src/proxy still verifies it as a signed request.
  it("hands the approval page of AppB's own request tokens to AppB", async () => {
    seen.length = 0;
    const browser = new Browser(h.url);
    await demoLogin(browser);
    const page = await browser.get('/plugins/servlet/oauth/authorize?oauth_token=ABCDEF0123456789abcdef0123456789');
    assert.equal(page.text, 'answered by AppB');
    assert.equal(seen[0]?.url, '/plugins/servlet/oauth/authorize?oauth_token=ABCDEF0123456789abcdef0123456789');
  });

  it('still answers its own links itself', async () => {
    seen.length = 0;
    const res = await signedPost(h, oauth10aClient('hmac'), '/plugins/servlet/oauth/request-token', { oauth: { oauth_callback: h.appHCallback } });
    assert.equal(res.status, 200);
    assert.ok(res.form.get('oauth_token'));
    assert.equal(seen.length, 0);
  });
});
