// Flow 1c, the gateway-initiated "Trust" dance, end to end: entry URL, sign-in, approval, the
// callback with the entry's own parameters, and the exchange of the empty-secret token by
// the `oauth` package (RSA-SHA1) and oauth-1.0a (HMAC-SHA1).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DANCE, linksOf, startHarness, type Harness } from '../helpers/harness.js';
import { Browser, decide, demoLogin, inputValue, npmConsumer, oauth10aClient, signedPost } from '../helpers/clients.js';
import { LINK_ID, HMAC_LINK_ID } from '../helpers/fixtures.js';

const ENTRY = '/plugins/servlet/applinks/oauth/login-dance/authorize';

describe('the gateway-initiated dance (flow 1c, Redis store)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      ...DANCE,
      store: 'redis',
      edit: (obj) => {
        const [a, hm] = linksOf(obj);
        a!.gatewayInitiated = true;
        hm!.gatewayInitiated = true;
      },
    });
  });
  after(() => h?.close());

  /** Entry → (signed in) → approval page; returns the token and the approval answer. */
  async function trust(browser: Browser, linkId: string, extra: string): Promise<{ token: string; answer: Awaited<ReturnType<Browser['post']>> }> {
    const entry = await browser.get(`${ENTRY}?applicationLinkID=${encodeURIComponent(linkId)}${extra}`);
    assert.equal(entry.status, 302, entry.text);
    const next = new URL(entry.location ?? '', h.url);
    assert.equal(next.pathname, '/plugins/servlet/oauth/authorize');
    const token = next.searchParams.get('oauth_token') ?? '';
    const page = await browser.get(next.pathname + next.search);
    assert.equal(page.status, 200, page.text);
    assert.equal(inputValue(page.text, 'oauth_callback'), next.searchParams.get('oauth_callback'));
    return { token, answer: await decide(browser, token) };
  }

  it('RSA link: redirects to the first callback URL with applicationLinkID and the entry parameters, exchanged by the oauth package', async () => {
    const browser = new Browser(h.url);
    await demoLogin(browser, 'alice');
    const { token, answer } = await trust(browser, LINK_ID, '&state=st%2Fa%20te&redirectUrl=%2Fsecure%2FDashboard.jspa');
    assert.equal(answer.status, 302);
    const back = new URL(answer.location ?? '');
    assert.equal(`${back.origin}${back.pathname}`, h.appACallback);
    assert.deepEqual([...back.searchParams.keys()], ['applicationLinkID', 'state', 'redirectUrl', 'oauth_token', 'oauth_verifier']);
    assert.equal(back.searchParams.get('applicationLinkID'), LINK_ID);
    assert.equal(back.searchParams.get('state'), 'st/a te');
    assert.equal(back.searchParams.get('redirectUrl'), '/secure/Dashboard.jspa');
    assert.equal(back.searchParams.get('oauth_token'), token);

    const rt = await h.store.getRequestToken(token);
    assert.equal(rt?.secret, '', 'a gateway-initiated token has an empty secret');
    const at = await npmConsumer(h, 'rsa', null).accessToken(token, '', back.searchParams.get('oauth_verifier') ?? '');
    assert.equal((await h.store.getAccessToken(at.token))?.user, 'alice');
  });

  it('HMAC link: an anonymous browser signs in first and comes back; oauth-1.0a exchanges with an empty token secret', async () => {
    const browser = new Browser(h.url);
    const first = await browser.get(`${ENTRY}?applicationLinkID=${HMAC_LINK_ID}&state=xyz`);
    assert.equal(first.status, 302);
    const login = new URL(first.location ?? '', h.url);
    assert.equal(login.pathname, '/plugins/servlet/applink-gateway/login');
    const returnPath = login.searchParams.get('return') ?? '';
    assert.equal(returnPath, `${ENTRY}?applicationLinkID=${HMAC_LINK_ID}&state=xyz`);
    const signedIn = await demoLogin(browser, 'bob', 'bob-pw', returnPath);
    assert.equal(signedIn.location, returnPath);

    const { token, answer } = await trust(browser, HMAC_LINK_ID, '&state=xyz');
    const back = new URL(answer.location ?? '');
    assert.equal(back.searchParams.get('state'), 'xyz');
    const at = await signedPost(h, oauth10aClient('hmac'), '/plugins/servlet/oauth/access-token', {
      token: { key: token, secret: '' },
      oauth: { oauth_verifier: back.searchParams.get('oauth_verifier') ?? '' },
    });
    assert.equal(at.status, 200, at.text);
    assert.equal((await h.store.getAccessToken(at.form.get('oauth_token') ?? ''))?.user, 'bob');
  });

  it('deny ends at the callback with oauth_verifier=denied and the entry parameters', async () => {
    const browser = new Browser(h.url);
    await demoLogin(browser);
    const entry = await browser.get(`${ENTRY}?applicationLinkID=${LINK_ID}&state=s1`);
    const token = new URL(entry.location ?? '', h.url).searchParams.get('oauth_token') ?? '';
    const answer = await decide(browser, token, 'deny');
    const back = new URL(answer.location ?? '');
    assert.equal(back.searchParams.get('oauth_verifier'), 'denied');
    assert.equal(back.searchParams.get('state'), 's1');
  });

  it('refuses with a clear page: unknown link (404, no redirect), missing id (400), a link that did not opt in (403)', async () => {
    const browser = new Browser(h.url);
    await demoLogin(browser);
    const unknown = await browser.get(`${ENTRY}?applicationLinkID=no-such-link`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.location, null);
    assert.match(unknown.text, /<h1>Unknown application link<\/h1>/);
    assert.equal(unknown.headers.get('x-frame-options'), 'DENY');
    assert.equal((await browser.get(ENTRY)).status, 400);
    assert.equal((await browser.get(`${ENTRY}?applicationLinkID=a&applicationLinkID=b`)).status, 400);

    h.reconfigure((obj) => {
      for (const l of linksOf(obj)) l.gatewayInitiated = false;
    });
    try {
      const refused = await browser.get(`${ENTRY}?applicationLinkID=${LINK_ID}`);
      assert.equal(refused.status, 403);
      assert.equal(refused.location, null);
      assert.match(refused.text, /Connect from within AppA instead/);
    } finally {
      h.reconfigure(() => undefined);
    }
  });

  it('an entry parameter that would forge the verifier is refused, not passed on', async () => {
    const browser = new Browser(h.url);
    await demoLogin(browser);
    const res = await browser.get(`${ENTRY}?applicationLinkID=${LINK_ID}&oauth_verifier=attacker`);
    assert.equal(res.status, 400);
    assert.equal(res.location, null);
  });
});
