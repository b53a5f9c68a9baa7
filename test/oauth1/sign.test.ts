// Outgoing signer: published vectors, sign -> verify round trips, and where the oauth-1.0a package differs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import OAuth from 'oauth-1.0a';
import {
  baseStringUri,
  collectParams,
  formEncode,
  hmacSha1,
  isOAuthProblem,
  isSignatureMethod,
  loadRsaPrivateKey,
  loadRsaPublicKey,
  parseAuthorizationHeader,
  parseForm,
  signRequest,
  signatureBaseString,
  verifySignature,
  type SignRequestInput,
  type SignedRequest,
} from '../../src/oauth1/index.js';
import { V4_CERTIFICATE, V4_RSA_PRIVATE_KEY_PKCS8 } from './vectors.js';

interface ServerView {
  method: string;
  /** Configured public base URL (may carry a context path). */
  publicBaseUrl: string;
  /** Raw request-target path, relative to the context path. */
  rawPath: string;
  rawQuery: string;
  formBody?: string;
  secure: boolean;
  consumerSecret?: string;
  tokenSecret?: string;
  publicKeys?: KeyObject[];
}

/** What the provider does with a received request: collect, rebuild the base string, verify. */
function serverVerifies(signed: SignedRequest, view: ServerView): boolean {
  const c = collectParams({ authorization: signed.authorization, rawQuery: view.rawQuery, ...(view.formBody !== undefined && { formBody: view.formBody }) });
  assert.ok(c, 'request should carry OAuth params');
  assert.equal(c.location, 'header');
  const method = c.oauth.oauth_signature_method ?? '';
  assert.ok(isSignatureMethod(method));
  const baseString = signatureBaseString(view.method, baseStringUri(view.publicBaseUrl, view.rawPath), c.baseParams);
  return verifySignature({
    method,
    baseString,
    signature: c.oauth.oauth_signature ?? '',
    tokenSecret: view.tokenSecret ?? '',
    secureTransport: view.secure,
    ...(view.consumerSecret !== undefined && { consumerSecret: view.consumerSecret }),
    ...(view.publicKeys !== undefined && { publicKeys: view.publicKeys }),
  });
}

describe('signRequest — published vectors', () => {
  test('V2 (c) GET http://photos.example.net/photos?file=vacation.jpg&size=original', async () => {
    const signed = await signRequest({
      method: 'GET',
      url: 'http://photos.example.net/photos?file=vacation.jpg&size=original',
      consumerKey: 'dpf43f3p2l4k3l03',
      consumerSecret: 'kd94hf93k423kf44',
      token: 'nnch734d00sl2jdk',
      tokenSecret: 'pfkkdhi9sl3r4s00',
      signatureMethod: 'HMAC-SHA1',
      nonce: 'chapoH',
      timestamp: 137131202,
      realm: 'Photos',
      version: false,
    });
    assert.equal(signed.oauthParams.oauth_signature, 'MdpQcU8iPSUjWoN/UDMsK2sui9I=');
    assert.equal(
      signed.authorization,
      'OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"',
    );
  });

  test('V2 (a) with oauth_callback in extraOAuth', async () => {
    const signed = await signRequest({
      method: 'POST',
      url: 'https://photos.example.net/initiate',
      consumerKey: 'dpf43f3p2l4k3l03',
      consumerSecret: 'kd94hf93k423kf44',
      signatureMethod: 'HMAC-SHA1',
      extraOAuth: { oauth_callback: 'http://printer.example.com/ready' },
      nonce: 'wIjqoS',
      timestamp: 137131200,
      version: false,
    });
    assert.equal(signed.oauthParams.oauth_signature, '74KNZJeDHnMBp0EMJ9ZHt/XKycU=');
    assert.match(signed.authorization, /oauth_callback="http%3A%2F%2Fprinter.example.com%2Fready"/);
  });

  test('V4 RSA-SHA1 with the PKCS#8 key', async () => {
    const signed = await signRequest({
      method: 'GET',
      url: 'http://photos.example.net/photos?file=vacaction.jpg&size=original',
      consumerKey: 'dpf43f3p2l4k3l03',
      signatureMethod: 'RSA-SHA1',
      privateKey: loadRsaPrivateKey(V4_RSA_PRIVATE_KEY_PKCS8),
      nonce: '13917289812797014437',
      timestamp: 1196666512,
    });
    assert.equal(
      signed.oauthParams.oauth_signature,
      'jvTp/wX1TYtByB1m+Pbyo0lnCOLIsyGCH7wke8AUs3BpnwZJtAuEJkvQL2/9n4s5wUmUl4aCI4BwpraNx4RtEXMe5qg5T1LVTGliMRpKasKsW//e+RinhejgCuzoH26dyF8iY2ZZ/5D1ilgeijhV/vBka5twt399mXwaYdCwFYE=',
    );
  });

  test('V5 PLAINTEXT header forms', async () => {
    const base = { method: 'POST', url: 'https://server.example.com/request_temp_credentials', consumerKey: 'jd83jd92dhsh93js', consumerSecret: 'ja893SD9', signatureMethod: 'PLAINTEXT' as const };
    assert.match((await signRequest(base)).authorization, /oauth_signature="ja893SD9%26"/);
    assert.match((await signRequest({ ...base, token: 'hdk48Djdsa', tokenSecret: 'xyz4992k83j47x0b' })).authorization, /oauth_signature="ja893SD9%26xyz4992k83j47x0b"/);
  });

  test('V6 Twitter', async () => {
    const signed = await signRequest({
      method: 'POST',
      url: 'https://api.twitter.com/1.1/statuses/update.json?include_entities=true',
      bodyPairs: parseForm('status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21'),
      consumerKey: 'xvz1evFS4wEEPTGEFPHBog',
      consumerSecret: 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw',
      token: '370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb',
      tokenSecret: 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE',
      signatureMethod: 'HMAC-SHA1',
      nonce: 'kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg',
      timestamp: 1318622958,
    });
    assert.equal(signed.oauthParams.oauth_signature, 'hCtSmYh+iHYCEqBWrE7C7hYmtUk=');
  });
});

describe('signRequest — header shape and defaults', () => {
  test("oauth_token=\"\" (Atlassian 2LO), no oauth_version when version: false, realm encoded", async () => {
    const signed = await signRequest({ method: 'get', url: 'https://h/x', consumerKey: 'k', consumerSecret: 's', signatureMethod: 'HMAC-SHA1', token: '', nonce: 'n', timestamp: 5, realm: 'https://h/', version: false });
    assert.equal(
      signed.authorization,
      `OAuth realm="https%3A%2F%2Fh%2F", oauth_consumer_key="k", oauth_token="", oauth_signature_method="HMAC-SHA1", oauth_timestamp="5", oauth_nonce="n", oauth_signature="${encodeURIComponent(signed.oauthParams.oauth_signature ?? '')}"`,
    );
    assert.equal(signed.baseString, 'GET&https%3A%2F%2Fh%2Fx&oauth_consumer_key%3Dk%26oauth_nonce%3Dn%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D5%26oauth_token%3D');
    assert.equal(signed.oauthParams.oauth_signature, hmacSha1(signed.baseString, 's', ''));
  });
  test('no token: oauth_token omitted; defaults: 32-hex nonce, current timestamp, oauth_version=1.0', async () => {
    const before = Math.floor(Date.now() / 1000);
    const signed = await signRequest({ method: 'GET', url: 'https://h/x', consumerKey: 'k', consumerSecret: 's', signatureMethod: 'HMAC-SHA1' });
    const after = Math.floor(Date.now() / 1000);
    assert.equal(signed.oauthParams.oauth_token, undefined);
    assert.match(signed.oauthParams.oauth_nonce ?? '', /^[0-9a-f]{32}$/);
    const ts = Number(signed.oauthParams.oauth_timestamp);
    assert.ok(ts >= before && ts <= after);
    assert.equal(signed.oauthParams.oauth_version, '1.0');
    const again = await signRequest({ method: 'GET', url: 'https://h/x', consumerKey: 'k', consumerSecret: 's', signatureMethod: 'HMAC-SHA1' });
    assert.notEqual(again.oauthParams.oauth_nonce, signed.oauthParams.oauth_nonce);
  });
  test('our strict parser reads back exactly what the signer wrote', async () => {
    const signed = await signRequest({ method: 'GET', url: 'https://h/x', consumerKey: 'k +/é', consumerSecret: 's', signatureMethod: 'HMAC-SHA1', extraOAuth: { oauth_verifier: 'v=1&2', oauth_session_handle: 'h"\\' } });
    assert.deepEqual(Object.fromEntries(parseAuthorizationHeader(signed.authorization)?.params ?? []), signed.oauthParams);
  });
  test('fragment ignored, query kept in the base string', async () => {
    const a = await signRequest({ method: 'GET', url: 'https://h/x?a=1#frag', consumerKey: 'k', consumerSecret: 's', signatureMethod: 'HMAC-SHA1', nonce: 'n', timestamp: 1 });
    const b = await signRequest({ method: 'GET', url: 'https://h/x?a=1', consumerKey: 'k', consumerSecret: 's', signatureMethod: 'HMAC-SHA1', nonce: 'n', timestamp: 1 });
    assert.equal(a.baseString, b.baseString);
  });
});

describe('signRequest — refusals', () => {
  const base: SignRequestInput = { method: 'GET', url: 'https://h/x', consumerKey: 'k', signatureMethod: 'HMAC-SHA1' };
  test('HMAC / PLAINTEXT without consumerSecret', async () => {
    await assert.rejects(signRequest(base), /needs consumerSecret/);
    await assert.rejects(signRequest({ ...base, signatureMethod: 'PLAINTEXT' }), /needs consumerSecret/);
  });
  test('RSA without privateKey', async () => await assert.rejects(signRequest({ ...base, signatureMethod: 'RSA-SHA1' }), /needs privateKey/));
  test('extraOAuth cannot override core params or carry non-oauth names', async () => {
    await assert.rejects(signRequest({ ...base, consumerSecret: 's', extraOAuth: { oauth_signature_method: 'PLAINTEXT' } }), /cannot carry/);
    await assert.rejects(signRequest({ ...base, consumerSecret: 's', extraOAuth: { oauth_signature: 'x' } }), /cannot carry/);
    await assert.rejects(signRequest({ ...base, consumerSecret: 's', extraOAuth: { xoauth_requestor_id: 'u' } }), /cannot carry/);
  });
  test('oauth_* already in the URL or body (would be params in two places)', async () => {
    await assert.rejects(signRequest({ ...base, consumerSecret: 's', url: 'https://h/x?oauth_nonce=1' }), /oauth_nonce in the URL or body/);
    await assert.rejects(signRequest({ ...base, consumerSecret: 's', bodyPairs: [['oauth_token', 't']] }), /oauth_token in the URL or body/);
  });
  test('invalid URL', async () => await assert.rejects(signRequest({ ...base, consumerSecret: 's', url: '/relative' }), /absolute/));
  test('malformed query encoding', async () => {
    await assert.rejects(signRequest({ ...base, consumerSecret: 's', url: 'https://h/x?a=%zz' }), (e: unknown) => isOAuthProblem(e));
  });
});

describe('sign -> verify round trips', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const bodyPairs: Array<[string, string]> = [
    ['b', 'x+y'],
    ['b', 'x y'],
    ['name', '日本語'],
    ['empty', ''],
    ['c@', '%2B'],
  ];
  // Raw queries as a client would send them; decoded by the server with form rules ('+' = space).
  const queries = ['a=x+y&b=x%2By', 'c%40=1&%E2%9C%93=ok&a%2Bb=%2B', 'a=1&a=2&a=1&a=', 'e=&f&g=', 'q=%C3%A9%E6%97%A5&z=%F0%9F%98%80', 'sp=a%20b+c&t=~-._*', ''];
  type Method = SignRequestInput['signatureMethod'];
  const keysFor = (m: Method): Pick<SignRequestInput, 'consumerSecret' | 'privateKey'> =>
    m === 'RSA-SHA1' ? { privateKey } : { consumerSecret: 'c s+é&=' };
  const viewFor = (m: Method): Pick<ServerView, 'consumerSecret' | 'publicKeys'> => (m === 'RSA-SHA1' ? { publicKeys: [publicKey] } : { consumerSecret: 'c s+é&=' });

  for (const signatureMethod of ['HMAC-SHA1', 'RSA-SHA1', 'PLAINTEXT'] as const) {
    for (const rawQuery of queries) {
      test(`${signatureMethod} POST ?${rawQuery} with a form body`, async () => {
        const url = `https://h.example.com/jira/rest/api/2/issue${rawQuery === '' ? '' : `?${rawQuery}`}`;
        const signed = await signRequest({ method: 'POST', url, bodyPairs, consumerKey: 'app-a', token: 'tok', tokenSecret: 'ts/é', signatureMethod, ...keysFor(signatureMethod) });
        const view: ServerView = {
          method: 'POST',
          publicBaseUrl: 'https://h.example.com/jira',
          rawPath: '/rest/api/2/issue',
          rawQuery,
          formBody: formEncode(bodyPairs),
          secure: true,
          tokenSecret: 'ts/é',
          ...viewFor(signatureMethod),
        };
        assert.equal(serverVerifies(signed, view), true);
        if (signatureMethod === 'PLAINTEXT') {
          // PLAINTEXT does not sign the request, only proves the secrets; it is refused over http.
          assert.equal(serverVerifies(signed, { ...view, secure: false }), false);
          return;
        }
        // The server's base string is exactly the one the client signed.
        const c = collectParams({ authorization: signed.authorization, rawQuery, formBody: view.formBody ?? '' });
        assert.equal(signatureBaseString('POST', baseStringUri(view.publicBaseUrl, view.rawPath), c?.baseParams ?? []), signed.baseString);
        // Negative cases: wrong scheme, wrong secret/key, tampered query, tampered body, other context path.
        assert.equal(serverVerifies(signed, { ...view, publicBaseUrl: 'http://h.example.com/jira' }), false, 'http vs https');
        assert.equal(serverVerifies(signed, { ...view, publicBaseUrl: 'https://h.example.com' }), false, 'context path missing');
        assert.equal(serverVerifies(signed, { ...view, rawQuery: `${rawQuery}&extra=1` }), false, 'tampered query');
        assert.equal(serverVerifies(signed, { ...view, formBody: `${view.formBody ?? ''}&b=z` }), false, 'tampered body');
        assert.equal(serverVerifies(signed, { ...view, method: 'PUT' }), false, 'other method');
        if (signatureMethod === 'HMAC-SHA1') {
          assert.equal(serverVerifies(signed, { ...view, consumerSecret: 'wrong' }), false, 'wrong consumer secret');
          assert.equal(serverVerifies(signed, { ...view, tokenSecret: 'wrong' }), false, 'wrong token secret');
        } else {
          assert.equal(serverVerifies(signed, { ...view, publicKeys: [other.publicKey] }), false, 'wrong public key');
          assert.equal(serverVerifies(signed, { ...view, publicKeys: [other.publicKey, publicKey] }), true, 'rotation');
        }
      });
    }
  }

  test('2LOi: oauth_token="" and xoauth_requestor_id in the query, GET with context path', async () => {
    const signed = await signRequest({
      method: 'GET',
      url: 'HTTPS://H.Example.COM:443/jira/rest/api/2/myself?xoauth_requestor_id=j%C3%BCrgen',
      consumerKey: 'applink-gateway',
      token: '',
      signatureMethod: 'RSA-SHA1',
      privateKey,
    });
    assert.match(signed.authorization, /oauth_token=""/);
    const view: ServerView = { method: 'GET', publicBaseUrl: 'https://h.example.com/jira', rawPath: '/rest/api/2/myself', rawQuery: 'xoauth_requestor_id=j%C3%BCrgen', secure: true, publicKeys: [publicKey] };
    assert.equal(serverVerifies(signed, view), true);
    const c = collectParams({ authorization: signed.authorization, rawQuery: view.rawQuery });
    assert.deepEqual(c?.extra, { xoauth_requestor_id: 'jürgen' });
    assert.equal(c?.oauth.oauth_token, '');
  });

  test('a tampered oauth parameter in the header fails', async () => {
    const signed = await signRequest({ method: 'GET', url: 'https://h/x', consumerKey: 'k', consumerSecret: 's', signatureMethod: 'HMAC-SHA1', nonce: 'n1' });
    const tampered = { ...signed, authorization: signed.authorization.replace('oauth_nonce="n1"', 'oauth_nonce="n2"') };
    const view: ServerView = { method: 'GET', publicBaseUrl: 'https://h', rawPath: '/x', rawQuery: '', secure: true, consumerSecret: 's' };
    assert.equal(serverVerifies(signed, view), true);
    assert.equal(serverVerifies(tampered, view), false);
  });

  test('the verifier does not depend on header parameter order', async () => {
    const signed = await signRequest({ method: 'GET', url: 'https://h/x?q=1', consumerKey: 'k', consumerSecret: 's', signatureMethod: 'HMAC-SHA1' });
    const [scheme, rest] = [signed.authorization.slice(0, 6), signed.authorization.slice(6)];
    const reversed = { ...signed, authorization: scheme + rest.split(', ').reverse().join(', ') };
    assert.equal(serverVerifies(reversed, { method: 'GET', publicBaseUrl: 'https://h', rawPath: '/x', rawQuery: 'q=1', secure: false, consumerSecret: 's' }), true);
  });

  test('RSA: the certificate form of the V4 key verifies our signature with that key', async () => {
    const signed = await signRequest({ method: 'GET', url: 'https://h/x?a=x+y', consumerKey: 'k', signatureMethod: 'RSA-SHA1', privateKey: loadRsaPrivateKey(V4_RSA_PRIVATE_KEY_PKCS8) });
    assert.equal(serverVerifies(signed, { method: 'GET', publicBaseUrl: 'https://h', rawPath: '/x', rawQuery: 'a=x+y', secure: true, publicKeys: [loadRsaPublicKey(V4_CERTIFICATE)] }), true);
  });
});

describe('the oauth-1.0a package vs ours (why src/oauth1 has its own signer)', () => {
  const oauth1a = new OAuth({
    consumer: { key: 'k', secret: 's' },
    signature_method: 'HMAC-SHA1',
    hash_function: (baseString, key) => createHmac('sha1', key).update(baseString).digest('base64'),
  });
  const OAUTH = 'oauth_consumer_key%3Dk%26oauth_nonce%3Dn%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1%26oauth_version%3D1.0';
  // getParameterString merges the URL params into oauth_data in place, so each call gets a fresh object.
  const theirs = (url: string): string =>
    oauth1a.getBaseString({ url, method: 'GET' }, { oauth_consumer_key: 'k', oauth_nonce: 'n', oauth_signature_method: 'HMAC-SHA1', oauth_timestamp: 1, oauth_version: '1.0' });
  const ours = async (url: string): Promise<SignedRequest> => signRequest({ method: 'GET', url, consumerKey: 'k', consumerSecret: 's', signatureMethod: 'HMAC-SHA1', nonce: 'n', timestamp: 1 });

  const cases: Array<{ name: string; url: string; rfc: string; oauth1a: string; publicBaseUrl: string; rawPath: string; rawQuery: string }> = [
    {
      name: "'+' in the query is a space (form encoding); oauth-1.0a keeps a literal '+'",
      url: 'http://example.com/p?a=x+y',
      rfc: `GET&http%3A%2F%2Fexample.com%2Fp&a%3Dx%2520y%26${OAUTH}`,
      oauth1a: `GET&http%3A%2F%2Fexample.com%2Fp&a%3Dx%252By%26${OAUTH}`,
      publicBaseUrl: 'http://example.com',
      rawPath: '/p',
      rawQuery: 'a=x+y',
    },
    {
      name: 'encoded parameter names are decoded before re-encoding; oauth-1.0a encodes them twice',
      url: 'http://example.com/p?c%40=1',
      rfc: `GET&http%3A%2F%2Fexample.com%2Fp&c%2540%3D1%26${OAUTH}`,
      oauth1a: `GET&http%3A%2F%2Fexample.com%2Fp&c%252540%3D1%26${OAUTH}`,
      publicBaseUrl: 'http://example.com',
      rawPath: '/p',
      rawQuery: 'c%40=1',
    },
    {
      name: 'scheme/host lower-cased and default port dropped; oauth-1.0a signs the URL as given',
      url: 'HTTP://Example.COM:80/p',
      rfc: `GET&http%3A%2F%2Fexample.com%2Fp&${OAUTH}`,
      oauth1a: `GET&HTTP%3A%2F%2FExample.COM%3A80%2Fp&${OAUTH}`,
      publicBaseUrl: 'http://example.com',
      rawPath: '/p',
      rawQuery: '',
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const signed = await ours(c.url);
      assert.equal(signed.baseString, c.rfc, 'ours is the RFC 5849 base string');
      assert.equal(theirs(c.url), c.oauth1a, 'what oauth-1.0a produces');
      assert.notEqual(c.oauth1a, c.rfc);
      // Consequence: a provider following the RFC accepts our signature and refuses theirs.
      const view: ServerView = { method: 'GET', publicBaseUrl: c.publicBaseUrl, rawPath: c.rawPath, rawQuery: c.rawQuery, secure: false, consumerSecret: 's' };
      assert.equal(serverVerifies(signed, view), true);
      const theirSignature = createHmac('sha1', 's&').update(c.oauth1a).digest('base64');
      assert.equal(serverVerifies({ ...signed, authorization: signed.authorization.replace(/oauth_signature="[^"]*"/, `oauth_signature="${encodeURIComponent(theirSignature)}"`) }, view), false);
    });
  }
  test('control: on a plain URL both agree', async () => {
    const url = 'http://example.com/p?a=1&b=two';
    assert.equal((await ours(url)).baseString, theirs(url));
  });
});
