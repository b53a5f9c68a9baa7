// User names with an unpaired UTF-16 surrogate (JSON's "\ud800", YAML's "\ud800"): no UTF-8 form,
// so encodeURIComponent (the Redis user index) throws and AppB would get U+FFFD. Refused wherever
// a name enters: AppB's session answer (a readable page, never 500), the configuration, and a
// 2LOi requestor (parameter_rejected).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { collectParams, isOAuthProblem } from '../../src/oauth1/index.js';
import { checkRequestorEncoding } from '../../src/proxy/plan.js';
import { hasLoneSurrogate, isValidUserName } from '../../src/userauth/names.js';
import { runtimeConfig, tempDir, testConfigObject } from '../helpers/fixtures.js';
import { startStubAppB, type StubAppB } from '../helpers/stub-appb.js';
import { DANCE, linksOf, startHarness, type Harness } from '../helpers/harness.js';
import { Browser } from '../helpers/clients.js';
import { resources } from '../helpers/cleanup.js';

const LONE = 'dora\ud800';

describe('user names with an unpaired surrogate', () => {
  it('are not valid user names; paired surrogates (emoji) are', () => {
    for (const name of [LONE, '\udc00x', 'a\ud83d']) {
      assert.equal(hasLoneSurrogate(name), true, JSON.stringify(name));
      assert.equal(isValidUserName(name), false, JSON.stringify(name));
    }
    assert.equal(isValidUserName('dora\u{1F600}'), true);
    assert.equal(hasLoneSurrogate('dora\u{1F600}'), false);
  });

  it('a 2LOi requestor with one is refused with parameter_rejected naming it', () => {
    const params = collectParams({ authorization: 'OAuth oauth_consumer_key="k"', rawQuery: '', formBody: `xoauth_requestor_id=${LONE}` });
    assert.throws(
      () => checkRequestorEncoding(params),
      (e: unknown) => isOAuthProblem(e) && e.problem === 'parameter_rejected' && e.params.oauth_parameters_rejected === 'xoauth_requestor_id',
    );
    assert.doesNotThrow(() => checkRequestorEncoding(collectParams({ authorization: 'OAuth oauth_consumer_key="k"', rawQuery: 'user_id=dora%F0%9F%98%80' })));
  });

  it('the configuration refuses one in denyUsers, allowUsers, executeAs and demo users, naming the key', () => {
    const t = tempDir('applink-names-');
    try {
      const edits: Array<[string, (obj: Record<string, unknown>) => void]> = [
        ['denyUsers', (obj) => void (linksOf(obj)[0]!.impersonation = { enabled: true, denyUsers: [LONE] })],
        ['allowUsers', (obj) => void (linksOf(obj)[0]!.impersonation = { enabled: true, allowUsers: [LONE] })],
        ['executeAs', (obj) => void (linksOf(obj)[0]!.twoLegged = { enabled: true, executeAs: LONE })],
        ['users', (obj) => void (obj.userAuth = { mode: 'demo', users: [{ name: LONE, password: 'pw' }] })],
      ];
      for (const [key, edit] of edits) {
        const obj = testConfigObject(t) as Record<string, unknown>;
        edit(obj);
        assert.throws(() => runtimeConfig(t, obj), new RegExp(`${key}[\\s\\S]*unpaired surrogates`), key);
      }
    } finally {
      t.cleanup();
    }
  });
});

describe('userAuth upstream-session: AppB names a user with an unpaired surrogate (Redis store)', () => {
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
        obj.upstream = { ...(obj.upstream as object), url: appb.url, timeoutMs: 2000 };
        obj.userAuth = { mode: 'upstream-session', cacheSeconds: 0 };
      },
    });
    started.defer(() => h.close());
  });
  after(() => started.close());

  it("the user's token page is a readable 502 page, never a 500", async () => {
    const browser = new Browser(h.url);
    // JSON.stringify writes the lone surrogate as the escape "\ud800", which the gateway's JSON parser turns back into one.
    browser.cookies.set('JSESSIONID', appb.login(LONE).split('=')[1] ?? '');
    const page = await browser.get('/plugins/servlet/oauth/users/access-tokens');
    assert.equal(page.status, 502, page.text);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.text, /<h1>Cannot check your sign-in<\/h1>/);
    assert.ok(!h.logText().includes('"level":50'), 'nothing logged as an error');
  });
});
