// A real third-party OAuth client as AppA: Python's requests-oauthlib signs (header, query or
// form body; 2LO without any oauth_token, as oauthlib sends it) and talks to the gateway as its
// HTTP proxy (absolute-form request-targets); the test AppB verifies the gateway's re-signature.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { requirePrerequisites } from '../helpers/prerequisites.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { sendWithRequestsOAuthlib } from '../helpers/clients.js';
import type { AppBRequest } from '../helpers/appb.js';

describe('requests-oauthlib as AppA (oauth1 HMAC identity, Redis store)', () => {
  let h: Harness;
  before(async () => {
    // The clients are Python's requests-oauthlib: missing, this fails at once, before anything is started.
    requirePrerequisites('python:requests_oauthlib');
    h = await startHarness({ identity: 'oauth1-hmac' });
  });
  after(() => h?.close());

  const appbSaw = (text: string) => JSON.parse(text) as AppBRequest;

  it('3LO, RSA-SHA1, OAuth parameters in the Authorization header', async () => {
    const token = await h.accessToken('rsa', 'alice');
    const r = await sendWithRequestsOAuthlib(h.url, { link: 'rsa', method: 'GET', target: '/rest/api/2/myself?expand=groups', token });
    assert.equal(r.status, 200, r.text);
    const seen = appbSaw(r.text);
    assert.equal(seen.user, 'alice');
    assert.equal(seen.target, '/rest/api/2/myself?expand=groups&xoauth_requestor_id=alice');
  });

  it('plain 2LO without any oauth_token (as oauthlib signs it), HMAC-SHA1 → the executeAs user', async () => {
    const r = await sendWithRequestsOAuthlib(h.url, { link: 'hmac', method: 'GET', target: '/rest/api/2/serverInfo' });
    assert.equal(r.status, 200, r.text);
    assert.equal(appbSaw(r.text).user, 'svc-apph');
  });

  it('2LOi, xoauth_requestor_id in the query, RSA-SHA1', async () => {
    const r = await sendWithRequestsOAuthlib(h.url, { link: 'rsa', method: 'GET', target: '/rest/api/2/myself?xoauth_requestor_id=bob' });
    assert.equal(r.status, 200, r.text);
    const seen = appbSaw(r.text);
    assert.equal(seen.user, 'bob');
    assert.deepEqual(seen.queryPairs, [['xoauth_requestor_id', 'bob']], "AppA's requestor replaced by the gateway's own");
  });

  it('3LO with the OAuth parameters in the query: they are removed before AppB', async () => {
    const token = await h.accessToken('hmac', 'carol');
    const r = await sendWithRequestsOAuthlib(h.url, { link: 'hmac', method: 'GET', target: '/rest/api/2/search?jql=a', token, signatureType: 'QUERY' });
    assert.equal(r.status, 200, r.text);
    const seen = appbSaw(r.text);
    assert.equal(seen.user, 'carol');
    assert.equal(seen.target, '/rest/api/2/search?jql=a&xoauth_requestor_id=carol');
  });

  it('3LO POST with the OAuth parameters in the form body: they are removed, the rest of the body kept', async () => {
    const token = await h.accessToken('rsa', 'dave');
    const r = await sendWithRequestsOAuthlib(h.url, {
      link: 'rsa',
      method: 'POST',
      target: '/rest/api/2/issue/KEY-1/comment',
      token,
      signatureType: 'BODY',
      formPairs: [
        ['body', 'Hello wörld'],
        ['tag', 'a+b'],
      ],
    });
    assert.equal(r.status, 200, r.text);
    const seen = appbSaw(r.text);
    assert.equal(seen.user, 'dave');
    assert.equal(seen.bodyText, 'body=Hello+w%C3%B6rld&tag=a%2Bb');
  });

  it('a refusal reaches the client in the Problem Reporting format', async () => {
    const r = await sendWithRequestsOAuthlib(h.url, { link: 'rsa', method: 'GET', target: '/rest/api/2/myself', token: { token: 'AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', secret: 'x' } });
    assert.equal(r.status, 401);
    assert.match(r.wwwAuthenticate ?? '', /oauth_problem="token_rejected"/);
  });
});
