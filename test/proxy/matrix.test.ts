// The main matrix: 3LO / 2LO / 2LOi × AppA signing RSA-SHA1 / HMAC-SHA1 × every identity mode,
// each request signed by the gateway's own signer AND by the oauth-1.0a package, reaching the
// test AppB (Python) as exactly the right user, verified there independently (oauthlib for
// oauth1, Python hmac for header, PyJWT for jwt) and again here (HMAC by hand, jose for JWTs).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { startHarness, type Harness, type IdentityKind } from '../helpers/harness.js';
import { send, signWithGatewaySigner, signWithOAuth10a, type SignOptions } from '../helpers/clients.js';
import { LINKS, type LinkKind } from '../helpers/fixtures.js';
import type { AppBRequest } from '../helpers/appb.js';

type Flow = '3LO' | '2LO' | '2LOi';
const SIGNERS = { 'src/oauth1 signRequest': signWithGatewaySigner, 'oauth-1.0a package': signWithOAuth10a } as const;
const TWO_LEGGED_USER: Record<LinkKind, string> = { rsa: 'svc-appa', hmac: 'svc-apph' };

function headerOf(r: AppBRequest, name: string): string[] {
  return r.headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}

/** Checks, in this process, the identity AppB received, beyond AppB's own verdict. */
async function checkIdentityHere(h: Harness, identity: IdentityKind, seen: AppBRequest, user: string, link: LinkKind): Promise<void> {
  const auth = headerOf(seen, 'authorization');
  switch (identity) {
    case 'oauth1-rsa':
    case 'oauth1-hmac': {
      assert.equal(auth.length, 1);
      assert.match(auth[0] as string, /oauth_consumer_key="applink-gateway"/);
      assert.match(auth[0] as string, /oauth_token=""/);
      assert.match(auth[0] as string, new RegExp(`oauth_signature_method="${identity === 'oauth1-rsa' ? 'RSA-SHA1' : 'HMAC-SHA1'}"`));
      assert.deepEqual(seen.queryPairs.filter(([k]) => k === 'xoauth_requestor_id'), [['xoauth_requestor_id', user]]);
      break;
    }
    case 'header': {
      assert.deepEqual(auth, [], 'no Authorization reaches AppB in header mode');
      assert.deepEqual(headerOf(seen, 'x-forwarded-user'), [user]);
      const sig = headerOf(seen, 'x-applink-gateway-signature')[0] ?? '';
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
      assert.ok(m, `signature header format: ${sig}`);
      const mac = createHmac('sha256', h.headerSecret).update(`${m[1]}\n${seen.method}\n${seen.target}\n${user}`).digest('hex');
      assert.equal(m[2], mac, 'X-Applink-Gateway-Signature verifies with the shared secret');
      break;
    }
    case 'jwt':
    case 'jwt-eddsa': {
      assert.equal(auth.length, 1);
      const token = (auth[0] as string).replace(/^Bearer /, '');
      const jwks = (await (await fetch(`${h.adminUrl}/jwks.json`)).json()) as JSONWebKeySet;
      const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), { audience: 'https://appb.internal', issuer: 'https://gateway.test' });
      assert.equal(protectedHeader.alg, identity === 'jwt' ? 'RS256' : 'EdDSA');
      assert.equal(payload.sub, user);
      assert.equal(payload.link, LINKS[link].linkId);
      assert.ok(typeof payload.jti === 'string' && payload.jti.length > 0);
      assert.ok((payload.exp as number) - (payload.iat as number) <= 60, 'short-lived');
      break;
    }
  }
  // AppA's OAuth parameters never reach AppB, wherever they were.
  assert.ok(!seen.queryPairs.some(([k]) => k.startsWith('oauth_')), 'no oauth_* in the forwarded query');
}

const IDENTITIES: IdentityKind[] = ['oauth1-rsa', 'oauth1-hmac', 'header', 'jwt'];

for (const identity of IDENTITIES) {
  describe(`identity mode ${identity}: signed requests reach AppB as the right user`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ identity });
    });
    after(() => h?.close());

    for (const link of ['rsa', 'hmac'] as const) {
      for (const flow of ['3LO', '2LO', '2LOi'] as Flow[]) {
        for (const [signerName, signer] of Object.entries(SIGNERS)) {
          it(`${flow}, AppA signs ${LINKS[link].method} with the ${signerName}`, async () => {
            const user = flow === '3LO' ? 'alice' : flow === '2LOi' ? 'Bob' : TWO_LEGGED_USER[link];
            const target = flow === '2LOi' ? `/rest/api/2/issue/KEY-1?expand=names&xoauth_requestor_id=${user}` : '/rest/api/2/issue/KEY-1?expand=names';
            const opts: SignOptions = { link, method: 'GET', target };
            if (flow === '3LO') opts.token = await h.accessToken(link, user);
            // Atlassian clients send oauth_token="", oauthlib-style ones none: both are 2LO.
            else if (link === 'rsa') opts.emptyToken = true;
            const r = await send(h.url, { target, headers: { authorization: await signer(opts) } });
            assert.equal(r.status, 200, r.text);
            const seen = r.appb();
            assert.equal(seen.auth?.verified, true, JSON.stringify(seen));
            assert.equal(seen.user, user, 'AppB ran the request as this user');
            assert.equal(seen.path, '/rest/api/2/issue/KEY-1');
            assert.deepEqual(seen.queryPairs.filter(([k]) => k === 'expand'), [['expand', 'names']]);
            await checkIdentityHere(h, identity, seen, user, link);
          });
        }
      }
    }

    if (identity === 'jwt') {
      it("a client's own Bearer token never reaches AppB in jwt mode (it could be a replayed gateway JWT)", async () => {
        const token = await h.accessToken('rsa', 'alice');
        const target = '/rest/api/2/myself';
        const signed = await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }) } });
        const jwt = headerOf(signed.appb(), 'authorization')[0] ?? '';
        const replayed = await send(h.url, { target, headers: { authorization: jwt } });
        assert.equal(replayed.status, 200);
        assert.deepEqual(headerOf(replayed.appb(), 'authorization'), []);
        assert.equal(replayed.appb().user, null);
      });
    }
  });
}

describe('identity mode jwt with an Ed25519 key', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'jwt-eddsa' });
  });
  after(() => h?.close());

  it('signs EdDSA JWTs that AppB (PyJWT) and jose both accept, and publishes the key as JWKS', async () => {
    const token = await h.accessToken('rsa', 'carol');
    const target = '/rest/api/2/myself';
    const r = await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }) } });
    assert.equal(r.status, 200, r.text);
    const seen = r.appb();
    assert.equal(seen.user, 'carol');
    assert.equal(seen.auth?.scheme, 'jwt');
    await checkIdentityHere(h, 'jwt-eddsa', seen, 'carol', 'rsa');
    const jwks = (await (await fetch(`${h.adminUrl}/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]?.kty, 'OKP');
    assert.equal(jwks.keys[0]?.d, undefined, 'no private part in the JWKS');
  });
});

describe('the admin /jwks.json outside jwt mode', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'oauth1-hmac', store: 'memory' });
  });
  after(() => h?.close());

  it('answers 404 while the rest of the admin port keeps working', async () => {
    assert.equal((await fetch(`${h.adminUrl}/jwks.json`)).status, 404);
    assert.equal((await fetch(`${h.adminUrl}/healthz`)).status, 200);
  });

  it('memory store smoke: a 3LO token reaches AppB as its user', async () => {
    const token = await h.accessToken('hmac', 'dave');
    const target = '/browse/KEY-2';
    const r = await send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'hmac', method: 'GET', target, token }) } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.appb().user, 'dave');
  });
});
