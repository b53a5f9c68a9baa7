// Raw bytes that are not UTF-8 in the form body of a signed request: decoded leniently they would
// be signed as U+FFFD, so `a=\xff&b=1` would verify against a signature made over `a=U+FFFD&b=1`
// (many bodies, one signature) and AppB would get bytes nobody signed. Refused with 400
// parameter_rejected, as a percent-encoded %FF already is; unsigned traffic is AppB's business.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startHarness, type Harness } from '../helpers/harness.js';
import { problemOf, rawExchange, send, signWithGatewaySigner, signWithOAuth10a } from '../helpers/clients.js';

const FORM = 'application/x-www-form-urlencoded';
const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

describe('invalid UTF-8 in what an OAuth request signs', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header', store: 'memory' });
  });
  after(() => h.close());

  // What a signer produces for the U+FFFD the lenient decoding makes of the raw 0xFF.
  const signedPairs: Array<[string, string]> = [
    ['a', '\uFFFD'],
    ['b', '1'],
  ];

  for (const [signer, sign] of [
    ['src/oauth1', (target: string) => signWithGatewaySigner({ link: 'hmac', method: 'POST', target, formPairs: signedPairs })],
    ['the oauth-1.0a package', async (target: string) => signWithOAuth10a({ link: 'hmac', method: 'POST', target, formPairs: signedPairs })],
  ] as const) {
    it(`a raw 0xFF in a signed form body does not verify as U+FFFD (${signer}): 400 parameter_rejected, AppB gets nothing`, async () => {
      const target = '/rest/api/2/issue';
      // The signature itself is good: the same pairs sent as valid UTF-8 are accepted.
      const control = await send(h.url, { method: 'POST', target, body: 'a=%EF%BF%BD&b=1', headers: { 'content-type': FORM, authorization: await sign(target) } });
      assert.equal(control.status, 200, control.text);
      assert.equal(control.appb().user, 'svc-apph');

      const before = h.appb.requests.length;
      const r = await send(h.url, { method: 'POST', target, body: bytes('a=', [0xff], '&b=1'), headers: { 'content-type': FORM, authorization: await sign(target) } });
      assert.equal(r.status, 400, r.text);
      assert.equal(problemOf(r).oauth_problem, 'parameter_rejected');
      assert.equal(h.appb.requests.length, before, 'AppB got nothing');
    });
  }

  it('other invalid sequences (a truncated or overlong one, a lone continuation byte) are refused too', async () => {
    for (const bad of [[0xc3, 0x28], [0xc0, 0xaf], [0x80], [0xed, 0xa0, 0x80]]) {
      const target = '/rest/api/2/issue';
      const authorization = await signWithGatewaySigner({ link: 'hmac', method: 'POST', target, formPairs: [['a', '\uFFFD(']] });
      const r = await send(h.url, { method: 'POST', target, body: bytes('a=', bad), headers: { 'content-type': FORM, authorization } });
      assert.equal(r.status, 400, `${bad.join(',')}: ${r.text}`);
      assert.equal(problemOf(r).oauth_problem, 'parameter_rejected');
    }
  });

  it('OAuth parameters in the form body itself next to a raw 0xFF: 400 parameter_rejected', async () => {
    const r = await send(h.url, {
      method: 'POST',
      target: '/rest/api/2/issue',
      body: bytes('oauth_consumer_key=app-h&oauth_signature_method=HMAC-SHA1&oauth_signature=x&oauth_timestamp=1&oauth_nonce=n&a=', [0xff]),
      headers: { 'content-type': FORM },
    });
    assert.equal(r.status, 400, r.text);
    assert.equal(problemOf(r).oauth_problem, 'parameter_rejected');
  });

  it('at request-token too', async () => {
    const target = '/plugins/servlet/oauth/request-token';
    const sign = () => signWithGatewaySigner({ link: 'hmac', method: 'POST', target, formPairs: signedPairs, extraOAuth: { oauth_callback: 'http://apph.example.com/callback' } });
    const control = await send(h.url, { method: 'POST', target, body: 'a=%EF%BF%BD&b=1', headers: { 'content-type': FORM, authorization: await sign() } });
    assert.equal(control.status, 200, control.text);
    const r = await send(h.url, { method: 'POST', target, body: bytes('a=', [0xff], '&b=1'), headers: { 'content-type': FORM, authorization: await sign() } });
    assert.equal(r.status, 400, r.text);
    assert.equal(problemOf(r).oauth_problem, 'parameter_rejected');
  });

  it('raw bytes beyond ASCII in a request-target never reach verification (Node refuses the request line: 400)', async () => {
    const out = await rawExchange(h.url, `GET /rest/api/2/issue?a=\xff&oauth_consumer_key=app-h HTTP/1.1\r\nHost: gateway.test\r\n\r\n`);
    assert.match(out, /^HTTP\/1\.1 400 /);
  });

  it('an unsigned form body in another charset (raw Latin-1 bytes) still passes to AppB byte for byte', async () => {
    const body = bytes('name=J', [0xf6], 'rg&city=K', [0xf6], 'ln');
    const r = await send(h.url, { method: 'POST', target: '/secure/Legacy.jspa', body, headers: { 'content-type': `${FORM}; charset=ISO-8859-1` } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.appb().bodySha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(r.appb().user, null);
  });
});
