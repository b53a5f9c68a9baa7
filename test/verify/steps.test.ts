// The per-request checks of src/verify/steps.ts, each step against the OAuth problem DESIGN.md section 3 names.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { isOAuthProblem, signRequest, type SignRequestInput } from '../../src/oauth1/index.js';
import type { RuntimeConfig } from '../../src/config/load.js';
import { oauthViewOf, type OAuthRequestView } from '../../src/http/request-view.js';
import { createMemoryStore } from '../../src/store/memory.js';
import {
  checkProtocolParams,
  checkSignature,
  checkSignatureMethod,
  checkTimestamp,
  findLink,
  nonceKeyOf,
  nonceTtlSeconds,
  readOAuthParams,
  requireLink,
  type SignedRequest,
} from '../../src/verify/steps.js';
import { rsaPair, runtimeConfig, tempDir, testConfigObject, APP_H_SECRET, HMAC_LINK_ID, PUBLIC_BASE } from '../helpers/fixtures.js';

const t = tempDir();
after(() => t.cleanup());

const cfg = runtimeConfig(t, testConfigObject(t));
const NOW_MS = 1_700_000_000_000;
const NOW = NOW_MS / 1000;

function link(consumerKey: string) {
  const l = cfg.linksByConsumerKey.get(consumerKey);
  assert.ok(l, consumerKey);
  return l;
}

/** Asserts that `fn` throws the named OAuth problem with its status, and returns it. */
function problemOf(fn: () => unknown, problem: string, status: 400 | 401) {
  let caught: unknown;
  assert.throws(fn, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(isOAuthProblem(caught), `expected an OAuthProblem, got ${String(caught)}`);
  assert.equal(caught.problem, problem, caught.message);
  assert.equal(caught.status, status);
  return caught;
}

/** A view of a request whose OAuth parameters are exactly `header` (name="value" pairs, already encoded). */
function headerView(header: Record<string, string>, rest: Partial<OAuthRequestView> = {}): OAuthRequestView {
  const fields = Object.entries(header).map(([k, v]) => `${k}="${v}"`);
  return { method: 'GET', rawPath: '/rest/api/2/myself', rawQuery: '', authorization: `OAuth ${fields.join(', ')}`, ...rest };
}

function stateless(view: OAuthRequestView): SignedRequest {
  const params = readOAuthParams(view);
  assert.ok(params, 'an OAuth request');
  return checkProtocolParams(view, params);
}

const COMPLETE = {
  oauth_consumer_key: 'app-h',
  oauth_signature_method: 'HMAC-SHA1',
  oauth_signature: 'c2lnbmF0dXJl',
  oauth_timestamp: String(NOW),
  oauth_nonce: 'n-1',
};

/** A request signed as a client would, then seen by the gateway at publicBaseUrl + rawPath. */
async function signed(over: Partial<SignRequestInput> & { rawPath?: string; rawQuery?: string } = {}): Promise<SignedRequest> {
  const rawPath = over.rawPath ?? '/rest/api/2/issue';
  const rawQuery = over.rawQuery ?? 'jql=project%3DX&maxResults=5';
  const signedReq = await signRequest({
    method: 'GET',
    url: `http://gateway.test${rawPath}?${rawQuery}`,
    consumerKey: 'app-h',
    signatureMethod: 'HMAC-SHA1',
    consumerSecret: APP_H_SECRET,
    timestamp: NOW,
    nonce: 'nonce-1',
    ...over,
  });
  return stateless({ method: 'GET', rawPath, rawQuery, authorization: signedReq.authorization });
}

describe('readOAuthParams', () => {
  it('null for a request without OAuth parameters (browser traffic)', () => {
    assert.equal(readOAuthParams({ method: 'GET', rawPath: '/browse/X-1', rawQuery: 'a=1' }), null);
  });
  it('collects from the Authorization header, every header given (a second one is refused)', () => {
    const view = headerView(COMPLETE);
    assert.equal(readOAuthParams(view)?.location, 'header');
    const auth = view.authorization as string;
    problemOf(() => readOAuthParams({ ...view, authorization: [auth, auth] }), 'parameter_rejected', 400);
  });
});

describe('oauthViewOf: raw bytes that are not UTF-8', () => {
  const target = (rawQuery: string) => ({ rawPath: '/rest/api/2/myself', rawQuery });
  const oauthQuery = 'oauth_consumer_key=app-h&oauth_signature=s';

  it('an OAuth request with them in its form body or raw query is parameter_rejected (not signed as U+FFFD)', () => {
    const body = Buffer.from([0x61, 0x3d, 0xff]);
    problemOf(() => readOAuthParams(oauthViewOf({ method: 'POST', target: target(oauthQuery), authorization: undefined, formBody: body })), 'parameter_rejected', 400);
    // The query as Node hands it over: a latin1 string of its raw bytes.
    problemOf(() => readOAuthParams(oauthViewOf({ method: 'GET', target: target(`${oauthQuery}&a=\xff`), authorization: undefined })), 'parameter_rejected', 400);
  });

  it('a request without OAuth parameters is not refused for them (its bytes are AppB\'s business)', () => {
    const view = oauthViewOf({ method: 'POST', target: target('q=\xe9'), authorization: undefined, formBody: Buffer.from([0x61, 0x3d, 0xe9]) });
    assert.deepEqual(view.notUtf8, ['query', 'form body']);
    assert.equal(readOAuthParams(view), null);
  });

  it('raw UTF-8 is read as UTF-8, the same parameters as their percent-encoded form', () => {
    const raw = readOAuthParams(oauthViewOf({ method: 'GET', target: target(`${oauthQuery}&name=J\xc3\xb6rg`), authorization: undefined }));
    const encoded = readOAuthParams(oauthViewOf({ method: 'GET', target: target(`${oauthQuery}&name=J%C3%B6rg`), authorization: undefined }));
    assert.deepEqual(raw?.baseParams, encoded?.baseParams);
  });
});

describe('checkProtocolParams', () => {
  it('a complete request: consumer key, method, token as sent, timestamp and nonce', () => {
    const req = stateless(headerView({ ...COMPLETE, oauth_token: 'tok', oauth_version: '1.0' }));
    assert.equal(req.consumerKey, 'app-h');
    assert.equal(req.signatureMethod, 'HMAC-SHA1');
    assert.equal(req.token, 'tok');
    assert.equal(req.timestamp, NOW);
    assert.equal(req.nonce, 'n-1');
  });

  it('oauth_token: absent stays undefined (oauthlib 2LO), empty stays "" (Atlassian 2LO)', () => {
    assert.equal(stateless(headerView(COMPLETE)).token, undefined);
    assert.equal(stateless(headerView({ ...COMPLETE, oauth_token: '' })).token, '');
  });

  for (const version of ['1.0a', '2.0', '1', '']) {
    it(`oauth_version ${JSON.stringify(version)} -> version_rejected (400)`, () => {
      problemOf(() => stateless(headerView({ ...COMPLETE, oauth_version: version })), 'version_rejected', 400);
    });
  }

  it('parameter_absent names every missing parameter in oauth_parameters_absent', () => {
    const p = problemOf(() => stateless(headerView({ oauth_consumer_key: 'app-h' })), 'parameter_absent', 400);
    assert.equal(p.params.oauth_parameters_absent, 'oauth_signature_method&oauth_signature&oauth_timestamp&oauth_nonce');
    const q = problemOf(() => stateless(headerView({ ...COMPLETE, oauth_nonce: '', oauth_consumer_key: '' })), 'parameter_absent', 400);
    assert.equal(q.params.oauth_parameters_absent, 'oauth_consumer_key&oauth_nonce', 'an empty value counts as absent');
  });

  it('parameter_absent from a query-borne request too', () => {
    const p = problemOf(() => stateless({ method: 'GET', rawPath: '/x', rawQuery: 'oauth_consumer_key=app-h&oauth_signature=s' }), 'parameter_absent', 400);
    assert.equal(p.params.oauth_parameters_absent, 'oauth_signature_method&oauth_timestamp&oauth_nonce');
  });

  it('PLAINTEXT needs oauth_timestamp and oauth_nonce as well (as net.oauth, which Atlassian runs, requires)', () => {
    // Without them every such request of a consumer shares one nonce key: the second one would be nonce_used.
    const plain = { oauth_consumer_key: 'app-h', oauth_signature_method: 'PLAINTEXT', oauth_signature: 's%26' };
    const p = problemOf(() => stateless(headerView(plain)), 'parameter_absent', 400);
    assert.equal(p.params.oauth_parameters_absent, 'oauth_timestamp&oauth_nonce');
  });

  for (const method of ['hmac-sha1', 'HMAC-SHA256', 'RSA-SHA256', 'plaintext']) {
    it(`oauth_signature_method ${method} -> signature_method_rejected (400, case-sensitive allow-list)`, () => {
      problemOf(() => stateless(headerView({ ...COMPLETE, oauth_signature_method: method })), 'signature_method_rejected', 400);
    });
  }

  for (const ts of ['abc', '-1', '1.5', '1e9', '1234567890123', ' 1']) {
    it(`oauth_timestamp ${JSON.stringify(ts)} -> parameter_rejected`, () => {
      const p = problemOf(() => stateless(headerView({ ...COMPLETE, oauth_timestamp: encodeURIComponent(ts) })), 'parameter_rejected', 400);
      assert.equal(p.params.oauth_parameters_rejected, 'oauth_timestamp');
    });
  }

  it('an oauth_nonce longer than 255 characters -> parameter_rejected', () => {
    const p = problemOf(() => stateless(headerView({ ...COMPLETE, oauth_nonce: 'n'.repeat(256) })), 'parameter_rejected', 400);
    assert.equal(p.params.oauth_parameters_rejected, 'oauth_nonce');
    assert.equal(stateless(headerView({ ...COMPLETE, oauth_nonce: 'n'.repeat(255) })).nonce.length, 255);
  });
});

describe('findLink / requireLink', () => {
  it('a configured consumer key names its link', () => {
    const req = stateless(headerView(COMPLETE));
    assert.equal(requireLink(cfg, req).id, HMAC_LINK_ID);
    assert.equal(findLink(cfg, req)?.consumerKey, 'app-h');
  });
  it('an unknown consumer key -> consumer_key_unknown (401); findLink answers null', () => {
    const req = stateless(headerView({ ...COMPLETE, oauth_consumer_key: 'nobody' }));
    assert.equal(findLink(cfg, req), null);
    problemOf(() => requireLink(cfg, req), 'consumer_key_unknown', 401);
  });
  it('consumer keys compare exactly (no case folding)', () => {
    problemOf(() => requireLink(cfg, stateless(headerView({ ...COMPLETE, oauth_consumer_key: 'APP-H' }))), 'consumer_key_unknown', 401);
  });
});

describe('checkSignatureMethod', () => {
  it('the link allows the method', () => {
    checkSignatureMethod(cfg, link('app-h'), stateless(headerView(COMPLETE)));
    checkSignatureMethod(cfg, link('app-a'), stateless(headerView({ ...COMPLETE, oauth_consumer_key: 'app-a', oauth_signature_method: 'RSA-SHA1' })));
  });
  it('a method the link does not allow -> signature_method_rejected (400)', () => {
    const hmacToRsaLink = stateless(headerView({ ...COMPLETE, oauth_consumer_key: 'app-a' }));
    problemOf(() => checkSignatureMethod(cfg, link('app-a'), hmacToRsaLink), 'signature_method_rejected', 400);
    const plaintext = stateless(headerView({ ...COMPLETE, oauth_signature_method: 'PLAINTEXT' }));
    problemOf(() => checkSignatureMethod(cfg, link('app-h'), plaintext), 'signature_method_rejected', 400);
  });
  it('PLAINTEXT over http -> signature_method_rejected, even for a link that lists it', () => {
    const httpsCfg = runtimeConfig(t, testConfigObject(t, { publicBaseUrl: 'https://gateway.test' }));
    const plainLink = { ...link('app-h'), signatureMethods: ['HMAC-SHA1', 'PLAINTEXT'] as Array<'HMAC-SHA1' | 'PLAINTEXT'> };
    const req = stateless(headerView({ ...COMPLETE, oauth_signature_method: 'PLAINTEXT' }));
    checkSignatureMethod(httpsCfg, plainLink, req);
    const overHttp: RuntimeConfig = { ...httpsCfg, publicBaseUrl: new URL(PUBLIC_BASE) };
    problemOf(() => checkSignatureMethod(overHttp, plainLink, req), 'signature_method_rejected', 400);
  });
});

describe('checkTimestamp', () => {
  const skew = cfg.config.oauth.timestampSkewSeconds;
  const at = (ts: number) => stateless(headerView({ ...COMPLETE, oauth_timestamp: String(ts) }));

  it('accepts the whole window, edges included', () => {
    for (const ts of [NOW - skew, NOW, NOW + skew]) checkTimestamp(cfg, at(ts), NOW_MS);
  });
  for (const ts of [NOW - skew - 1, NOW + skew + 1, 0, 137131201]) {
    it(`timestamp ${ts} -> timestamp_refused (400) with oauth_acceptable_timestamps`, () => {
      const p = problemOf(() => checkTimestamp(cfg, at(ts), NOW_MS), 'timestamp_refused', 400);
      assert.equal(p.params.oauth_acceptable_timestamps, `${NOW - skew}-${NOW + skew}`);
    });
  }
  it('the window follows the clock given (ms rounded down)', () => {
    const p = problemOf(() => checkTimestamp(cfg, at(NOW), NOW_MS + (skew + 1) * 1000 + 999), 'timestamp_refused', 400);
    assert.equal(p.params.oauth_acceptable_timestamps, `${NOW + 1}-${NOW + 2 * skew + 1}`);
  });
});

describe('checkSignature', () => {
  it('HMAC-SHA1 signed over publicBaseUrl + raw path verifies', async () => {
    const req = await signed();
    checkSignature(cfg, link('app-h'), req, '');
  });

  it('HMAC-SHA1 with a token secret: the right one verifies, another -> signature_invalid (401)', async () => {
    const req = await signed({ token: 'tok', tokenSecret: 'tok-secret' });
    checkSignature(cfg, link('app-h'), req, 'tok-secret');
    problemOf(() => checkSignature(cfg, link('app-h'), req, 'other-secret'), 'signature_invalid', 401);
    problemOf(() => checkSignature(cfg, link('app-h'), req, ''), 'signature_invalid', 401);
  });

  it('RSA-SHA1 verifies with the link public key', async () => {
    const privateKey = createPrivateKey(rsaPair(0).privatePem);
    const req = await signed({ consumerKey: 'app-a', signatureMethod: 'RSA-SHA1', privateKey });
    checkSignature(cfg, link('app-a'), req, '');
    // Another link's key does not.
    const other = { ...link('app-a'), publicKeys: [createPublicKey(rsaPair(1).publicPem)] };
    problemOf(() => checkSignature(cfg, other, req, ''), 'signature_invalid', 401);
  });

  it('a wrong consumer secret -> signature_invalid', async () => {
    const req = await signed({ consumerSecret: 'not-the-secret' });
    problemOf(() => checkSignature(cfg, link('app-h'), req, ''), 'signature_invalid', 401);
  });

  it('tampering with what AppB would receive -> signature_invalid', async () => {
    const good = await signed();
    const tampered = (view: Partial<OAuthRequestView>): SignedRequest => stateless({ ...good.view, ...view });
    for (const view of [
      { rawQuery: `${good.view.rawQuery}&xoauth_requestor_id=admin` },
      { rawQuery: 'jql=project%3DY&maxResults=5' },
      { rawPath: '/rest/api/2/issue/X-1' },
      { rawPath: '/REST/api/2/issue' },
      { method: 'DELETE' },
      { formBody: 'a=1' },
    ]) {
      problemOf(() => checkSignature(cfg, link('app-h'), tampered(view), ''), 'signature_invalid', 401);
    }
  });

  it('the base string uses publicBaseUrl, never the host the client chose', async () => {
    const req = await signed({ url: 'http://internal:8080/rest/api/2/issue?jql=project%3DX&maxResults=5' });
    problemOf(() => checkSignature(cfg, link('app-h'), req, ''), 'signature_invalid', 401);
  });

  it('PLAINTEXT: the secrets verify over https only', async () => {
    const httpsCfg = runtimeConfig(t, testConfigObject(t, { publicBaseUrl: 'https://gateway.test' }));
    const plainLink = { ...link('app-h'), signatureMethods: ['PLAINTEXT'] as Array<'PLAINTEXT'> };
    const req = await signed({ signatureMethod: 'PLAINTEXT', token: 'tok', tokenSecret: 'ts' });
    checkSignature(httpsCfg, plainLink, req, 'ts');
    problemOf(() => checkSignature(httpsCfg, plainLink, req, 'other'), 'signature_invalid', 401);
    problemOf(() => checkSignature(cfg, plainLink, req, 'ts'), 'signature_invalid', 401);
  });
});

describe('nonceKeyOf / nonceTtlSeconds', () => {
  it('keyed by consumer key, timestamp, nonce and token ("" for 2LO either way)', () => {
    const base = { ...COMPLETE, oauth_timestamp: '1700000000', oauth_nonce: 'abc' };
    assert.deepEqual(nonceKeyOf(stateless(headerView({ ...base, oauth_token: 'tok' }))), {
      consumerKey: 'app-h',
      timestamp: '1700000000',
      nonce: 'abc',
      token: 'tok',
    });
    assert.deepEqual(nonceKeyOf(stateless(headerView(base))), { consumerKey: 'app-h', timestamp: '1700000000', nonce: 'abc', token: '' });
    assert.deepEqual(nonceKeyOf(stateless(headerView({ ...base, oauth_token: '' }))), nonceKeyOf(stateless(headerView(base))));
  });

  it('a nonce outlives every second its timestamp is accepted: no replay at the window edge', async () => {
    const skew = cfg.config.oauth.timestampSkewSeconds;
    const ts = NOW + skew;
    const req = stateless(headerView({ ...COMPLETE, oauth_timestamp: String(ts) }));
    // First use at the earliest moment the timestamp is accepted, replay at the latest one.
    const firstUseMs = (ts - skew) * 1000;
    const replayMs = (ts + skew) * 1000 + 999;
    checkTimestamp(cfg, req, firstUseMs);
    checkTimestamp(cfg, req, replayMs);
    let clock = firstUseMs;
    const store = createMemoryStore({ now: () => clock });
    assert.equal(await store.claimNonce(nonceKeyOf(req), nonceTtlSeconds(cfg)), true);
    clock = replayMs;
    assert.equal(await store.claimNonce(nonceKeyOf(req), nonceTtlSeconds(cfg)), false, 'replayed within the accepted window');
    assert.ok(nonceTtlSeconds(cfg) * 1000 > replayMs - firstUseMs);
  });
});
