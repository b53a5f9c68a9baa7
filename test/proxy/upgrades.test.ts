// Upgrade requests AppB does not upgrade, and upgrades the gateway does not proxy: the same
// rules as an HTTP answer (AppB's OAuth refusal of a re-signed handshake → 502, hop-by-hop
// headers removed, DESIGN.md section 2), and a clear answer instead of a dropped connection.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { startHarness, type Harness } from '../helpers/harness.js';
import { rawExchange, signWithGatewaySigner } from '../helpers/clients.js';

interface RawAnswer {
  status: number;
  headers: Array<[string, string]>;
  body: string;
  header(name: string): string[];
}

function parseAnswer(raw: string): RawAnswer {
  const end = raw.indexOf('\r\n\r\n');
  assert.ok(end > 0, `an HTTP answer, got ${JSON.stringify(raw.slice(0, 200))}`);
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
  const headers = lines.map((l): [string, string] => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]);
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0),
    headers,
    body: raw.slice(end + 4),
    header: (name) => headers.filter(([n]) => n === name).map(([, v]) => v),
  };
}

/** The request log line is written when the client's socket closes: waits for it (bounded). */
async function logged(h: Harness, match: (line: Record<string, unknown>) => boolean): Promise<void> {
  for (let waited = 0; waited < 3000 && !h.logs.some(match); waited += 10) await new Promise((r) => setTimeout(r, 10));
  assert.ok(h.logs.some(match), `no such log line in ${JSON.stringify(h.logs.slice(-5))}`);
}

function handshake(target: string, extra: Record<string, string> = {}, method = 'GET'): string {
  const headers = {
    Host: 'gateway.test',
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    ...extra,
  };
  return `${method} ${target} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n`;
}

describe("AppB refusing the gateway's re-signed WebSocket handshake", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'oauth1-rsa', store: 'memory', appbDistrustsGateway: true });
  });
  after(() => h.close());

  it("AppB's OAuth challenge to a re-signed WebSocket upgrade → 502, never AppB's 401 (AppA would drop a good token), counted", async () => {
    const token = await h.accessToken('rsa', 'alice');
    const target = '/ws/echo?room=refused';
    const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token });
    const a = parseAnswer(await rawExchange(h.url, handshake(target, { Authorization: authorization })));
    assert.equal(h.appb.requests.at(-1)?.refused?.problem, 'signature_invalid', 'AppB did check and refuse it');
    assert.equal(a.status, 502, a.body);
    assert.deepEqual(a.header('www-authenticate'), []);
    assert.match(a.body, /AppB refused the gateway's credentials/);
    assert.deepEqual(a.header('connection'), ['close']);
    const metrics = await (await fetch(`${h.adminUrl}/metrics`)).text();
    assert.match(metrics, /applink_upstream_oauth_refusals_total\{link="0f9a3c1e-5b7d-4c1a-9e2f-3a4b5c6d7e8f"\} 1/);
    await logged(h, (l) => l.level === 'warn' && l.upstreamProblem === 'signature_invalid' && l.upgrade === true);
    await logged(h, (l) => l.msg === 'request' && l.upgrade === true && l.status === 502 && l.outcome === 'upstream_error');
  });
});

describe('upgrades AppB answers without upgrading, and upgrades the gateway does not proxy', () => {
  let upstream: net.Server;
  let h: Harness;
  const seen: string[] = [];
  before(async () => {
    // An AppB that never upgrades: its refusal carries hop-by-hop headers and a chunked body.
    upstream = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (d: Buffer) => {
        seen.push(d.toString('latin1').split('\r\n', 1)[0] ?? '');
        socket.end(
          'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\nX-Kept: yes\r\n\r\n' +
            '6\r\nno ws \r\n7\r\nfor you\r\n0\r\n\r\n',
        );
      });
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    try {
      h = await startHarness({ identity: 'header', store: 'memory', upstreamUrl: `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}` });
    } catch (err) {
      upstream.close();
      throw err;
    }
  });
  after(async () => {
    await h?.close();
    upstream.close();
  });

  it("AppB's non-101 answer to a WebSocket upgrade reaches the client without hop-by-hop headers, delimited by the connection's close", async () => {
    const a = parseAnswer(await rawExchange(h.url, handshake('/ws/echo')));
    assert.equal(a.status, 403);
    assert.deepEqual(a.header('x-kept'), ['yes']);
    for (const hop of ['x-hop', 'keep-alive', 'transfer-encoding']) assert.deepEqual(a.header(hop), [], `${hop} removed`);
    assert.deepEqual(a.header('connection'), ['close']);
    assert.equal(a.body, 'no ws for you');
    await logged(h, (l) => l.msg === 'request' && l.upgrade === true && l.status === 403);
  });

  it('an h2c upgrade gets a 501 answer (not a dropped connection) and never reaches AppB', async () => {
    const before = seen.length;
    const raw = await rawExchange(
      h.url,
      'GET /rest/api/2/myself HTTP/1.1\r\nHost: gateway.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
    );
    const a = parseAnswer(raw);
    assert.equal(a.status, 501);
    assert.match(a.body, /Upgrade "h2c" is not supported: the gateway upgrades only to WebSocket/);
    assert.deepEqual(a.header('connection'), ['close']);
    assert.equal(seen.length, before, 'AppB received nothing');
  });

  it('a WebSocket handshake that is not a GET gets a 400 answer, not a dropped connection', async () => {
    const before = seen.length;
    const a = parseAnswer(await rawExchange(h.url, handshake('/ws/echo', { 'Content-Length': '0' }, 'POST')));
    assert.equal(a.status, 400);
    assert.match(a.body, /must be a GET request/);
    assert.equal(seen.length, before, 'AppB received nothing');
  });
});
