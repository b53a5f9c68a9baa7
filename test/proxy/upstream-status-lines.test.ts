// AppB status lines Node cannot pass on (a status outside 100-599, a reason phrase with DEL or
// obs-text): the gateway answers 502 or the standard reason phrase, and keeps serving. The AppB
// here is a raw TCP server that sends one scripted answer per connection.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startHarness, type Harness } from '../helpers/harness.js';
import { rawExchange, send } from '../helpers/clients.js';

describe('AppB status lines Node cannot pass on', () => {
  const answers: string[] = [];
  let upstream: net.Server;
  let h: Harness;
  before(async () => {
    // One raw answer per connection, in order; the gateway must survive each and serve the next request.
    upstream = net.createServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.once('data', () => socket.end(Buffer.from(answers.shift() ?? 'HTTP/1.1 500 Empty\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', 'latin1')));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as net.AddressInfo).port;
    h = await startHarness({ identity: 'header', store: 'memory', upstreamUrl: `http://127.0.0.1:${port}` });
  });
  after(async () => {
    await h?.close();
    if (upstream) await new Promise((resolve) => upstream.close(resolve));
  });

  const fine = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfine';

  for (const [label, statusLine] of [
    ['status 099', 'HTTP/1.1 099 Weird'],
    ['status 600', 'HTTP/1.1 600 Beyond'],
  ] as const) {
    it(`${label} → 502 with an explanation; the next request is served`, async () => {
      answers.push(`${statusLine}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok`, fine);
      const bad = await send(h.url, { target: '/x' });
      assert.equal(bad.status, 502, bad.text);
      assert.match(bad.text, /AppB sent a response the gateway cannot pass on/);
      const next = await send(h.url, { target: '/y' });
      assert.equal(next.status, 200, next.text);
      assert.equal(next.text, 'fine');
    });
  }

  it('a reason phrase with DEL or obs-text is replaced by the standard one; the body passes', async () => {
    answers.push('HTTP/1.1 200 O\x7fK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok', 'HTTP/1.1 201 Cr\xffated\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok', fine);
    for (const status of [200, 201]) {
      const raw = await rawExchange(h.url, 'GET /z HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n');
      assert.equal(raw.split('\r\n')[0], `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`, raw);
      assert.ok(raw.endsWith('\r\n\r\nok'), raw);
    }
    assert.equal((await send(h.url, { target: '/y' })).text, 'fine');
  });
});
