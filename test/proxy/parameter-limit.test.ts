// server.formParameterLimit: a form body or query of very many tiny parameters. An OAuth request
// past the limit is refused (400 parameter_rejected) before its parameters are parsed or sorted;
// any other request reaches AppB byte for byte, counted but never parsed. (CPU cost is a
// benchmark matter, not asserted here.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startHarness, type Harness } from '../helpers/harness.js';
import { problemOf, send, signWithGatewaySigner, type Sent } from '../helpers/clients.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** `count` copies of one segment, '&'-joined. */
const flood = (segment: string, count: number) => Array.from({ length: count }, () => segment).join('&');

function assertParameterRejected(r: Sent): void {
  assert.equal(r.status, 400, r.text);
  assert.equal(problemOf(r).oauth_problem, 'parameter_rejected');
  assert.match(r.headers['www-authenticate'] ?? '', /^OAuth realm="[^"]*", oauth_problem="parameter_rejected"/);
}

describe('server.formParameterLimit (default 1000), oauth1 HMAC mode', () => {
  let h: Harness;
  before(async () => {
    // Room for a 1 MB flood under the byte limit: the parameter count is what is tested.
    h = await startHarness({ identity: 'oauth1-hmac', patch: { server: { formBodyLimitBytes: 2 * 1024 * 1024 } } });
  });
  after(() => h?.close());

  it('a signed request with exactly 1000 parameters (query + body) is re-signed and verified at AppB', async () => {
    const token = await h.accessToken('hmac', 'alice');
    const target = `/rest/api/2/issue?${flood('q=1', 400)}`;
    const pairs = Array.from({ length: 600 }, (_, i): [string, string] => [`f${i % 7}`, String(i)]);
    const r = await send(h.url, {
      method: 'POST',
      target,
      body: pairs.map(([k, v]) => `${k}=${v}`).join('&'),
      headers: { ...FORM, authorization: await signWithGatewaySigner({ link: 'hmac', method: 'POST', target, token, formPairs: pairs }) },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.appb().user, 'alice', JSON.stringify(r.appb().refused));
  });

  it('a signed request with a 1001st parameter in the form body → 400 parameter_rejected, AppB gets nothing', async () => {
    const token = await h.accessToken('hmac', 'alice');
    const target = '/rest/api/2/issue';
    const pairs = Array.from({ length: 1001 }, (_, i): [string, string] => ['f', String(i)]);
    const before = h.appb.requests.length;
    const r = await send(h.url, {
      method: 'POST',
      target,
      body: pairs.map(([k, v]) => `${k}=${v}`).join('&'),
      headers: { ...FORM, authorization: await signWithGatewaySigner({ link: 'hmac', method: 'POST', target, token, formPairs: pairs }) },
    });
    assertParameterRejected(r);
    assert.equal(h.appb.requests.length, before);
  });

  it('a signed request with 1001 query parameters → 400 parameter_rejected', async () => {
    const token = await h.accessToken('hmac', 'alice');
    const target = `/rest/api/2/search?${flood('a=1', 1001)}`;
    const r = await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'hmac', method: 'GET', target, token }) } });
    assertParameterRejected(r);
  });

  it('OAuth parameters inside a flooded body (even spelled %6Fauth_) or query → 400 parameter_rejected', async () => {
    for (const name of ['oauth_consumer_key', '%6Fauth_consumer_key', 'OAUTH%5Fconsumer_key']) {
      const body = `${flood('a=', 100_000)}&${name}=app-h&oauth_signature=x`;
      assertParameterRejected(await send(h.url, { method: 'POST', target: '/rest/api/2/issue', body, headers: FORM }));
    }
    assertParameterRejected(await send(h.url, { target: `/rest/api/2/search?${flood('a', 1500)}&oauth_consumer_key=app-h` }));
  });

  it('the token endpoints refuse a flooded OAuth body the same way', async () => {
    const r = await send(h.url, { method: 'POST', target: '/plugins/servlet/oauth/request-token', body: `oauth_consumer_key=app-h&${flood('a=', 100_000)}`, headers: FORM });
    assertParameterRejected(r);
  });

  for (const [label, segment] of [
    ['plain names', 'a='],
    ['percent-encoded names', '%61='],
    ['malformed names', '%C3='],
  ] as const) {
    it(`an unsigned 1 MB form of tiny parameters (${label}) reaches AppB byte for byte`, async () => {
      const body = Buffer.from(flood(segment, Math.floor((1 << 20) / (segment.length + 1))));
      const result = await send(h.url, { method: 'POST', target: '/secure/admin/EditForm.jspa', body, headers: FORM });
      assert.equal(result.status, 200, result.text);
      const seen = result.appb();
      assert.equal(seen.user, null);
      assert.equal(seen.bodyLength, body.length);
      assert.equal(seen.bodySha256, sha256(body));
    });
  }

  it('an unsigned flooded form still loses a smuggled xoauth_requestor_id, and only that', async () => {
    const head = flood('a=1', 50_000);
    const tail = flood('b=%C3%A9', 50_000);
    const r = await send(h.url, { method: 'POST', target: '/secure/admin/EditForm.jspa', body: `${head}&xoauth_requestor_id=admin&${tail}`, headers: FORM });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.appb().bodySha256, sha256(`${head}&${tail}`));
  });

  it('an unsigned request with a long query reaches AppB with the query untouched', async () => {
    const target = `/secure/IssueNavigator.jspa?${flood('id=1', 2500)}&x=%C3%A9`;
    const r = await send(h.url, { target });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.appb().target, target);
  });

  it('a browser form page refuses more fields than the limit with a readable 400 page', async () => {
    const r = await send(h.url, { method: 'POST', target: '/plugins/servlet/applink-gateway/login', body: flood('username=alice', 1001), headers: FORM });
    assert.equal(r.status, 400);
    assert.match(r.headers['content-type'] ?? '', /^text\/html/);
    assert.match(r.text, /too many fields/);
  });
});

describe('server.formParameterLimit set lower', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header', patch: { server: { formParameterLimit: 100 } } });
  });
  after(() => h?.close());

  it('101 signed parameters are refused, 100 pass', async () => {
    for (const [count, status] of [
      [100, 200],
      [101, 400],
    ] as const) {
      const token = await h.accessToken('rsa', 'alice');
      const target = `/rest/api/2/search?${flood('a=1', count)}`;
      const r = await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }) } });
      assert.equal(r.status, status, r.text);
    }
  });
});
