// server.timeouts: slow clients are cut off (408, connection closed) and counted in
// applink_client_timeouts_total{phase}, while other clients are served meanwhile. Short timeouts
// are configured so the tests run fast; the trickling clients would go on far longer.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startHarness, type Harness } from '../helpers/harness.js';
import { send, trickle } from '../helpers/clients.js';

const GAP_MS = 100;

async function counted(h: Harness, phase: string): Promise<number> {
  return (await h.running.gw.metrics.clientTimeouts.get()).values.find((v) => v.labels.phase === phase)?.value ?? 0;
}

async function scraped(h: Harness): Promise<string> {
  return (await fetch(`${h.adminUrl}/metrics`)).text();
}

describe('server.timeouts: a slow-header and a slow-body client are cut off and counted, others are served meanwhile', () => {
  let h: Harness;
  const HEADERS_MS = 1000;
  const BODY_TOTAL_MS = 2000;
  before(async () => {
    h = await startHarness({
      identity: 'header',
      store: 'memory',
      patch: { server: { timeouts: { headersMs: HEADERS_MS, bodyIdleMs: 800, bodyTotalMs: BODY_TOTAL_MS, keepAliveMs: 400 } } },
    });
  });
  after(() => h.close());

  it('both are answered 408 and closed while still sending; a normal GET and form POST get 200 before that', { timeout: 60_000 }, async () => {
    const headersBefore = await counted(h, 'headers');
    const bodyBefore = await counted(h, 'body_total');
    const appbBefore = h.appb.requests.length;
    let slowDone = 0;
    // A head that never ends: one header byte per gap.
    const slowHead = trickle(h.url, 'GET /rest/api/2/myself HTTP/1.1\r\nHost: gateway.test\r\n', 'X-Slow: 1\r\n', GAP_MS, (20 * HEADERS_MS) / GAP_MS).finally(() => slowDone++);
    const slowBody = trickle(
      h.url,
      'POST /secure/Slow.jspa HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n',
      'a=b&',
      GAP_MS,
      (20 * BODY_TOTAL_MS) / GAP_MS,
    ).finally(() => slowDone++);

    const get = await send(h.url, { target: '/rest/api/2/serverInfo' });
    const post = await send(h.url, { method: 'POST', target: '/secure/Fast.jspa', body: 'a=1&b=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(get.status, 200);
    assert.equal(post.status, 200);
    assert.equal(post.appb().bodyText, 'a=1&b=2');
    assert.equal(slowDone, 0, 'the slow clients were still being waited for while the others were served');

    const [head, body] = await Promise.all([slowHead, slowBody]);
    assert.match(head.answer, /^HTTP\/1\.1 408 /, head.answer);
    assert.ok(head.stillSending, `the slow head was answered only after it stopped (${head.sent} bytes)`);
    assert.match(body.answer, /^HTTP\/1\.1 408 /, body.answer.slice(0, 200));
    assert.match(body.answer, /connection: close/i);
    assert.ok(body.stillSending, `the slow body was answered only after it stopped (${body.sent} bytes)`);
    assert.equal(h.appb.requests.length, appbBefore + 2, 'only the two normal requests reached AppB');

    assert.equal(await counted(h, 'headers'), headersBefore + 1);
    assert.equal(await counted(h, 'body_total'), bodyBefore + 1);
    assert.match(await scraped(h), /^applink_client_timeouts_total\{phase="headers"\} [1-9]/m);
  });

  it('an idle keep-alive connection is closed after server.timeouts.keepAliveMs', { timeout: 30_000 }, async () => {
    const u = new URL(h.url);
    const closedAfterAnswer = await new Promise<boolean>((resolve, reject) => {
      const socket = net.connect(Number(u.port), u.hostname);
      let answered = false;
      socket.on('data', () => (answered = true));
      socket.on('error', reject);
      socket.on('close', () => resolve(answered));
      socket.write('GET /rest/api/2/serverInfo HTTP/1.1\r\nHost: gateway.test\r\n\r\n');
    });
    assert.equal(closedAfterAnswer, true);
  });
});

describe('server.timeouts.requestMs (off by default): when on, it cuts a whole request, streamed bodies included', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header', store: 'memory', patch: { server: { timeouts: { headersMs: 1000, requestMs: 1500 } } } });
  });
  after(() => h.close());

  it('a slow unsigned upload that streams to AppB is cut off at requestMs and counted as phase "request"', { timeout: 60_000 }, async () => {
    const before = await counted(h, 'request');
    const r = await trickle(
      h.url,
      'PUT /rest/api/2/attachment HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n',
      'x',
      GAP_MS,
      (20 * 1500) / GAP_MS,
    );
    assert.ok(r.stillSending, `cut off only after the client stopped (${r.sent} bytes)`);
    assert.equal(await counted(h, 'request'), before + 1);
  });
});
