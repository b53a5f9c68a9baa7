// server.bodyIdleTimeoutMs: a body the gateway has to read (a form body) that stops arriving is
// answered 408 and its connection closed, on the proxy and on the dance endpoints alike
// (rawExchange sends the head and part of the body, then waits for the server to close).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../helpers/harness.js';
import { rawExchange, send, trickle } from '../helpers/clients.js';

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

describe('server.timeouts.bodyTotalMs: slow-POST (a body trickled one byte per gap shorter than the idle timeout)', () => {
  let h: Harness;
  const IDLE = 500;
  const TOTAL = 1500;
  // Far longer than the deadline: without it the gateway would read until the client stops.
  const DRIP_MS = 100;
  const MAX_BYTES = (20 * TOTAL) / DRIP_MS;
  before(async () => {
    h = await startHarness({ identity: 'header', store: 'memory', patch: { server: { timeouts: { bodyIdleMs: IDLE, bodyTotalMs: TOTAL } } } });
  });
  after(() => h.close());

  const timeoutsCounted = async (phase: string) =>
    ((await h.running.gw.metrics.clientTimeouts.get()).values.find((v) => v.labels.phase === phase)?.value ?? 0);

  it('slow-POST at the proxy is cut off at the body deadline while still trickling: 408, connection closed, AppB gets nothing, counted', { timeout: 60_000 }, async () => {
    const before = h.appb.requests.length;
    const counted = await timeoutsCounted('body_total');
    const r = await trickle(h.url, formHead('/secure/SlowForm.jspa', 100_000), 'a=b&', DRIP_MS, MAX_BYTES);
    assert.match(r.answer, /^HTTP\/1\.1 408 /, r.answer.slice(0, 200));
    assert.match(r.answer, /connection: close/i);
    assert.match(r.answer, /not complete within 1500 ms/);
    assert.ok(r.stillSending, `the gateway answered only after the client stopped sending (${r.sent} bytes)`);
    assert.equal(h.appb.requests.length, before);
    assert.equal(await timeoutsCounted('body_total'), counted + 1);
  });

  it('slow-POST at the request-token endpoint is cut off the same way', { timeout: 60_000 }, async () => {
    const r = await trickle(h.url, formHead('/plugins/servlet/oauth/request-token', 100_000), 'a=b&', DRIP_MS, MAX_BYTES);
    assert.match(r.answer, /^HTTP\/1\.1 408 /, r.answer.slice(0, 200));
    assert.ok(r.stillSending, `the gateway answered only after the client stopped sending (${r.sent} bytes)`);
  });

  it('a stalled body is still cut off by the idle timeout, counted as body_idle', async () => {
    const counted = await timeoutsCounted('body_idle');
    const out = await rawExchange(h.url, `${formHead('/rest/api/2/issue', 100)}summary=half`);
    assert.match(out, /^HTTP\/1\.1 408 /, out.slice(0, 200));
    assert.match(out, /stalled for more than 500 ms/);
    assert.equal(await timeoutsCounted('body_idle'), counted + 1);
  });
});
