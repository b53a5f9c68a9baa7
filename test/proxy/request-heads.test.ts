// Request heads the gateway accepts or refuses whole: an absolute-form request-target at the
// token endpoints, two Content-Type headers (unsigned, signed, token endpoints), and transfer
// codings (only plain chunked is relayed, and AppB is told exactly that).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { signRequest } from '../../src/oauth1/index.js';
import { PUBLIC_BASE } from '../helpers/fixtures.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { APP_A_KEY, problemOf, rawExchange, send, signWithGatewaySigner, type Sent } from '../helpers/clients.js';

function assertProblem(r: Sent, status: number, problem: string): void {
  assert.equal(r.status, status, r.text);
  assert.equal(problemOf(r).oauth_problem, problem, r.text);
}

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
