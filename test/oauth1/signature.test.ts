// Signature methods against the published vectors (V1, V2, V4, V5, V6, V7) and their negative cases.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { availableParallelism } from 'node:os';
import {
  baseStringUri,
  bodyHash,
  collectParams,
  hmacSha1,
  isSignatureMethod,
  loadRsaPrivateKey,
  loadRsaPublicKey,
  plaintextSignature,
  rsaSha1Sign,
  rsaSha1SignAsync,
  rsaSha1Verify,
  SIGN_ON_THREAD_POOL,
  safeEqual,
  signatureBaseString,
  signatureEquals,
  signingKey,
  verifySignature,
  type RequestParts,
} from '../../src/oauth1/index.js';
import { ROOT } from '../helpers/process.js';
import { V1_RSA_PRIVATE_KEY_PKCS1, V1_RSA_PUBLIC_KEY_PKCS1, V4_CERTIFICATE, V4_PUBLIC_KEY_SPKI, V4_RSA_PRIVATE_KEY_PKCS8 } from './vectors.js';

const V1_BASE =
  'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7';
const V1_CLIENT_SECRET = 'ECrDNoq1VYzzzzzzzzzyAK7TwZNtPnkqatqZZZZ';
const V1_TOKEN_SECRET = 'just-a-string    asdasd';
const V1_RSA_SHA1 =
  'mFY2KOEnlYWsTvUA+5kxuBIcvBYXu+ljw9ttVJQxKduMueGSVPCB1tK1PlqVLK738HK0t19ecBJfb6rMxUwrriw+MlBO+jpojkZIWccw1J4cAb4qu4M81DbpUAq4j/1w/QyTR4TWCODlEfN7Zfgy8+pf+TjiXfIwRC1jEWbuL1E=';

const V4_RSA_BASE =
  'GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacaction.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3D13917289812797014437%26oauth_signature_method%3DRSA-SHA1%26oauth_timestamp%3D1196666512%26oauth_version%3D1.0%26size%3Doriginal';
const V4_RSA_SHA1 =
  'jvTp/wX1TYtByB1m+Pbyo0lnCOLIsyGCH7wke8AUs3BpnwZJtAuEJkvQL2/9n4s5wUmUl4aCI4BwpraNx4RtEXMe5qg5T1LVTGliMRpKasKsW//e+RinhejgCuzoH26dyF8iY2ZZ/5D1ilgeijhV/vBka5twt399mXwaYdCwFYE=';

describe('V1 — secrets from oauthlib test_signatures.py', () => {
  test('HMAC key (encoded)', () => {
    assert.equal(signingKey(V1_CLIENT_SECRET, V1_TOKEN_SECRET), 'ECrDNoq1VYzzzzzzzzzyAK7TwZNtPnkqatqZZZZ&just-a-string%20%20%20%20asdasd');
  });
  test('HMAC-SHA1 = wsdNmjGB7lvis0UJuPAmjvX/PXw=', () => {
    assert.equal(hmacSha1(V1_BASE, V1_CLIENT_SECRET, V1_TOKEN_SECRET), 'wsdNmjGB7lvis0UJuPAmjvX/PXw=');
    assert.ok(verifySignature({ method: 'HMAC-SHA1', baseString: V1_BASE, signature: 'wsdNmjGB7lvis0UJuPAmjvX/PXw=', consumerSecret: V1_CLIENT_SECRET, tokenSecret: V1_TOKEN_SECRET, secureTransport: false }));
  });
  test('PLAINTEXT value (decoded form)', () => {
    assert.equal(plaintextSignature(V1_CLIENT_SECRET, V1_TOKEN_SECRET), 'ECrDNoq1VYzzzzzzzzzyAK7TwZNtPnkqatqZZZZ&just-a-string%20%20%20%20asdasd');
  });
  test('RSA-SHA1 with the PKCS#1 private key reproduces the published signature', async () => {
    const key = loadRsaPrivateKey(V1_RSA_PRIVATE_KEY_PKCS1);
    assert.equal(rsaSha1Sign(V1_BASE, key), V1_RSA_SHA1);
    assert.equal(await rsaSha1SignAsync(V1_BASE, key), V1_RSA_SHA1);
  });
  test('RSA-SHA1 verifies with the "RSA PUBLIC KEY" (PKCS#1) public key', () => {
    const pub = loadRsaPublicKey(V1_RSA_PUBLIC_KEY_PKCS1);
    assert.ok(rsaSha1Verify(V1_BASE, V1_RSA_SHA1, [pub]));
    assert.ok(verifySignature({ method: 'RSA-SHA1', baseString: V1_BASE, signature: V1_RSA_SHA1, tokenSecret: '', publicKeys: [pub], secureTransport: false }));
  });
  test('RSA-SHA1 fails on a tampered base string', () => {
    const pub = loadRsaPublicKey(V1_RSA_PUBLIC_KEY_PKCS1);
    assert.equal(rsaSha1Verify(V1_BASE.replace('a3%3Da', 'a3%3Db'), V1_RSA_SHA1, [pub]), false);
  });
  test('end to end: raw V1 request -> base string -> HMAC-SHA1', () => {
    const c = collectParams({
      authorization:
        'OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="djosJKDKJSD8743243%2Fjdk33klY%3D"',
      rawQuery: 'b5=%3D%253D&a3=a&c%40=&a2=r%20b',
      formBody: 'c2&a3=2+q',
    });
    assert.ok(c);
    const base = signatureBaseString('POST', baseStringUri('http://example.com', '/request'), c.baseParams);
    assert.equal(base, V1_BASE);
    assert.equal(hmacSha1(base, V1_CLIENT_SECRET, V1_TOKEN_SECRET), 'wsdNmjGB7lvis0UJuPAmjvX/PXw=');
    // The RFC's own oauth_signature cannot be recomputed (no secrets published): it must not verify.
    assert.equal(verifySignature({ method: 'HMAC-SHA1', baseString: base, signature: c.oauth.oauth_signature ?? '', consumerSecret: V1_CLIENT_SECRET, tokenSecret: V1_TOKEN_SECRET, secureTransport: false }), false);
  });
});

describe('V2 — RFC 5849 §1.2 photos.example.net, verified from the raw request', () => {
  const CLIENT_SECRET = 'kd94hf93k423kf44';
  interface Case {
    name: string;
    method: string;
    publicBaseUrl: string;
    path: string;
    parts: RequestParts;
    tokenSecret: string;
    base: string;
    signature: string;
  }
  const cases: Case[] = [
    {
      name: '(a) temporary credentials, POST https://photos.example.net/initiate',
      method: 'POST',
      publicBaseUrl: 'https://photos.example.net',
      path: '/initiate',
      parts: {
        rawQuery: '',
        authorization:
          'OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131200", oauth_nonce="wIjqoS", oauth_callback="http%3A%2F%2Fprinter.example.com%2Fready", oauth_signature="74KNZJeDHnMBp0EMJ9ZHt%2FXKycU%3D"',
      },
      tokenSecret: '',
      base: 'POST&https%3A%2F%2Fphotos.example.net%2Finitiate&oauth_callback%3Dhttp%253A%252F%252Fprinter.example.com%252Fready%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DwIjqoS%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131200',
      signature: '74KNZJeDHnMBp0EMJ9ZHt/XKycU=',
    },
    {
      name: '(b) token request, POST https://photos.example.net/token',
      method: 'POST',
      publicBaseUrl: 'https://photos.example.net',
      path: '/token',
      parts: {
        rawQuery: '',
        authorization:
          'OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="hh5s93j4hdidpola", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="walatlh", oauth_verifier="hfdp7dh39dks9884", oauth_signature="gKgrFCywp7rO0OXSjdot%2FIHF7IU%3D"',
      },
      tokenSecret: 'hdhd0244k9j7ao03',
      base: 'POST&https%3A%2F%2Fphotos.example.net%2Ftoken&oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dwalatlh%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dhh5s93j4hdidpola%26oauth_verifier%3Dhfdp7dh39dks9884',
      signature: 'gKgrFCywp7rO0OXSjdot/IHF7IU=',
    },
    {
      name: '(c) protected resource, GET http://photos.example.net/photos?file=vacation.jpg&size=original',
      method: 'GET',
      publicBaseUrl: 'http://photos.example.net',
      path: '/photos',
      parts: {
        rawQuery: 'file=vacation.jpg&size=original',
        authorization:
          'OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"',
      },
      tokenSecret: 'pfkkdhi9sl3r4s00',
      base: 'GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal',
      signature: 'MdpQcU8iPSUjWoN/UDMsK2sui9I=',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const collected = collectParams(c.parts);
      assert.ok(collected);
      assert.equal(collected.realm, 'Photos');
      assert.equal(collected.oauth.oauth_signature, c.signature);
      const base = signatureBaseString(c.method, baseStringUri(c.publicBaseUrl, c.path), collected.baseParams);
      assert.equal(base, c.base);
      assert.equal(hmacSha1(base, CLIENT_SECRET, c.tokenSecret), c.signature);
      assert.ok(verifySignature({ method: 'HMAC-SHA1', baseString: base, signature: c.signature, consumerSecret: CLIENT_SECRET, tokenSecret: c.tokenSecret, secureTransport: c.publicBaseUrl.startsWith('https') }));
      // Wrong secrets and a tampered parameter must not verify.
      assert.equal(verifySignature({ method: 'HMAC-SHA1', baseString: base, signature: c.signature, consumerSecret: 'kd94hf93k423kf45', tokenSecret: c.tokenSecret, secureTransport: true }), false);
      assert.equal(verifySignature({ method: 'HMAC-SHA1', baseString: base, signature: c.signature, consumerSecret: CLIENT_SECRET, tokenSecret: `${c.tokenSecret}x`, secureTransport: true }), false);
      const tampered = collected.baseParams.map(([n, v]): [string, string] => [n, n === 'oauth_timestamp' ? String(Number(v) + 1) : v]);
      const tamperedBase = signatureBaseString(c.method, baseStringUri(c.publicBaseUrl, c.path), tampered);
      assert.equal(verifySignature({ method: 'HMAC-SHA1', baseString: tamperedBase, signature: c.signature, consumerSecret: CLIENT_SECRET, tokenSecret: c.tokenSecret, secureTransport: true }), false);
    });
  }

  test('negative control (a): server configured for http:// -> mIPx9sQqO97OuihOwUEyB7c4/GI=, the real signature is rejected', () => {
    const collected = collectParams(cases[0]?.parts ?? { rawQuery: '' });
    assert.ok(collected);
    const base = signatureBaseString('POST', baseStringUri('http://photos.example.net', '/initiate'), collected.baseParams);
    assert.equal(hmacSha1(base, CLIENT_SECRET, ''), 'mIPx9sQqO97OuihOwUEyB7c4/GI=');
    assert.equal(verifySignature({ method: 'HMAC-SHA1', baseString: base, signature: '74KNZJeDHnMBp0EMJ9ZHt/XKycU=', consumerSecret: CLIENT_SECRET, tokenSecret: '', secureTransport: false }), false);
  });
  test('negative control (c): server configured for https:// -> 91yh92rtXzicpezVYjTDNzieVps=, the real signature is rejected', () => {
    const collected = collectParams(cases[2]?.parts ?? { rawQuery: '' });
    assert.ok(collected);
    const base = signatureBaseString('GET', baseStringUri('https://photos.example.net', '/photos'), collected.baseParams);
    assert.equal(hmacSha1(base, CLIENT_SECRET, 'pfkkdhi9sl3r4s00'), '91yh92rtXzicpezVYjTDNzieVps=');
    assert.equal(verifySignature({ method: 'HMAC-SHA1', baseString: base, signature: 'MdpQcU8iPSUjWoN/UDMsK2sui9I=', consumerSecret: CLIENT_SECRET, tokenSecret: 'pfkkdhi9sl3r4s00', secureTransport: true }), false);
  });
  test('V8: base string from the internal URL (http://internal:8080) does not verify; from publicBaseUrl it does', () => {
    const collected = collectParams(cases[2]?.parts ?? { rawQuery: '' });
    assert.ok(collected);
    const internal = signatureBaseString('GET', baseStringUri('http://internal:8080', '/photos'), collected.baseParams);
    assert.equal(verifySignature({ method: 'HMAC-SHA1', baseString: internal, signature: 'MdpQcU8iPSUjWoN/UDMsK2sui9I=', consumerSecret: CLIENT_SECRET, tokenSecret: 'pfkkdhi9sl3r4s00', secureTransport: false }), false);
  });
});

describe('V4 — HMAC-SHA1 (wiki.oauth.net §9.2)', () => {
  test('cs, "", bs -> egQqG5AJep5sJ7anhXju1unge2I=', () => assert.equal(hmacSha1('bs', 'cs', ''), 'egQqG5AJep5sJ7anhXju1unge2I='));
  test('cs, ts, bs -> VZVjXceV7JgPq/dOTnNmEfO0Fv8=', () => assert.equal(hmacSha1('bs', 'cs', 'ts'), 'VZVjXceV7JgPq/dOTnNmEfO0Fv8='));
  test('Appendix A photos example -> tR3+Ty81lMeYAr/Fid0kMTYa/WM=', () => {
    const base =
      'GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dkllo9940pd9333jh%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal';
    assert.equal(hmacSha1(base, 'kd94hf93k423kf44', 'pfkkdhi9sl3r4s00'), 'tR3+Ty81lMeYAr/Fid0kMTYa/WM=');
  });
});

describe('V4 — RSA-SHA1 (wiki.oauth.net §9.3, "Test Principal")', () => {
  test('base string from the request', () => {
    const c = collectParams({
      rawQuery: 'file=vacaction.jpg&size=original',
      authorization: 'OAuth oauth_consumer_key="dpf43f3p2l4k3l03", oauth_nonce="13917289812797014437", oauth_signature_method="RSA-SHA1", oauth_timestamp="1196666512", oauth_version="1.0"',
    });
    assert.ok(c);
    assert.equal(signatureBaseString('GET', baseStringUri('http://photos.example.net', '/photos'), c.baseParams), V4_RSA_BASE);
  });
  test('PKCS#8 private key reproduces the signature', async () => {
    const key = loadRsaPrivateKey(V4_RSA_PRIVATE_KEY_PKCS8);
    assert.equal(rsaSha1Sign(V4_RSA_BASE, key), V4_RSA_SHA1);
    assert.equal(await rsaSha1SignAsync(V4_RSA_BASE, key), V4_RSA_SHA1);
  });
  test('verifies with the CERTIFICATE', () => {
    const fromCert = loadRsaPublicKey(V4_CERTIFICATE);
    assert.ok(rsaSha1Verify(V4_RSA_BASE, V4_RSA_SHA1, [fromCert]));
    assert.ok(verifySignature({ method: 'RSA-SHA1', baseString: V4_RSA_BASE, signature: V4_RSA_SHA1, tokenSecret: '', publicKeys: [fromCert], secureTransport: false }));
  });
  test('verifies with the PUBLIC KEY (SPKI), which equals the certificate key', () => {
    const spki = loadRsaPublicKey(V4_PUBLIC_KEY_SPKI);
    assert.ok(rsaSha1Verify(V4_RSA_BASE, V4_RSA_SHA1, [spki]));
    assert.ok(spki.equals(loadRsaPublicKey(V4_CERTIFICATE)));
  });
  test('rotation: any of several keys verifies; the wrong key alone does not', () => {
    const v1 = loadRsaPublicKey(V1_RSA_PUBLIC_KEY_PKCS1);
    const v4 = loadRsaPublicKey(V4_CERTIFICATE);
    assert.ok(rsaSha1Verify(V4_RSA_BASE, V4_RSA_SHA1, [v1, v4]));
    assert.equal(rsaSha1Verify(V4_RSA_BASE, V4_RSA_SHA1, [v1]), false);
    assert.equal(rsaSha1Verify(V4_RSA_BASE, V4_RSA_SHA1, []), false);
  });
  test('a flipped signature bit does not verify', () => {
    const flipped = `${V4_RSA_SHA1[0] === 'j' ? 'k' : 'j'}${V4_RSA_SHA1.slice(1)}`;
    assert.equal(rsaSha1Verify(V4_RSA_BASE, flipped, [loadRsaPublicKey(V4_CERTIFICATE)]), false);
  });
});

describe('V5 — PLAINTEXT', () => {
  test('client secret ja893SD9, no token -> "ja893SD9&"', () => assert.equal(plaintextSignature('ja893SD9', ''), 'ja893SD9&'));
  test('with token secret -> "ja893SD9&xyz4992k83j47x0b"', () => assert.equal(plaintextSignature('ja893SD9', 'xyz4992k83j47x0b'), 'ja893SD9&xyz4992k83j47x0b'));
  test('oauthlib secrets -> encoded key', () => {
    assert.equal(plaintextSignature(V1_CLIENT_SECRET, V1_TOKEN_SECRET), 'ECrDNoq1VYzzzzzzzzzyAK7TwZNtPnkqatqZZZZ&just-a-string%20%20%20%20asdasd');
  });
  test('header forms decode to the value and verify over https', () => {
    const forms: Array<[string, string, string]> = [
      ['ja893SD9%26', 'ja893SD9', ''],
      ['ja893SD9%26xyz4992k83j47x0b', 'ja893SD9', 'xyz4992k83j47x0b'],
      ['ECrDNoq1VYzzzzzzzzzyAK7TwZNtPnkqatqZZZZ%26just-a-string%2520%2520%2520%2520asdasd', V1_CLIENT_SECRET, V1_TOKEN_SECRET],
    ];
    for (const [headerValue, cs, ts] of forms) {
      const c = collectParams({ rawQuery: '', authorization: `OAuth oauth_consumer_key="k", oauth_signature_method="PLAINTEXT", oauth_signature="${headerValue}"` });
      const signature = c?.oauth.oauth_signature ?? '';
      assert.equal(signature, plaintextSignature(cs, ts));
      assert.ok(verifySignature({ method: 'PLAINTEXT', baseString: 'ignored', signature, consumerSecret: cs, tokenSecret: ts, secureTransport: true }));
    }
  });
  test('PLAINTEXT over http is refused even with the right secret', () => {
    assert.equal(verifySignature({ method: 'PLAINTEXT', baseString: '', signature: 'ja893SD9&', consumerSecret: 'ja893SD9', tokenSecret: '', secureTransport: false }), false);
  });
  test('PLAINTEXT with a wrong secret or without a consumer secret is refused', () => {
    assert.equal(verifySignature({ method: 'PLAINTEXT', baseString: '', signature: 'ja893SD9&', consumerSecret: 'ja893SD8', tokenSecret: '', secureTransport: true }), false);
    assert.equal(verifySignature({ method: 'PLAINTEXT', baseString: '', signature: 'ja893SD9&', tokenSecret: '', secureTransport: true }), false);
    assert.equal(verifySignature({ method: 'PLAINTEXT', baseString: '', signature: 'ja893SD9&x', consumerSecret: 'ja893SD9', tokenSecret: '', secureTransport: true }), false);
  });
});

describe('V6 — Twitter "Creating a signature"', () => {
  const CONSUMER_SECRET = 'kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw';
  const TOKEN_SECRET = 'LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE';
  const BASE =
    'POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521';
  test('base string and signature from the raw request (lower-case %2b in the body)', () => {
    const c = collectParams({
      rawQuery: 'include_entities=true',
      formBody: 'status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21',
      authorization:
        'OAuth oauth_consumer_key="xvz1evFS4wEEPTGEFPHBog", oauth_nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D", oauth_signature_method="HMAC-SHA1", oauth_timestamp="1318622958", oauth_token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", oauth_version="1.0"',
    });
    assert.ok(c);
    const base = signatureBaseString('POST', baseStringUri('https://api.twitter.com', '/1.1/statuses/update.json'), c.baseParams);
    assert.equal(base, BASE);
    assert.equal(hmacSha1(base, CONSUMER_SECRET, TOKEN_SECRET), 'hCtSmYh+iHYCEqBWrE7C7hYmtUk=');
    assert.ok(verifySignature({ method: 'HMAC-SHA1', baseString: base, signature: c.oauth.oauth_signature ?? '', consumerSecret: CONSUMER_SECRET, tokenSecret: TOKEN_SECRET, secureTransport: true }));
  });
});

describe('V7 — body hash', () => {
  test('"Hello World!" -> Lve95gjOVATpfV8EL5X4nxwjKHE=', () => {
    assert.equal(bodyHash('Hello World!'), 'Lve95gjOVATpfV8EL5X4nxwjKHE=');
    assert.equal(bodyHash(Buffer.from('Hello World!')), 'Lve95gjOVATpfV8EL5X4nxwjKHE=');
  });
  test('empty body', () => assert.equal(bodyHash(''), '2jmj7l5rSw0yVb/vlWAYkK/YBwk='));
});

describe('verifySignature — missing inputs and malformed signatures never throw', () => {
  test('HMAC without consumerSecret', () => {
    assert.equal(verifySignature({ method: 'HMAC-SHA1', baseString: 'bs', signature: hmacSha1('bs', '', ''), tokenSecret: '', secureTransport: true }), false);
  });
  test('RSA without publicKeys', () => {
    assert.equal(verifySignature({ method: 'RSA-SHA1', baseString: V4_RSA_BASE, signature: V4_RSA_SHA1, tokenSecret: '', secureTransport: true }), false);
  });
  test('unknown method at runtime', () => {
    const method = 'HMAC-SHA256' as unknown as 'HMAC-SHA1';
    assert.equal(verifySignature({ method, baseString: 'bs', signature: hmacSha1('bs', 'cs', ''), consumerSecret: 'cs', tokenSecret: '', secureTransport: true }), false);
  });
  const keys = [loadRsaPublicKey(V4_CERTIFICATE)];
  for (const bad of ['', '!!!!', 'abc', 'jvTp/wX1', `${V4_RSA_SHA1}=`, `${V4_RSA_SHA1} `, V4_RSA_SHA1.replace('=', ''), `A${V4_RSA_SHA1}`, 'a'.repeat(100000)]) {
    test(`RSA with malformed base64 ${JSON.stringify(bad.slice(0, 20))}... -> false`, () => assert.equal(rsaSha1Verify(V4_RSA_BASE, bad, keys), false));
  }
  test('signature malleability: a base64 spelling with different unused trailing bits does not verify', () => {
    // V1: 128 bytes, one '=' and 2 unused bits in the last character; V4 likewise. Found by test/oauth1/properties.test.ts.
    for (const [base, sig, key] of [
      [V1_BASE, V1_RSA_SHA1, loadRsaPublicKey(V1_RSA_PUBLIC_KEY_PKCS1)],
      [V4_RSA_BASE, V4_RSA_SHA1, loadRsaPublicKey(V4_CERTIFICATE)],
    ] as const) {
      assert.ok(rsaSha1Verify(base, sig, [key]));
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      const pad = sig.length - sig.replace(/=+$/, '').length;
      const last = sig.length - pad - 1;
      const value = alphabet.indexOf(sig[last] ?? '');
      // Every other character with the same significant bits decodes to the same bytes.
      const unused = pad === 1 ? 3 : 15;
      const twins = Array.from({ length: unused + 1 }, (_, low) => alphabet[(value & ~unused) | low] as string).filter((c) => c !== sig[last]);
      assert.equal(twins.length, unused);
      for (const twin of twins) {
        const changed = sig.slice(0, last) + twin + sig.slice(last + 1);
        assert.deepEqual(Buffer.from(changed, 'base64'), Buffer.from(sig, 'base64'), 'the twin decodes to the same bytes');
        assert.equal(rsaSha1Verify(base, changed, [key]), false, `${changed.slice(-4)} verified like ${sig.slice(-4)}`);
        assert.equal(verifySignature({ method: 'RSA-SHA1', baseString: base, signature: changed, tokenSecret: '', publicKeys: [key], secureTransport: true }), false);
      }
    }
  });
  test('RSA verified against an EC key -> false, not a throw', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.equal(rsaSha1Verify(V4_RSA_BASE, V4_RSA_SHA1, [publicKey]), false);
  });
});

describe('safeEqual', () => {
  test('equal and unequal strings of any length', () => {
    assert.equal(safeEqual('abc', 'abc'), true);
    assert.equal(safeEqual('', ''), true);
    assert.equal(safeEqual('abc', 'abd'), false);
    assert.equal(safeEqual('abc', 'abcd'), false);
    assert.equal(safeEqual('', 'a'), false);
    assert.equal(safeEqual('é', 'e\u0301'), false);
  });
});

describe('signatureEquals', () => {
  test('equal only for the same bytes; lengths, multi-byte look-alikes and a bare prefix differ', () => {
    const sig = hmacSha1(V1_BASE, V1_CLIENT_SECRET, V1_TOKEN_SECRET);
    assert.equal(signatureEquals(sig, sig), true);
    assert.equal(signatureEquals(sig, `${sig.slice(0, -2)}A=`), false);
    assert.equal(signatureEquals(sig, sig.slice(0, -1)), false);
    assert.equal(signatureEquals(sig, `${sig}=`), false);
    assert.equal(signatureEquals(sig, ''), false);
    // U+0141 and 'A' share their low byte: a Latin-1 comparison would take one for the other.
    assert.equal(signatureEquals('A', '\u0141'), false);
    assert.equal(signatureEquals('é', 'e\u0301'), false);
  });
});

describe('RSA-SHA1 signing on one CPU', () => {
  test('a process limited to one CPU signs in place (no thread pool), with the same signature', { skip: spawnSync('taskset', ['-V']).status !== 0 && 'taskset (util-linux) is missing' }, () => {
    // The V4 vector computed in a child pinned to one CPU: SIGN_ON_THREAD_POOL false, a string back at once.
    const script = `
      import { SIGN_ON_THREAD_POOL, loadRsaPrivateKey, rsaSha1SignAsync } from './src/oauth1/index.ts';
      const out = rsaSha1SignAsync(process.argv[1], loadRsaPrivateKey(process.argv[2]));
      process.stdout.write(JSON.stringify({ pool: SIGN_ON_THREAD_POOL, sync: typeof out === 'string', signature: await out }));
    `;
    const r = spawnSync('taskset', ['-c', '0', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, V4_RSA_BASE, V4_RSA_PRIVATE_KEY_PKCS8], { encoding: 'utf8', cwd: ROOT });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { pool: false, sync: true, signature: V4_RSA_SHA1 });
    // This test process (several CPUs here, or not) agrees with os.availableParallelism().
    assert.equal(SIGN_ON_THREAD_POOL, availableParallelism() > 1);
  });
});

describe('isSignatureMethod', () => {
  test('case-sensitive allow-list (V8: "hmac-sha1" is not a method)', () => {
    for (const m of ['HMAC-SHA1', 'RSA-SHA1', 'PLAINTEXT']) assert.equal(isSignatureMethod(m), true);
    for (const m of ['hmac-sha1', 'HMAC-SHA256', 'RSA-SHA256', 'plaintext', '']) assert.equal(isSignatureMethod(m), false);
  });
});

describe('key loading', () => {
  test('PKCS#1 and PKCS#8 private keys, SPKI / PKCS#1 / certificate public keys', () => {
    assert.equal(loadRsaPrivateKey(V1_RSA_PRIVATE_KEY_PKCS1).type, 'private');
    assert.equal(loadRsaPrivateKey(V4_RSA_PRIVATE_KEY_PKCS8).type, 'private');
    for (const pem of [V1_RSA_PUBLIC_KEY_PKCS1, V4_PUBLIC_KEY_SPKI, V4_CERTIFICATE]) assert.equal(loadRsaPublicKey(pem).type, 'public');
  });
  test('generated keys in every PEM form load and match', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const priv1 = loadRsaPrivateKey(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
    const priv8 = loadRsaPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const spki = loadRsaPublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const pkcs1 = loadRsaPublicKey(publicKey.export({ type: 'pkcs1', format: 'pem' }).toString());
    const sig = rsaSha1Sign('bs', priv1);
    assert.equal(rsaSha1Sign('bs', priv8), sig);
    assert.ok(rsaSha1Verify('bs', sig, [spki]));
    assert.ok(rsaSha1Verify('bs', sig, [pkcs1]));
  });
  test('a private key is not accepted as a public key', () => {
    assert.throws(() => loadRsaPublicKey(V4_RSA_PRIVATE_KEY_PKCS8), /unsupported public key.*"PRIVATE KEY"/);
    assert.throws(() => loadRsaPublicKey(V1_RSA_PRIVATE_KEY_PKCS1), /"RSA PRIVATE KEY"/);
  });
  test('bare base64 and garbage are refused with a clear message', () => {
    const bare = V4_PUBLIC_KEY_SPKI.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, '');
    assert.throws(() => loadRsaPublicKey(bare), /no PEM block.*BEGIN PUBLIC KEY/);
    assert.throws(() => loadRsaPublicKey(''), /unsupported public key/);
    assert.throws(() => loadRsaPrivateKey(V4_PUBLIC_KEY_SPKI), /unsupported private key.*"PUBLIC KEY"/);
    assert.throws(() => loadRsaPrivateKey('-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n'), /unencrypted/);
  });
  test('non-RSA keys are refused', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.throws(() => loadRsaPublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString()), /ec key, RSA-SHA1 needs an RSA key/);
    assert.throws(() => loadRsaPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), /RSA-SHA1 needs an RSA key/);
  });
  test('a corrupt PEM body throws', () => {
    assert.throws(() => loadRsaPublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'));
  });
});
