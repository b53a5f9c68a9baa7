// Defects an independent review reproduced, one test each: look-alike requestor names, AppB
// status lines Node refuses to pass on, absolute-form token requests, duplicate Content-Type,
// requestor names in other letter cases, and the trusted-header SSO header next to an identity.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { signRequest } from '../../src/oauth1/index.js';
import { createLogger } from '../../src/ops/logger.js';
import { startGateway, type RunningGateway } from '../../src/server/serve.js';
import { startTestAppB, type TestAppB } from '../helpers/appb.js';
import { LINK_ID, rsaPair, runtimeConfig, tempDir, testConfigObject, PUBLIC_BASE } from '../helpers/fixtures.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { APP_A_KEY, problemOf, rawExchange, send, signWithGatewaySigner, type Sent } from '../helpers/clients.js';
import { resources } from '../helpers/cleanup.js';

function assertProblem(r: Sent, status: number, problem: string): void {
  assert.equal(r.status, status, r.text);
  assert.equal(problemOf(r).oauth_problem, problem, r.text);
}

describe('2LOi requestor names: look-alikes of a denied user, invisible characters, case variants', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header', store: 'memory' });
  });
  after(() => h?.close());

  async function twoLoi(query: string): Promise<Sent> {
    const target = `/rest/api/2/myself?${query}`;
    const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, emptyToken: true });
    return send(h.url, { target, headers: { authorization } });
  }

  it('names with surrounding, non-breaking or odd spaces, or control/format characters → parameter_rejected, AppB gets nothing', async () => {
    const before = h.appb.requests.length;
    // trailing, leading, NBSP, ideographic space, zero-width space (Cf), bidi mark (Cf), line separator
    for (const name of ['admin%20', '%20admin', 'admin%C2%A0', 'ad%E3%80%80min', 'ad%E2%80%8Bmin', '%E2%80%8Fadmin', 'ad%E2%80%A8min']) {
      const r = await twoLoi(`xoauth_requestor_id=${name}`);
      assertProblem(r, 400, 'parameter_rejected');
      assert.equal(problemOf(r).oauth_parameters_rejected, 'xoauth_requestor_id', name);
    }
    assertProblem(await twoLoi('user_id=admin%C2%A0'), 400, 'parameter_rejected');
    assert.equal(h.appb.requests.length, before, 'AppB received nothing');
  });

  it('look-alikes of a denied user (dotted/dotless i, accents, full-width, long s) → permission_denied', async () => {
    const before = h.appb.requests.length;
    for (const name of ['ADMIN', 'ADM%C4%B0N', 'adm%C4%B1n', 'a%CC%81dmin', '%C3%A1dmin', '%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E']) {
      assertProblem(await twoLoi(`xoauth_requestor_id=${name}`), 401, 'permission_denied');
    }
    assert.equal(h.appb.requests.length, before, 'AppB received nothing');
  });

  it('an ordinary name, with inner spaces and accents, still runs as itself', async () => {
    const r = await twoLoi('xoauth_requestor_id=J%C3%BCrgen%20M%C3%BCller');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.appb().user, 'Jürgen Müller');
  });

  it('XOAUTH_REQUESTOR_ID & co. on a signed request → parameter_rejected (3LO and 2LOi), AppB gets nothing', async () => {
    const before = h.appb.requests.length;
    const token = await h.accessToken('rsa', 'alice');
    for (const query of ['XOAUTH_REQUESTOR_ID=admin', 'Xoauth_Requestor_Id=admin']) {
      const target = `/rest/api/2/myself?${query}`;
      const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token });
      const r = await send(h.url, { target, headers: { authorization } });
      assertProblem(r, 400, 'parameter_rejected');
      assert.equal(problemOf(r).oauth_parameters_rejected, query.split('=')[0]);
    }
    assertProblem(await twoLoi('xoauth_requestor_id=bob&XOAUTH_REQUESTOR_ID=admin'), 400, 'parameter_rejected');
    assert.equal(h.appb.requests.length, before, 'AppB received nothing');
  });

  it('an unsigned request loses every letter-case variant of xoauth_requestor_id, and nothing else', async () => {
    const target = '/rest/api/2/search?XOAUTH_REQUESTOR_ID=admin&a=1&xoauth_Requestor_id=x&xoauth_requestor_idx=2&USER_ID=3';
    const r = await send(h.url, { target });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.appb().queryPairs, [
      ['a', '1'],
      ['xoauth_requestor_idx', '2'],
      ['USER_ID', '3'],
    ]);
  });
});

describe('2LOi allowUsers admits its entries only, up to letter case', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header', store: 'memory', linkPatch: { rsa: { impersonation: { enabled: true, denyUsers: ['admin'], allowUsers: ['Alice'] } } } });
  });
  after(() => h?.close());

  async function as(name: string): Promise<Sent> {
    const target = `/rest/api/2/myself?xoauth_requestor_id=${name}`;
    return send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, emptyToken: true }) } });
  }

  it('ALICE runs as ALICE; alíce, ALİCE and ａlice (look-alikes) and bob are refused', async () => {
    const ok = await as('ALICE');
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.appb().user, 'ALICE');
    const before = h.appb.requests.length;
    for (const name of ['al%C3%ADce', 'AL%C4%B0CE', '%EF%BD%81lice', 'bob']) assertProblem(await as(name), 401, 'permission_denied');
    assert.equal(h.appb.requests.length, before, 'AppB received nothing');
  });
});

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

describe('token endpoints and the proxy: absolute-form targets, duplicate Content-Type', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header', store: 'memory' });
  });
  after(() => h?.close());

  it('a signed request-token call with an absolute-form request-target → 200 with a token', async () => {
    const url = `${PUBLIC_BASE}/plugins/servlet/oauth/request-token`;
    const signed = await signRequest({ method: 'POST', url, consumerKey: 'app-a', signatureMethod: 'RSA-SHA1', privateKey: APP_A_KEY, extraOAuth: { oauth_callback: 'oob' } });
    const raw = await rawExchange(h.url, `POST ${url} HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: ${signed.authorization}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    assert.equal(raw.split('\r\n')[0], 'HTTP/1.1 200 OK', raw);
    assert.match(raw.split('\r\n\r\n')[1] ?? '', /^oauth_token=[^&]+&oauth_token_secret=/);
  });

  it('two Content-Type headers (unsigned) → 400 plain text, AppB gets nothing', async () => {
    const before = h.appb.requests.length;
    const r = await send(h.url, {
      method: 'POST',
      target: '/rest/api/2/issue',
      headers: { 'content-type': ['text/plain', 'application/x-www-form-urlencoded'] },
      body: 'xoauth_requestor_id=admin',
    });
    assert.equal(r.status, 400, r.text);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    assert.match(r.text, /more than one Content-Type/);
    assert.equal(h.appb.requests.length, before, 'AppB received nothing');
  });

  it('two Content-Type headers on a signed request → parameter_rejected; also at the token endpoints', async () => {
    const before = h.appb.requests.length;
    const target = '/rest/api/2/issue';
    const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'POST', target, emptyToken: true });
    const headers = { authorization, 'content-type': ['application/x-www-form-urlencoded', 'text/plain'] };
    assertProblem(await send(h.url, { method: 'POST', target, headers, body: 'a=1' }), 400, 'parameter_rejected');
    const tokenTarget = '/plugins/servlet/oauth/request-token';
    const tokenAuth = await signWithGatewaySigner({ link: 'rsa', method: 'POST', target: tokenTarget, extraOAuth: { oauth_callback: 'oob' } });
    assertProblem(await send(h.url, { method: 'POST', target: tokenTarget, headers: { ...headers, authorization: tokenAuth }, body: 'a=1' }), 400, 'parameter_rejected');
    assert.equal(h.appb.requests.length, before, 'AppB received nothing');
  });
});

describe('trusted-header user auth: the SSO header never travels next to a gateway identity', () => {
  // Built here, not by startHarness: its deep merge cannot replace the demo userAuth block.
  const t = tempDir('applink-review-');
  let appb: TestAppB;
  let running: RunningGateway;
  // Closed by `after` even when `before` fails half-way.
  const started = resources();
  before(async () => {
    started.defer(() => t.cleanup());
    appb = started.add(await startTestAppB({ consumers: { 'applink-gateway': { rsaPublicKeyPem: rsaPair(1).publicPem, impersonation: true } } }), (a) => a.stop());
    const obj = testConfigObject(t, { upstreamUrl: appb.url, publicBaseUrl: PUBLIC_BASE });
    obj.userAuth = { mode: 'trusted-header', header: 'X-Remote-User', trustedSources: ['127.0.0.1/32'] };
    running = started.add(await startGateway({ cfg: runtimeConfig(t, obj), log: createLogger({ level: 'silent' }), defaultMetrics: false }), (r) => r.close());
  });
  after(() => started.close());

  async function accessToken(user: string): Promise<{ token: string; secret: string }> {
    const store = running.gw.store;
    const rt = await store.createRequestToken({ linkId: LINK_ID, consumerKey: 'app-a', callback: 'oob', version: '1.0a', ttlSeconds: 600 });
    const approved = await store.approveRequestToken(rt.token, user);
    assert.ok(approved.ok);
    const ex = await store.exchangeRequestToken(rt.token, { consumerKey: 'app-a', verifier: approved.token.verifier, accessTtlSeconds: 3600 });
    assert.ok(ex.ok);
    return { token: ex.access.token, secret: ex.access.secret };
  }

  /** Like send(), from a chosen loopback source address. */
  function sendFrom(localAddress: string, target: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    const u = new URL(running.publicUrl);
    return new Promise((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, path: target, headers, localAddress, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('dropped on a verified (3LO) request from the trusted source, in both spellings', async () => {
    const token = await accessToken('alice');
    const target = '/rest/api/2/myself';
    const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token });
    const r = await send(running.publicUrl, { target, headers: { authorization, 'x-remote-user': 'admin', x_remote_user: 'admin' } });
    assert.equal(r.status, 200, r.text);
    const seen = r.appb();
    assert.equal(seen.user, 'alice');
    assert.deepEqual(appb.header(seen, 'x-remote-user'), []);
    assert.deepEqual(appb.header(seen, 'x_remote_user'), []);
  });

  it('kept on unsigned traffic from the trusted source; dropped from any other source', async () => {
    const trusted = await sendFrom('127.0.0.1', '/browse/A-1', { 'x-remote-user': 'carol' });
    assert.equal(trusted.status, 200, trusted.body);
    assert.deepEqual(appb.header(appb.requests.at(-1)!, 'x-remote-user'), ['carol']);
    const other = await sendFrom('127.0.0.2', '/browse/A-2', { 'x-remote-user': 'carol' });
    assert.equal(other.status, 200, other.body);
    assert.deepEqual(appb.header(appb.requests.at(-1)!, 'x-remote-user'), []);
  });
});

describe('transfer codings: only plain chunked is relayed, and AppB is told exactly that', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header', store: 'memory' });
  });
  after(() => h?.close());

  const chunked = (te: string, body: string) =>
    `POST /rest/api/2/attachment HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: ${te}\r\nConnection: close\r\n\r\n` +
    `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`;

  it('a coding list (gzip, chunked / identity, chunked) → 501, AppB gets nothing', async () => {
    const before = h.appb.requests.length;
    for (const te of ['gzip, chunked', 'identity, chunked', 'deflate,chunked']) {
      const out = await rawExchange(h.url, chunked(te, 'payload'));
      assert.match(out, /^HTTP\/1\.1 501 /, `${te}: ${out.slice(0, 200)}`);
      assert.match(out, /Transfer-Encoding .* is not supported/);
    }
    assert.equal(h.appb.requests.length, before, 'AppB received nothing');
  });

  it('"Chunked" in another letter case is relayed as plain chunked with the body intact', async () => {
    const out = await rawExchange(h.url, chunked('Chunked', 'binary-ish payload'));
    assert.match(out, /^HTTP\/1\.1 200 /, out.slice(0, 300));
    const seen = h.appb.requests.at(-1);
    assert.ok(seen);
    assert.equal(seen.bodyText, 'binary-ish payload');
    assert.deepEqual(h.appb.header(seen, 'transfer-encoding'), ['chunked']);
  });
});
