// server.bodyIdleTimeoutMs: a body the gateway has to read (a form body) that stops arriving is
// answered 408 and its connection closed, on the proxy and on the dance endpoints alike
// (rawExchange sends the head and part of the body, then waits for the server to close).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rawExchange, startHarness, send, type Harness } from './harness.js';

const formHead = (path: string, length: number) =>
  `POST ${path} HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${length}\r\n\r\n`;

describe('server.bodyIdleTimeoutMs: stalled form bodies', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header', store: 'memory', patch: { server: { bodyIdleTimeoutMs: 300 } } });
  });
  after(() => h?.close());

  it('a form body that stops arriving at the proxy → 408, connection closed, AppB gets nothing', async () => {
    const before = h.appb.requests.length;
    const out = await rawExchange(h.url, `${formHead('/rest/api/2/issue', 100)}summary=half`);
    assert.match(out, /^HTTP\/1\.1 408 /, out.slice(0, 200));
    assert.match(out, /connection: close/i);
    assert.equal(h.appb.requests.length, before);
  });

  it('a form body that stops arriving at request-token → 408, connection closed', async () => {
    const out = await rawExchange(h.url, `${formHead('/plugins/servlet/oauth/request-token', 200)}oauth_consumer_key=app-h`);
    assert.match(out, /^HTTP\/1\.1 408 /, out.slice(0, 200));
  });

  it('a slow but steady form body is not cut off (the timeout is per pause, not per body)', async () => {
    async function* slowly() {
      for (const part of ['a=1', '&b=2', '&c=3']) {
        await new Promise((r) => setTimeout(r, 150));
        yield Buffer.from(part);
      }
    }
    const r = await send(h.url, { method: 'POST', target: '/secure/EditForm.jspa', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '11' }, body: slowly() });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.appb().bodyText, 'a=1&b=2&c=3');
  });
});
