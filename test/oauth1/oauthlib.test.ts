// Interop with an independent implementation: Python oauthlib (/usr/bin/python3, oauthlib 3.x).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { PYTHON, missing, requirePrerequisites } from '../helpers/prerequisites.js';
import {
  baseStringUri,
  collectParams,
  isSignatureMethod,
  parseAuthorizationHeader,
  parseForm,
  signRequest,
  signatureBaseString,
  verifySignature,
  type SignatureMethod,
} from '../../src/oauth1/index.js';

// The system python, not a pyenv shim: that is where oauthlib is installed (PYTHON_BIN overrides).
// Without oauthlib these tests fail at once naming the install command; they are never skipped.
const needOauthlib = (): void => requirePrerequisites('python:oauthlib');
const haveOauthlib = missing('python:oauthlib') === null;

// Reads a JSON list of cases on stdin, signs each with oauthlib.oauth1.Client, prints what it sent.
const SCRIPT = String.raw`
import json, sys
from oauthlib.oauth1 import Client
out = []
for c in json.load(sys.stdin):
    client = Client(c['consumerKey'], client_secret=c.get('consumerSecret'),
                    resource_owner_key=c.get('token'), resource_owner_secret=c.get('tokenSecret'),
                    callback_uri=c.get('callback'), verifier=c.get('verifier'),
                    signature_method=c['signatureMethod'], signature_type=c['signatureType'],
                    rsa_key=c.get('rsaKey'), realm=c.get('realm'), nonce=c['nonce'], timestamp=c['timestamp'])
    headers = {'Content-Type': 'application/x-www-form-urlencoded'} if c.get('body') is not None else {}
    uri, h, body = client.sign(c['url'], http_method=c['method'], body=c.get('body'), headers=headers)
    out.append({'uri': uri, 'authorization': h.get('Authorization'), 'body': body})
json.dump(out, sys.stdout)
`;

interface PyCase {
  url: string;
  method: string;
  body?: string;
  consumerKey: string;
  consumerSecret?: string;
  token?: string;
  tokenSecret?: string;
  callback?: string;
  verifier?: string;
  realm?: string;
  rsaKey?: string;
  signatureMethod: SignatureMethod;
  signatureType: 'AUTH_HEADER' | 'QUERY' | 'BODY';
  nonce: string;
  timestamp: string;
}
interface PyResult {
  uri: string;
  authorization: string | null;
  body: string | null;
}

function oauthlibSign(cases: PyCase[]): PyResult[] {
  needOauthlib();
  const r = spawnSync(PYTHON, ['-c', SCRIPT], { input: JSON.stringify(cases), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as PyResult[];
}

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const RSA_PEM = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();

// URLs with the queries that trip signers up: '+', %2B, encoded names, repeats, empty values, non-ASCII.
const URLS = [
  'https://jira.example.com/rest/api/2/search?jql=project+%3D+ABC+AND+text+~+%22a%2Bb%22&maxResults=5',
  'https://jira.example.com/jira/rest/api/2/issue?c%40=1&a=2&a=1&a=&e&%E2%9C%93=%E6%97%A5%E6%9C%AC',
  'http://Example.COM:80/p/a%20b/~x?q=%F0%9F%98%80&z=%2a%21%27%28%29',
  'https://EXAMPLE.com:8443/?x=1&x=1',
  // A value that starts with U+FEFF (text pasted from Windows editors): the BOM is data, not a marker.
  'https://jira.example.com/rest/api/2/search?jql=%EF%BB%BFproject+%3D+ABC&x=a%EF%BB%BF',
];
const BODY = 'status=Hello+Ladies+%2b+Gentlemen%2C+%21&empty=&k%C3%A9y=v%C3%A4lue&dup=1&dup=1';

function splitUrl(url: string): { publicBaseUrl: string; rawPath: string; rawQuery: string } {
  const m = /^([a-zA-Z]+:\/\/[^/?#]+)([^?#]*)(?:\?([^#]*))?/.exec(url);
  assert.ok(m);
  return { publicBaseUrl: m[1] ?? '', rawPath: m[2] || '/', rawQuery: m[3] ?? '' };
}

describe('oauthlib (Python) as an independent implementation', () => {
  test('probe: oauthlib 3.x', () => {
    needOauthlib();
    const probe = spawnSync(PYTHON, ['-c', 'import oauthlib, sys; sys.stdout.write(oauthlib.__version__)'], { encoding: 'utf8' });
    assert.match(probe.stdout, /^3\./);
  });

  for (const signatureMethod of ['HMAC-SHA1', 'RSA-SHA1'] as const) {
    const secrets = signatureMethod === 'RSA-SHA1' ? { rsaKey: RSA_PEM } : { consumerSecret: 'cs+/é', tokenSecret: 'ts &x' };
    const cases: PyCase[] = URLS.flatMap((url, i) => [
      { url, method: 'GET', consumerKey: 'app-a', token: 'tok-1', ...secrets, signatureMethod, signatureType: 'AUTH_HEADER' as const, nonce: `nonce${i}get`, timestamp: '1700000000', realm: 'https://jira.example.com' },
      { url, method: 'POST', body: BODY, consumerKey: 'app-a', token: 'tok-2', ...secrets, signatureMethod, signatureType: 'AUTH_HEADER' as const, nonce: `nonce${i}post`, timestamp: '1700000001' },
    ]);
    cases.push({ url: 'https://jira.example.com/plugins/servlet/oauth/request-token', method: 'POST', consumerKey: 'app-a', callback: 'https://appa.example.com/cb?applicationLinkID=x&y=a b', ...secrets, signatureMethod, signatureType: 'AUTH_HEADER', nonce: 'cbnonce', timestamp: '1700000002' });
    cases.push({ url: 'https://jira.example.com/plugins/servlet/oauth/access-token', method: 'POST', consumerKey: 'app-a', token: 'req', verifier: 'v+r/f=', ...secrets, signatureMethod, signatureType: 'AUTH_HEADER', nonce: 'vnonce', timestamp: '1700000003' });

    describe(`${signatureMethod}: our signer produces oauthlib's signature`, () => {
      const results = haveOauthlib ? oauthlibSign(cases) : [];
      cases.forEach((c, i) => {
        test(`${c.method} ${c.url}${c.body ? ' + form body' : ''}${c.callback ? ' + oauth_callback' : ''}${c.verifier ? ' + oauth_verifier' : ''}`, async () => {
          needOauthlib();
          const py = results[i];
          assert.ok(py?.authorization);
          // Our strict parser accepts oauthlib's header format.
          const parsed = parseAuthorizationHeader(py.authorization);
          assert.ok(parsed);
          const theirs = Object.fromEntries(parsed.params);
          const extraOAuth: Record<string, string> = {};
          if (theirs.oauth_callback !== undefined) extraOAuth.oauth_callback = theirs.oauth_callback;
          if (theirs.oauth_verifier !== undefined) extraOAuth.oauth_verifier = theirs.oauth_verifier;
          const ours = await signRequest({
            method: c.method,
            url: c.url,
            ...(c.body !== undefined && { bodyPairs: parseForm(c.body) }),
            consumerKey: c.consumerKey,
            signatureMethod,
            ...(c.consumerSecret !== undefined && { consumerSecret: c.consumerSecret }),
            ...(c.tokenSecret !== undefined && { tokenSecret: c.tokenSecret }),
            ...(signatureMethod === 'RSA-SHA1' && { privateKey }),
            ...(c.token !== undefined && { token: c.token }),
            extraOAuth,
            nonce: c.nonce,
            timestamp: Number(c.timestamp),
            ...(c.realm !== undefined && { realm: c.realm }),
          });
          assert.deepEqual(ours.oauthParams, theirs);
          assert.equal(parsed.realm, c.realm);

          // And our verifier accepts the request oauthlib sent.
          const { publicBaseUrl, rawPath, rawQuery } = splitUrl(c.url);
          const collected = collectParams({ authorization: py.authorization, rawQuery, ...(c.body !== undefined && { formBody: c.body }) });
          assert.ok(collected);
          const method = collected.oauth.oauth_signature_method ?? '';
          assert.ok(isSignatureMethod(method));
          const baseString = signatureBaseString(c.method, baseStringUri(publicBaseUrl, rawPath), collected.baseParams);
          assert.equal(baseString, ours.baseString);
          assert.ok(
            verifySignature({
              method,
              baseString,
              signature: collected.oauth.oauth_signature ?? '',
              tokenSecret: c.tokenSecret ?? '',
              secureTransport: true,
              ...(c.consumerSecret !== undefined && { consumerSecret: c.consumerSecret }),
              publicKeys: [publicKey],
            }),
          );
        });
      });
    });
  }

  test('oauthlib QUERY and BODY signature types verify with our collector', () => {
    const url = 'https://jira.example.com/rest/api/2/issue?a=x+y&c%40=%2B';
    const common = { consumerKey: 'app-a', consumerSecret: 'cs', token: 't', tokenSecret: 'ts', signatureMethod: 'HMAC-SHA1' as const, timestamp: '1700000000' };
    const [query, body] = oauthlibSign([
      { ...common, url, method: 'GET', signatureType: 'QUERY', nonce: 'qnonce' },
      { ...common, url, method: 'POST', body: 'b=1+2', signatureType: 'BODY', nonce: 'bnonce' },
    ]);
    assert.ok(query && body?.body);

    const q = splitUrl(query.uri);
    const fromQuery = collectParams({ rawQuery: q.rawQuery });
    assert.equal(fromQuery?.location, 'query');
    const qBase = signatureBaseString('GET', baseStringUri(q.publicBaseUrl, q.rawPath), fromQuery?.baseParams ?? []);
    assert.ok(verifySignature({ method: 'HMAC-SHA1', baseString: qBase, signature: fromQuery?.oauth.oauth_signature ?? '', consumerSecret: 'cs', tokenSecret: 'ts', secureTransport: true }));

    const b = splitUrl(body.uri);
    const fromBody = collectParams({ rawQuery: b.rawQuery, formBody: body.body });
    assert.equal(fromBody?.location, 'body');
    const bBase = signatureBaseString('POST', baseStringUri(b.publicBaseUrl, b.rawPath), fromBody?.baseParams ?? []);
    assert.ok(verifySignature({ method: 'HMAC-SHA1', baseString: bBase, signature: fromBody?.oauth.oauth_signature ?? '', consumerSecret: 'cs', tokenSecret: 'ts', secureTransport: true }));
  });
});
