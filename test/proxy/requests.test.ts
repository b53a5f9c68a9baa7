// What reaches AppB, byte for byte: query encodings, paths, bodies (JSON, form POST/PUT,
// binary, a large streamed upload and download), WebSockets, and what is stripped (forged
// identity headers, a smuggled xoauth_requestor_id, untrusted X-Forwarded-*), signed or not.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { startHarness, type Harness } from '../helpers/harness.js';
import { send, signWithGatewaySigner } from '../helpers/clients.js';
import { PUBLIC_BASE } from '../helpers/fixtures.js';
import type { AppBRequest } from '../helpers/appb.js';

function headerOf(r: AppBRequest, name: string): string[] {
  return r.headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('queries and paths reach AppB unchanged and the re-signature verifies over them (oauth1 RSA)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'oauth1-rsa' });
  });
  after(() => h?.close());

  const CASES: Array<[string, string]> = [
    ["'+' as a space and %2B as a plus", '/rest/api/2/search?jql=project+%3D+KEY&plus=a%2Bb&sp=a+b'],
    ['repeated keys, in their order', '/rest/api/2/search?k=2&k=1&k=2'],
    ['empty values and a name without =', '/rest/api/2/search?empty=&flag&x='],
    ['non-ASCII values', '/rest/api/2/search?name=J%C3%B6rg&emoji=%F0%9F%98%80&cjk=%E6%97%A5%E6%9C%AC'],
    ["'//' and encoded slashes in the path (http-proxy alone would collapse them)", "/rest//api/2/a%2Fb/it's/x;param?q=1"],
    ['a bare ? with no query', '/rest/api/2/myself?'],
  ];
  for (const [name, target] of CASES) {
    it(name, async () => {
      const token = await h.accessToken('rsa', 'alice');
      const r = await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }) } });
      assert.equal(r.status, 200, r.text);
      const seen = r.appb();
      assert.equal(seen.user, 'alice', JSON.stringify(seen.refused ?? seen.auth));
      const q = target.indexOf('?');
      const query = target.slice(q + 1);
      // AppB receives the target as sent, plus the gateway's own xoauth_requestor_id.
      assert.equal(seen.target, `${target.slice(0, q)}?${query === '' ? '' : `${query}&`}xoauth_requestor_id=alice`);
    });
  }

  it('2LOi with a non-ASCII user name', async () => {
    const target = '/rest/api/2/myself?xoauth_requestor_id=J%C3%B6rg';
    const r = await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, emptyToken: true }) } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.appb().user, 'Jörg');
  });

  it('every method: DELETE, PATCH, HEAD and OPTIONS reach AppB as such, re-signed', async () => {
    for (const method of ['DELETE', 'PATCH', 'OPTIONS', 'HEAD']) {
      const token = await h.accessToken('rsa', 'alice');
      const target = `/rest/api/2/issue/KEY-9?m=${method}`;
      const r = await send(h.url, { method, target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method, target, token }) } });
      assert.equal(r.status, 200, `${method}: ${r.text}`);
      const seen = h.appb.requests.at(-1) as AppBRequest;
      assert.equal(seen.method, method);
      assert.equal(seen.user, 'alice', `${method}: ${JSON.stringify(seen.refused)}`);
    }
  });
});

describe('a context path: upstream.signatureBaseUrl https://appb.internal:8443/jira, upstream.url …/jira', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'oauth1-hmac', upstreamPath: '/jira', patch: { upstream: { signatureBaseUrl: 'https://appb.internal:8443/jira' } } });
  });
  after(() => h?.close());

  it('AppB gets /jira + the path, X-Forwarded-* describing the signed URL, and verifies the signature over it', async () => {
    const token = await h.accessToken('hmac', 'alice');
    const target = '/rest/api/2/search?jql=a+b&x=%2B';
    const r = await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'hmac', method: 'GET', target, token }) } });
    assert.equal(r.status, 200, r.text);
    const seen = r.appb();
    assert.equal(seen.user, 'alice', JSON.stringify(seen.refused));
    assert.equal(seen.target, '/jira/rest/api/2/search?jql=a+b&x=%2B&xoauth_requestor_id=alice');
    assert.deepEqual(headerOf(seen, 'x-forwarded-proto'), ['https']);
    assert.deepEqual(headerOf(seen, 'x-forwarded-host'), ['appb.internal:8443']);
    assert.deepEqual(headerOf(seen, 'x-forwarded-port'), ['8443']);
    assert.match(seen.auth?.baseString ?? '', /^GET&https%3A%2F%2Fappb.internal%3A8443%2Fjira%2Frest%2Fapi%2F2%2Fsearch&/);
  });

  it('unsigned traffic goes to /jira + the path as well, described by the public URL', async () => {
    const r = await send(h.url, { target: '/secure/Dashboard.jspa?a=1' });
    assert.equal(r.status, 200);
    const seen = r.appb();
    assert.equal(seen.target, '/jira/secure/Dashboard.jspa?a=1');
    assert.deepEqual(headerOf(seen, 'x-forwarded-host'), ['gateway.test']);
    assert.equal(seen.user, null);
  });
});

describe('bodies (oauth1 HMAC mode)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'oauth1-hmac', patch: { server: { formBodyLimitBytes: 4096 } } });
  });
  after(() => h?.close());

  it('a JSON body streams untouched', async () => {
    const token = await h.accessToken('rsa', 'alice');
    const body = JSON.stringify({ summary: 'Grüße', n: 1 });
    const target = '/rest/api/2/issue';
    const r = await send(h.url, {
      method: 'POST',
      target,
      body,
      headers: { 'content-type': 'application/json', authorization: await signWithGatewaySigner({ link: 'rsa', method: 'POST', target, token }) },
    });
    assert.equal(r.status, 200, r.text);
    const seen = r.appb();
    assert.equal(seen.user, 'alice');
    assert.equal(seen.bodySha256, sha256(body));
    assert.deepEqual(headerOf(seen, 'content-type'), ['application/json']);
  });

  for (const method of ['POST', 'PUT']) {
    it(`a ${method} form body: AppA's requestor segment removed, every other byte kept, Content-Length fixed, re-signed over it`, async () => {
      const pairs: Array<[string, string]> = [
        ['k', '2'],
        ['k', '1'],
        ['empty', ''],
        ['name', 'Jörg'],
        ['plus', 'a+b c'],
        ['xoauth_requestor_id', 'bob'],
      ];
      const raw = 'k=2&k=1&empty=&name=J%C3%B6rg&plus=a%2Bb+c&xoauth_requestor_id=bob';
      const target = '/rest/api/2/issue/KEY-1/comment';
      const r = await send(h.url, {
        method,
        target,
        body: raw,
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: await signWithGatewaySigner({ link: 'rsa', method, target, emptyToken: true, formPairs: pairs }) },
      });
      assert.equal(r.status, 200, r.text);
      const seen = r.appb();
      assert.equal(seen.user, 'bob', JSON.stringify(seen.refused));
      assert.equal(seen.bodyText, 'k=2&k=1&empty=&name=J%C3%B6rg&plus=a%2Bb+c');
      assert.deepEqual(headerOf(seen, 'content-length'), [String(seen.bodyLength)]);
    });
  }

  it('a binary body streams untouched', async () => {
    const token = await h.accessToken('hmac', 'alice');
    const body = randomBytes(200_000);
    const target = '/rest/api/2/attachment';
    const r = await send(h.url, {
      method: 'POST',
      target,
      body,
      headers: { 'content-type': 'application/octet-stream', authorization: await signWithGatewaySigner({ link: 'hmac', method: 'POST', target, token }) },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.appb().user, 'alice');
    assert.equal(r.appb().bodySha256, sha256(body));
  });

  it('a large chunked upload (32 MiB, far over the form limit) streams through, signed', async () => {
    const token = await h.accessToken('hmac', 'alice');
    const block = randomBytes(1 << 20);
    const hash = createHash('sha256');
    async function* chunks() {
      for (let i = 0; i < 32; i++) {
        hash.update(block);
        yield block;
      }
    }
    const target = '/rest/api/2/attachment?big=1';
    const r = await send(h.url, {
      method: 'PUT',
      target,
      body: chunks(),
      headers: { 'content-type': 'application/octet-stream', authorization: await signWithGatewaySigner({ link: 'hmac', method: 'PUT', target, token }) },
    });
    assert.equal(r.status, 200, r.text);
    const seen = r.appb();
    assert.equal(seen.user, 'alice');
    assert.equal(seen.bodyLength, 32 << 20);
    assert.equal(seen.bodySha256, hash.digest('hex'));
    assert.ok(headerOf(seen, 'transfer-encoding').length === 1, 'sent chunked, not buffered into a Content-Length');
  });

  it('a large download streams back (chunked from AppB)', async () => {
    const r = await send(h.url, { target: '/__appb/download?bytes=5000000' });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 5_000_000);
  });

  it('oauth_body_hash is checked against the raw body: right → AppB, wrong → signature_invalid', async () => {
    const body = Buffer.from('{"x":1}');
    const target = '/rest/api/2/issue';
    const good = createHash('sha1').update(body).digest('base64');
    for (const [hash, status] of [
      [good, 200],
      [createHash('sha1').update('other').digest('base64'), 401],
    ] as const) {
      const token = await h.accessToken('rsa', 'alice');
      const r = await send(h.url, {
        method: 'POST',
        target,
        body,
        headers: { 'content-type': 'application/json', authorization: await signWithGatewaySigner({ link: 'rsa', method: 'POST', target, token, extraOAuth: { oauth_body_hash: hash } }) },
      });
      assert.equal(r.status, status, r.text);
      if (status === 200) assert.equal(r.appb().bodySha256, sha256(body));
      else assert.match(r.headers['www-authenticate'] ?? '', /oauth_problem="signature_invalid"/);
    }
  });

  it('a signed form body over server.formBodyLimitBytes is refused with 413, declared or chunked (an unsigned one streams on: unsigned-bodies.test.ts)', async () => {
    const big = `a=${'x'.repeat(5000)}`;
    const token = await h.accessToken('rsa', 'alice');
    const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'POST', target: '/form', token, formPairs: [['a', 'x'.repeat(5000)]] });
    const before = h.appb.requests.length;
    const declared = await send(h.url, { method: 'POST', target: '/form', body: big, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization } });
    assert.equal(declared.status, 413);
    async function* chunked() {
      yield Buffer.from(big.slice(0, 3000));
      yield Buffer.from(big.slice(3000));
    }
    const streamed = await send(h.url, { method: 'POST', target: '/form', body: chunked(), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization } }).catch((e: Error) => e);
    // A chunked body is refused once the limit is crossed (the socket may close with the 413).
    if (!(streamed instanceof Error)) assert.equal(streamed.status, 413);
    assert.equal(h.appb.requests.length, before, 'nothing reached AppB');
  });

  it('a chunked body of DELETE, OPTIONS or GET reaches AppB as its body, never as a second request (http-proxy alone sends DELETE with Content-Length: 0)', async () => {
    const smuggled = 'GET /admin HTTP/1.1\r\nHost: appb\r\nX-Forwarded-User: admin\r\n\r\n';
    for (const method of ['DELETE', 'OPTIONS', 'GET']) {
      async function* chunked() {
        yield Buffer.from(smuggled);
      }
      const before = h.appb.requests.length;
      const r = await send(h.url, { method, target: '/rest/api/2/issue/KEY-1', body: chunked(), headers: { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' } });
      assert.equal(r.status, 200);
      await new Promise((res) => setTimeout(res, 100));
      const seen = h.appb.requests.slice(before);
      assert.deepEqual(
        seen.map((x) => `${x.method} ${x.path}`),
        [`${method} /rest/api/2/issue/KEY-1`],
        'exactly one request at AppB',
      );
      assert.equal(seen[0]?.bodyText, smuggled);
    }
  });

  it('a DELETE or OPTIONS without a body reaches AppB with Content-Length: 0; a GET with no length at all', async () => {
    for (const [method, length] of [['DELETE', '0'], ['OPTIONS', '0'], ['GET', undefined]] as const) {
      const before = h.appb.requests.length;
      const r = await send(h.url, { method, target: '/rest/api/2/issue/KEY-2' });
      assert.equal(r.status, 200);
      const seen = h.appb.requests.slice(before);
      assert.equal(seen.length, 1);
      const header = (name: string) => seen[0]?.headers.find(([n]) => n.toLowerCase() === name)?.[1];
      assert.equal(header('content-length'), length, method);
      assert.equal(header('transfer-encoding'), undefined, method);
    }
  });

  it('an unsigned form body passes byte for byte, only a smuggled xoauth_requestor_id removed', async () => {
    const raw = 'os_username=u&os_password=p%26w&xoauth_requestor_id=admin&next=%2Fdash';
    const r = await send(h.url, { method: 'POST', target: '/login.jsp', body: raw, headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' } });
    assert.equal(r.status, 200);
    const seen = r.appb();
    assert.equal(seen.bodyText, 'os_username=u&os_password=p%26w&next=%2Fdash');
    assert.equal(seen.user, null);
  });
});

describe('WebSocket upgrades (header mode)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header' });
  });
  after(() => h?.close());

  function open(url: string, headers: Record<string, string> = {}): Promise<{ hello: unknown; echo(msg: string): Promise<string>; close(): void }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const messages: string[] = [];
      const waiters: Array<(m: string) => void> = [];
      ws.on('message', (data) => {
        const m = data.toString();
        const w = waiters.shift();
        if (w) w(m);
        else messages.push(m);
      });
      const next = () => new Promise<string>((r) => (messages.length > 0 ? r(messages.shift() as string) : waiters.push(r)));
      ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode} ${String(res.headers['www-authenticate'])}`)));
      ws.on('error', reject);
      ws.on('open', () => {
        void next().then((hello) =>
          resolve({
            hello: JSON.parse(hello) as unknown,
            echo: (msg) => {
              ws.send(msg);
              return next();
            },
            close: () => ws.close(),
          }),
        );
      });
    });
  }

  it('an unsigned WebSocket is echoed by AppB, anonymous', async () => {
    const ws = await open(`${h.url.replace('http', 'ws')}/ws/echo?room=1`, { 'X-Forwarded-User': 'admin' });
    assert.deepEqual(ws.hello, { hello: null });
    assert.equal(await ws.echo('ping äö'), 'ping äö');
    assert.equal(await ws.echo('x'.repeat(70_000)), 'x'.repeat(70_000));
    ws.close();
    const seen = h.appb.requests.at(-1) as AppBRequest;
    assert.deepEqual(headerOf(seen, 'x-forwarded-user'), [], 'a forged identity header never reaches AppB');
  });

  it('a signed WebSocket handshake runs as the token user', async () => {
    const token = await h.accessToken('rsa', 'alice');
    const target = '/ws/echo?room=2';
    const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token });
    const ws = await open(`${h.url.replace('http', 'ws')}${target}`, { authorization });
    assert.deepEqual(ws.hello, { hello: 'alice' });
    assert.equal(await ws.echo('hi'), 'hi');
    ws.close();
  });

  it('a badly signed handshake is refused with the OAuth problem, never upgraded', async () => {
    const token = await h.accessToken('rsa', 'alice');
    const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target: '/ws/other', token });
    await assert.rejects(open(`${h.url.replace('http', 'ws')}/ws/echo`, { authorization }), /upgrade refused: 401 .*signature_invalid/);
  });
});

describe('forged identity headers and a smuggled requestor (header mode)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header' });
  });
  after(() => h?.close());

  const FORGED = {
    'X-Forwarded-User': 'admin',
    'X_Forwarded_User': 'admin',
    'x-forwarded_user': 'admin',
    'X-Applink-Gateway-Signature': 't=1,v1=00',
    'X-Forwarded-For': '203.0.113.9',
    'X-Forwarded-Host': 'evil.example',
    'X-Forwarded-Proto': 'https',
    Forwarded: 'for=203.0.113.9;host=evil.example',
    Connection: 'keep-alive, X-Hop-Secret',
    'X-Hop-Secret': 'should not pass',
  };

  it('an unsigned request: every forged identity header removed; X-Forwarded-* are the gateway’s', async () => {
    const r = await send(h.url, { target: '/secure/Dashboard.jspa?xoauth_requestor_id=admin&a=1', headers: { ...FORGED, Authorization: 'Basic dTpw', Cookie: 'JSESSIONID=abc' } });
    assert.equal(r.status, 200);
    const seen = r.appb();
    assert.equal(seen.user, null, 'anonymous at AppB');
    for (const name of ['x-forwarded-user', 'x_forwarded_user', 'x-forwarded_user', 'x-applink-gateway-signature', 'forwarded', 'x-hop-secret']) {
      assert.deepEqual(headerOf(seen, name), [], name);
    }
    assert.deepEqual(headerOf(seen, 'x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(headerOf(seen, 'x-forwarded-host'), ['gateway.test']);
    assert.deepEqual(headerOf(seen, 'x-forwarded-proto'), ['http']);
    assert.equal(seen.target, '/secure/Dashboard.jspa?a=1', 'a smuggled xoauth_requestor_id is removed from unsigned requests too');
    assert.deepEqual(headerOf(seen, 'authorization'), ['Basic dTpw'], "a browser's own credentials pass");
    assert.deepEqual(headerOf(seen, 'cookie'), ['JSESSIONID=abc']);
  });

  it('a signed request: AppB sees exactly one user, the token’s, even when Connection names the identity header', async () => {
    const token = await h.accessToken('rsa', 'alice');
    const target = '/rest/api/2/myself';
    const r = await send(h.url, {
      target,
      headers: {
        ...FORGED,
        Cookie: 'JSESSIONID=admin-session',
        Connection: 'X-Forwarded-User, X-Applink-Gateway-Signature',
        authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }),
      },
    });
    assert.equal(r.status, 200, r.text);
    const seen = r.appb();
    assert.equal(seen.user, 'alice');
    assert.deepEqual(headerOf(seen, 'x-forwarded-user'), ['alice']);
    assert.deepEqual(headerOf(seen, 'x_forwarded_user'), []);
    assert.deepEqual(headerOf(seen, 'authorization'), [], "AppA's Authorization never reaches AppB");
    assert.deepEqual(headerOf(seen, 'cookie'), [], 'no session cookie competes with the gateway identity');
  });

  it('a 3LO request smuggling xoauth_requestor_id or user_id is refused (parameter_rejected)', async () => {
    for (const name of ['xoauth_requestor_id', 'user_id']) {
      const token = await h.accessToken('rsa', 'alice');
      const target = `/rest/api/2/myself?${name}=admin`;
      const r = await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }) } });
      assert.equal(r.status, 400, r.text);
      assert.match(r.text, new RegExp(`oauth_problem=parameter_rejected&oauth_parameters_rejected=${name}`));
    }
  });

  it('a requestor added to a signed 2LOi request after signing breaks it (repeated or unsigned)', async () => {
    const target = '/rest/api/2/myself?xoauth_requestor_id=bob';
    const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, emptyToken: true });
    const repeated = await send(h.url, { target: `${target}&xoauth_requestor_id=admin`, headers: { authorization } });
    assert.equal(repeated.status, 400);
    assert.match(repeated.text, /oauth_problem=parameter_rejected/);
    const replaced = await send(h.url, { target: '/rest/api/2/myself?xoauth_requestor_id=admin', headers: { authorization } });
    assert.equal(replaced.status, 401);
    assert.match(replaced.text, /oauth_problem=signature_invalid/);
  });

  it('Set-Cookie headers of AppB come back as separate headers; hop-by-hop ones do not', async () => {
    const r = await send(h.url, { target: '/x' });
    const cookies = r.rawHeaders.filter((_, i) => i % 2 === 0).filter((n) => n.toLowerCase() === 'set-cookie');
    assert.equal(cookies.length, 2);
    assert.ok(r.headers['x-request-id'], 'the gateway request id');
  });
});

describe('X-Forwarded-For from server.trustedProxies', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'oauth1-rsa', store: 'memory', patch: { server: { trustedProxies: ['127.0.0.1/32'] } } });
  });
  after(() => h?.close());

  it('a trusted proxy’s chain is kept and its peer appended; its X-Forwarded-Host is believed for unsigned traffic', async () => {
    const r = await send(h.url, { target: '/x', headers: { 'X-Forwarded-For': '203.0.113.9', 'X-Forwarded-Host': 'jira.example.com', 'X-Forwarded-Proto': 'https' } });
    const seen = r.appb();
    assert.deepEqual(headerOf(seen, 'x-forwarded-for'), ['203.0.113.9, 127.0.0.1']);
    assert.deepEqual(headerOf(seen, 'x-forwarded-host'), ['jira.example.com']);
    assert.deepEqual(headerOf(seen, 'x-forwarded-port'), ['443']);
  });

  it('a signed request is still described by the signed URL, whatever the proxy says', async () => {
    const token = await h.accessToken('rsa', 'alice');
    const target = '/rest/api/2/myself';
    const r = await send(h.url, { target, headers: { 'X-Forwarded-Host': 'evil.example', authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }) } });
    assert.equal(r.status, 200, r.text);
    const seen = r.appb();
    assert.equal(seen.user, 'alice');
    assert.deepEqual(headerOf(seen, 'x-forwarded-host'), [new URL(PUBLIC_BASE).host]);
  });
});

describe('logs, audit and metrics of a forwarded request', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'oauth1-rsa' });
  });
  after(() => h?.close());

  it('one request line with flow, link, user, token handle and upstream status; an impersonation audit event; no secret anywhere', async () => {
    const token = await h.accessToken('rsa', 'alice');
    const target = '/rest/api/2/myself?secretish=1';
    const r = await send(h.url, { target, headers: { 'x-request-id': 'req-audit-1', authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }) } });
    assert.equal(r.status, 200);
    await new Promise((res) => setTimeout(res, 50));
    const line = h.logs.find((l) => l.msg === 'request' && l.requestId === 'req-audit-1');
    assert.ok(line, 'request line');
    assert.equal(line.flow, '3LO');
    assert.equal(line.user, 'alice');
    assert.equal(line.link, '0f9a3c1e-5b7d-4c1a-9e2f-3a4b5c6d7e8f');
    assert.equal(line.tokenHandle, token.handle);
    assert.equal(line.upstreamStatus, 200);
    const audit = h.logs.find((l) => l.audit === true && l.event === 'impersonation' && l.requestId === 'req-audit-1');
    assert.ok(audit, 'impersonation audit event');
    assert.equal(audit.user, 'alice');
    const all = JSON.stringify(h.logs);
    assert.ok(!all.includes(token.token) && !all.includes(token.secret), 'no token value or secret in the logs');
    const metrics = await (await fetch(`${h.adminUrl}/metrics`)).text();
    assert.match(metrics, /applink_upstream_duration_seconds_count\{flow="3LO"\} [1-9]/);
    assert.match(metrics, /applink_requests_total\{flow="3LO",outcome="ok"\} [1-9]/);
  });
});
