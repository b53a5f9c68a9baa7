// Logs: one JSON line per request with the documented fields, X-Request-Id honoured and
// returned, audit events marked audit: true, and no credential anywhere in any line.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { signRequest, parseForm } from '../../src/oauth1/index.js';
import { startGateway, type RunningGateway } from '../../src/server/serve.js';
import { LINK_ID, rsaPair, runtimeConfig, tempDir, testConfigObject, PUBLIC_BASE } from '../helpers/fixtures.js';
import { captureLogger, eventually, requestToken } from './helpers.js';
import { startStubAppB, type StubAppB } from '../helpers/stub-appb.js';
import { resources } from '../helpers/cleanup.js';

describe('the logger itself', () => {
  it('redacts credentials by key at any depth and inside strings, and keeps handles', () => {
    const cap = captureLogger();
    const err = new Error('callback failed for https://appa.example.com/cb?oauth_token=TOKVALUE123&oauth_verifier=VERIFIER123');
    cap.log.info(
      {
        req: { headers: { authorization: 'OAuth oauth_signature="SIGVALUE123"', Cookie: 'JSESSIONID=COOKIE123', 'set-cookie': ['a=SETCOOKIE123'] } },
        token: 'TOKVALUE123',
        nested: { deeper: { oauth_token_secret: 'TOKSECRET123', tokenSecret: 'TOKSECRET456', sessionHandle: 'SESSION123', password: 'PASSWORD123' } },
        list: [{ oauth_verifier: 'VERIFIER456' }],
        location: '/cb?oauth_token=TOKVALUE456&oauth_verifier=VERIFIER789&state=visible-state',
        header: 'OAuth oauth_consumer_key="app-a", oauth_token="TOKVALUE789", oauth_signature="SIGVALUE456"',
        bearer: 'Bearer eyJhbGciOiJSUzI1NiJ9.JWTBODY123.SIG',
        tokenHandle: 'visible-handle-1',
        handle: 'visible-handle-2',
        err,
      },
      'test line',
    );
    const raw = cap.raw.join('');
    for (const secret of ['TOKVALUE', 'VERIFIER', 'SIGVALUE', 'COOKIE123', 'TOKSECRET', 'SESSION123', 'PASSWORD123', 'JWTBODY123']) {
      assert.ok(!raw.includes(secret), `${secret} leaked: ${raw}`);
    }
    const line = cap.lines[0] as Record<string, unknown>;
    assert.equal(line.tokenHandle, 'visible-handle-1');
    assert.equal(line.handle, 'visible-handle-2');
    assert.match(String(line.location), /state=visible-state/);
    assert.match(String(line.header), /oauth_consumer_key="app-a"/);
    assert.match(String((line.err as Record<string, unknown>).message), /^callback failed for https:\/\/appa\.example\.com\/cb\?oauth_token=\[redacted\]/);
  });
});

describe('request and audit lines of the public port', () => {
  const t = tempDir();
  const cap = captureLogger('info');
  let running: RunningGateway;
  let appB: StubAppB;

  // Closed by `after` even when `before` fails half-way.
  const res = resources();
  before(async () => {
    res.defer(() => t.cleanup());
    appB = res.add(await startStubAppB(), (a) => a.close());
    running = res.add(await startGateway({ cfg: runtimeConfig(t, testConfigObject(t, { upstreamUrl: appB.url })), log: cap.log }), (r) => r.close());
  });
  after(() => res.close());

  const requestLine = (requestId: string) => eventually(() => cap.lines.find((l) => l.msg === 'request' && l.requestId === requestId), `the request line of ${requestId}`);

  it('logs an unsigned request with the X-Request-Id it came with, and returns it', async () => {
    const r = await fetch(`${running.publicUrl}/browse/PRJ-1?x=1`, { headers: { 'X-Request-Id': 'req-abc.123', Cookie: 'JSESSIONID=BROWSERCOOKIE1' } });
    await r.arrayBuffer();
    assert.equal(r.headers.get('x-request-id'), 'req-abc.123');
    const line = await requestLine('req-abc.123');
    assert.equal(line.level, 'info');
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/browse/PRJ-1');
    assert.equal(line.flow, 'unsigned');
    assert.equal(line.status, r.status);
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(typeof line.time, 'string');
    assert.ok(!cap.raw.join('').includes('BROWSERCOOKIE1'));
  });

  it('replaces a malformed X-Request-Id with its own', async () => {
    const r = await fetch(`${running.publicUrl}/x`, { headers: { 'X-Request-Id': 'bad id with spaces {}' } });
    await r.arrayBuffer();
    const id = r.headers.get('x-request-id') ?? '';
    assert.match(id, /^[0-9a-f-]{36}$/);
    await requestLine(id);
  });

  it('logs a refused signed request: flow, link, consumer key, outcome and problem, no signature', async () => {
    const r = await requestToken(running.publicUrl, { consumerKey: 'app-a', privatePem: rsaPair(3).privatePem, headers: { 'X-Request-Id': 'refused-1', Cookie: 'JSESSIONID=SECRETCOOKIE2' } });
    assert.equal(r.status, 401);
    await r.arrayBuffer();
    const line = await requestLine('refused-1');
    assert.equal(line.flow, 'dance');
    assert.equal(line.link, LINK_ID);
    assert.equal(line.consumerKey, 'app-a');
    assert.equal(line.outcome, 'refused');
    assert.equal(line.problem, 'signature_invalid');
    assert.equal(line.status, 401);
    const raw = cap.raw.join('');
    assert.ok(!raw.includes('SECRETCOOKIE2'));
    assert.ok(!/oauth_signature=(?!"?\[redacted\])/.test(raw), 'no signature value in any line');
  });

  it('writes an audit line for an issued token and never the token, its secret or a verifier', async () => {
    const r = await requestToken(running.publicUrl, { consumerKey: 'app-a', privatePem: rsaPair(0).privatePem, headers: { 'X-Request-Id': 'issue-1' } });
    assert.equal(r.status, 200);
    const issued = Object.fromEntries(parseForm(await r.text()));
    const token = issued.oauth_token ?? '';
    const secret = issued.oauth_token_secret ?? '';
    assert.ok(token && secret);
    const audit = await eventually(() => cap.lines.find((l) => l.audit === true && l.event === 'token_issued' && l.link === LINK_ID), 'the audit line');
    assert.equal(typeof audit.handle, 'string');
    await requestLine('issue-1');

    // An exchange with a wrong verifier, carrying the token: refused, and still nothing secret logged.
    const signed = await signRequest({
      method: 'POST',
      url: `${PUBLIC_BASE}/plugins/servlet/oauth/access-token`,
      consumerKey: 'app-a',
      signatureMethod: 'RSA-SHA1',
      privateKey: createPrivateKey(rsaPair(0).privatePem),
      token,
      tokenSecret: secret,
      extraOAuth: { oauth_verifier: 'WRONGVERIFIER99' },
    });
    const x = await fetch(`${running.publicUrl}/plugins/servlet/oauth/access-token`, { method: 'POST', headers: { Authorization: signed.authorization, 'X-Request-Id': 'exchange-1' } });
    assert.equal(x.status, 401);
    await x.arrayBuffer();
    const line = await requestLine('exchange-1');
    assert.equal(line.outcome, 'refused');
    const raw = cap.raw.join('');
    for (const s of [token, secret, 'WRONGVERIFIER99', signed.oauthParams.oauth_signature ?? '']) {
      assert.ok(!raw.includes(s), `a credential leaked into the logs: ${s.slice(0, 6)}…`);
    }
    // Every line parses as JSON and names the service.
    for (const l of cap.lines) assert.equal(l.service, 'applink-gateway');
  });
});
