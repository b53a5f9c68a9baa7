// The browser pages: the approval page's markup and headers, escaping, CSRF, sign-in redirects,
// readable refusals; and the three userAuth modes (demo, upstream-session with a real AppB
// session endpoint, trusted-header).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DANCE, linksOf, startHarness, type Harness } from '../helpers/harness.js';
import { Browser, decide, demoLogin, inputValue, npmConsumer } from '../helpers/clients.js';
import { startStubAppB, type StubAppB } from '../helpers/stub-appb.js';
import { resources } from '../helpers/cleanup.js';

const AUTHORIZE = '/plugins/servlet/oauth/authorize';

function authorizeUrl(token: string): string {
  return `${AUTHORIZE}?oauth_token=${encodeURIComponent(token)}`;
}

describe('the approval page (demo sign-in, Redis store)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ ...DANCE, store: 'redis' });
  });
  after(() => h?.close());

  it('sends an anonymous browser to sign in and back, then shows a plain accessible form', async () => {
    const { token } = await npmConsumer(h, 'rsa', h.appACallback).requestToken();
    const browser = new Browser(h.url);
    const anonymous = await browser.get(authorizeUrl(token));
    assert.equal(anonymous.status, 302);
    assert.equal(anonymous.location, `/plugins/servlet/applink-gateway/login?return=${encodeURIComponent(authorizeUrl(token))}`);
    assert.equal(anonymous.headers.get('cache-control'), 'no-store');

    const login = await browser.get(anonymous.location ?? '');
    assert.equal(login.status, 200);
    assert.match(login.text, /<label for="username">User name<\/label>\s*<input id="username" name="username"/);
    assert.match(login.text, /<label for="password">Password<\/label>\s*<input id="password" name="password" type="password"/);
    const wrong = await browser.post('/plugins/servlet/applink-gateway/login', { return: authorizeUrl(token), atl_token: inputValue(login.text, 'atl_token') ?? '', username: 'alice', password: 'nope' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.text, /role="alert">Wrong user name or password/);
    const signedIn = await demoLogin(browser, 'alice', 'alice-pw', authorizeUrl(token));
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.location, authorizeUrl(token));

    const page = await browser.get(signedIn.location ?? '');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.equal(page.headers.get('cache-control'), 'no-store');
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|script-src/);
    assert.doesNotMatch(page.text, /<script/i);
    assert.match(page.text, /<html lang="en">/);
    assert.match(page.text, /<h1>Allow AppA to access your account\?<\/h1>/);
    assert.match(page.text, /signed in to [^ ]+ as <strong>alice<\/strong>/);
    assert.match(page.text, /<form method="post" action="\/plugins\/servlet\/oauth\/authorize">/);
    assert.equal(inputValue(page.text, 'oauth_token'), token);
    assert.equal(inputValue(page.text, 'oauth_callback'), h.appACallback);
    assert.ok((inputValue(page.text, 'atl_token') ?? '').length >= 40);
    // Allow comes first in the focus order; both are real submit buttons, no script needed.
    const allow = page.text.indexOf('<button type="submit" name="approve" value="Allow"');
    const deny = page.text.indexOf('<button type="submit" name="deny" value="Deny"');
    assert.ok(allow > 0 && deny > allow);
    assert.match(page.text, /see and change everything you can see and change/);
    assert.match(page.text, /until you revoke its access on <a href="\/plugins\/servlet\/oauth\/users\/access-tokens">/);
    const csrfCookie = browser.cookies.get('applink_csrf');
    assert.ok(csrfCookie);
  });

  it('escapes what it shows (link name from the configuration)', async (t) => {
    h.reconfigure((obj) => {
      linksOf(obj)[0]!.name = `Evil <script>alert("x")</script> & 'Co'`;
    });
    t.after(() => h.reconfigure(() => undefined));
    const { token } = await npmConsumer(h, 'rsa', h.appACallback).requestToken();
    const browser = new Browser(h.url);
    await demoLogin(browser);
    const page = await browser.get(authorizeUrl(token));
    assert.ok(!page.text.includes('<script>'));
    assert.match(page.text, /<h1>Allow Evil &lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; &#39;Co&#39; to access your account\?<\/h1>/);
  });

  it('refuses an approval without the CSRF token, from another browser, or for another user; the token stays usable', async () => {
    const { token } = await npmConsumer(h, 'rsa', h.appACallback).requestToken();
    const alice = new Browser(h.url);
    await demoLogin(alice);
    const page = await alice.get(authorizeUrl(token));
    const csrf = inputValue(page.text, 'atl_token') ?? '';

    const missing = await alice.post(AUTHORIZE, { oauth_token: token, approve: 'Allow' });
    assert.equal(missing.status, 403);
    assert.match(missing.text, /Nothing was allowed/);

    // A second browser signed in as alice too, replaying the first browser's form token.
    const other = new Browser(h.url);
    await demoLogin(other);
    await other.get(authorizeUrl(token));
    assert.equal((await other.post(AUTHORIZE, { oauth_token: token, atl_token: csrf, approve: 'Allow' })).status, 403);

    // Same browser, but now signed in as bob: the form was made for alice.
    const switched = new Browser(h.url);
    switched.cookies.set('applink_csrf', alice.cookies.get('applink_csrf') ?? '');
    await demoLogin(switched, 'bob');
    assert.equal((await switched.post(AUTHORIZE, { oauth_token: token, atl_token: csrf, approve: 'Allow' })).status, 403);

    assert.equal((await h.store.getRequestToken(token))?.state, 'pending');
    assert.equal((await alice.post(AUTHORIZE, { oauth_token: token, atl_token: csrf, approve: 'Allow' })).status, 302);
    assert.equal((await h.store.getRequestToken(token))?.user, 'alice');
  });

  it('answers bad requests with readable pages and the right status, never a 500', async () => {
    const browser = new Browser(h.url);
    await demoLogin(browser);
    const unknown = await browser.get(authorizeUrl('AAAAAAAAAAAAAAAA.notarealtokenvalue'));
    assert.equal(unknown.status, 401);
    assert.match(unknown.text, /<h1>Unknown authorization request<\/h1>/);
    assert.match(unknown.headers.get('www-authenticate') ?? '', /oauth_problem="token_rejected"/);
    assert.equal(unknown.headers.get('x-frame-options'), 'DENY');
    assert.equal((await browser.get(authorizeUrl('garbage'))).status, 401);
    assert.equal((await browser.get(AUTHORIZE)).status, 400);
    assert.equal((await browser.get(`${AUTHORIZE}?oauth_token=%zz`)).status, 400);
    assert.equal((await browser.get(`${AUTHORIZE}?oauth_token=a&oauth_token=b`)).status, 400);

    const { token } = await npmConsumer(h, 'rsa', h.appACallback).requestToken();
    const both = await decide(browser, token, 'approve', (f) => [...f, ['deny', 'Deny']]);
    assert.equal(both.status, 400);
    const neither = await decide(browser, token, 'approve', (f) => f.filter(([k]) => k !== 'approve'));
    assert.equal(neither.status, 400);
    const json = await browser.request('POST', AUTHORIZE, undefined, { 'content-type': 'application/json' });
    assert.equal(json.status, 415);
    const huge = await browser.post(AUTHORIZE, { oauth_token: token, pad: 'x'.repeat(1024 * 1024 + 1) });
    assert.equal(huge.status, 413);
    assert.match(huge.text, /<h1>Form too large<\/h1>/);
    const put = await browser.request('PUT', AUTHORIZE);
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, POST, HEAD');
    assert.equal((await h.store.getRequestToken(token))?.state, 'pending');
  });

  it('refuses an open redirect after sign-in', async () => {
    const browser = new Browser(h.url);
    for (const target of ['https://evil.example/', '//evil.example/', '/\\evil.example']) {
      const res = await demoLogin(browser, 'alice', 'alice-pw', target);
      assert.equal(res.location, '/plugins/servlet/oauth/users/access-tokens', target);
    }
  });
});

describe('userAuth upstream-session (a real AppB session endpoint)', () => {
  let appb: StubAppB;
  let h: Harness;
  // Closed by `after` even when `before` fails half-way.
  const started = resources();
  before(async () => {
    appb = started.add(await startStubAppB(), (a) => a.close());
    h = await startHarness({
      ...DANCE,
      store: 'redis',
      edit: (obj) => {
        obj.upstream = { ...(obj.upstream as object), url: appb.url, timeoutMs: 300 };
        obj.userAuth = { mode: 'upstream-session', cacheSeconds: 15 };
      },
    });
    started.defer(() => h.close());
  });
  after(() => started.close());

  it("sends anonymous users to AppB's login page with a return URL", async () => {
    const { token } = await npmConsumer(h, 'rsa', h.appACallback).requestToken();
    const browser = new Browser(h.url);
    browser.cookies.set('JSESSIONID', 'not-a-session');
    const res = await browser.get(authorizeUrl(token));
    assert.equal(res.status, 302);
    assert.equal(res.location, `/login.jsp?os_destination=${encodeURIComponent(authorizeUrl(token))}`);
  });

  it('shows the user AppB names, caches the check briefly by cookie digest, and approves as that user', async () => {
    const { token } = await npmConsumer(h, 'rsa', h.appACallback).requestToken();
    const browser = new Browser(h.url);
    const cookie = appb.login('dora<b>');
    browser.cookies.set('JSESSIONID', cookie.split('=')[1] ?? '');
    appb.sessionChecks = 0;
    const page = await browser.get(authorizeUrl(token));
    assert.equal(page.status, 200);
    assert.match(page.text, /as <strong>dora&lt;b&gt;<\/strong>/);
    assert.equal(appb.sessionChecks, 1);
    const answer = await decide(browser, token);
    assert.equal(answer.status, 302);
    assert.equal(appb.sessionChecks, 1, 'the GET and POST of decide() were answered from the cache');
    assert.equal((await h.store.getRequestToken(token))?.user, 'dora<b>');
    const log = h.logText();
    assert.ok(!log.includes(cookie.split('=')[1] ?? '-'), 'the session cookie is never logged');
  });

  it('answers 502 / 504 pages when AppB cannot say who the user is', async (t) => {
    t.after(() => {
      appb.failWith = 0;
    });
    const { token } = await npmConsumer(h, 'rsa', h.appACallback).requestToken();
    const browser = new Browser(h.url);
    browser.cookies.set('JSESSIONID', 'fresh-cookie-1');
    appb.failWith = 500;
    const broken = await browser.get(authorizeUrl(token));
    assert.equal(broken.status, 502);
    assert.match(broken.text, /<h1>Cannot check your sign-in<\/h1>/);
    browser.cookies.set('JSESSIONID', 'fresh-cookie-2');
    appb.failWith = -1;
    const slow = await browser.get(authorizeUrl(token));
    assert.equal(slow.status, 504);
  });
});

describe('userAuth trusted-header', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      ...DANCE,
      store: 'memory',
      edit: (obj) => {
        obj.userAuth = { mode: 'trusted-header', header: 'X-Remote-User', trustedSources: ['127.0.0.1/32', '::1'], loginUrl: 'https://sso.example/login?rd={return}' };
      },
    });
  });
  after(() => h?.close());

  it('believes the header from a trusted source, and sends others to the SSO login with an absolute return URL', async () => {
    const { token } = await npmConsumer(h, 'rsa', h.appACallback).requestToken();
    const browser = new Browser(h.url);
    const page = await browser.request('GET', authorizeUrl(token), undefined, { 'x-remote-user': 'erin' });
    assert.equal(page.status, 200);
    assert.match(page.text, /as <strong>erin<\/strong>/);
    const anonymous = await browser.get(authorizeUrl(token));
    assert.equal(anonymous.location, `https://sso.example/login?rd=${encodeURIComponent(h.url + authorizeUrl(token))}`);
    // The demo sign-in does not exist in this mode: the path belongs to AppB.
    const demo = await browser.get('/plugins/servlet/applink-gateway/login');
    assert.doesNotMatch(demo.text, /Demo sign-in/);
  });

  it('ignores the header from an untrusted source', async () => {
    h.reconfigure((obj) => {
      (obj.userAuth as Record<string, unknown>).trustedSources = ['10.9.9.9'];
    });
    const { token } = await npmConsumer(h, 'rsa', h.appACallback).requestToken();
    const res = await new Browser(h.url).request('GET', authorizeUrl(token), undefined, { 'x-remote-user': 'mallory' });
    assert.equal(res.status, 302);
    assert.match(res.location ?? '', /^https:\/\/sso\.example\/login/);
    assert.ok(h.logText().includes('user header from an untrusted source ignored'));
  });
});
