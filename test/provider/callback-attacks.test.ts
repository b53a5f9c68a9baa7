// Every callback attack of DESIGN.md section 7, over real sockets: at request-token (signed by
// oauth-1.0a and by the `oauth` package) and at the approval step, where a callback other than
// the stored one (in the approval POST or the page's query) must never be followed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { DANCE, startHarness, type Harness } from '../helpers/harness.js';
import { Browser, decide, demoLogin, inputValue, npmConsumer, oauth10aClient, signedPost, type NpmError } from '../helpers/clients.js';
import { ACCESS_PATH } from '../helpers/fixtures.js';

const RT = '/plugins/servlet/oauth/request-token';

describe('callback attacks (Redis store)', () => {
  let h: Harness;
  let host: string;
  before(async () => {
    h = await startHarness({ ...DANCE, store: 'redis' });
    host = new URL(h.callback.url).host;
  });
  after(() => h?.close());

  const attacks = (): Array<[string, string]> => {
    const [hostname, port] = host.split(':') as [string, string];
    const reg = h.appACallback;
    return [
      ['javascript:', 'javascript:alert(document.cookie)'],
      ['javascript: with an authority', `javascript://${host}${ACCESS_PATH}%0aalert(1)`],
      ['userinfo in front of the registered host', `http://evil.example@${host}${ACCESS_PATH}`],
      ['registered host as userinfo', `http://${host}@evil.example${ACCESS_PATH}`],
      ['look-alike host', `http://${hostname}.evil.example:${port}${ACCESS_PATH}`],
      ['another host', `http://127.0.0.2:${port}${ACCESS_PATH}`],
      ['another port', `http://${hostname}:${Number(port) + 1}${ACCESS_PATH}`],
      ['https instead of http', `https://${host}${ACCESS_PATH}`],
      ['path prefix', `${reg}/../../evil`],
      ['.. back into the registered path', `http://${host}/evil/..${ACCESS_PATH}`],
      ['%2e%2e', `${reg}/%2e%2e/%2e%2e/evil`],
      ['%2f', `${reg}%2f..%2fevil`],
      ['longer path', `${reg}/more`],
      ['fragment', `${reg}#evil`],
      ['backslash', `http://${host}\\@evil.example${ACCESS_PATH}`],
      ['a query carrying oauth_verifier', `${reg}?oauth_verifier=attacker`],
      ['oob when not registered (app-h)', 'oob'],
    ];
  };

  it('request-token refuses each with parameter_rejected naming oauth_callback (oauth-1.0a, header and body)', async () => {
    for (const [name, callback] of attacks()) {
      const client = oauth10aClient(name.startsWith('oob') ? 'hmac' : 'rsa');
      for (const placement of ['header', 'body'] as const) {
        const res = await signedPost(h, client, RT, { oauth: { oauth_callback: callback }, placement });
        assert.equal(res.status, 400, `${name} (${placement}): ${res.text}`);
        assert.equal(res.form.get('oauth_problem'), 'parameter_rejected', name);
        assert.equal(res.form.get('oauth_parameters_rejected'), 'oauth_callback', name);
      }
    }
  });

  it('request-token refuses each when signed by the oauth package too', async () => {
    for (const [name, callback] of attacks()) {
      const consumer = npmConsumer(h, name.startsWith('oob') ? 'hmac' : 'rsa', callback);
      await assert.rejects(consumer.requestToken(), (err: NpmError) => {
        assert.equal(err.statusCode, 400, name);
        assert.equal(new URLSearchParams(err.data ?? '').get('oauth_problem'), 'parameter_rejected', name);
        return true;
      });
    }
  });

  it('the approval POST cannot change the callback: the redirect goes to the stored one', async () => {
    const consumer = npmConsumer(h, 'rsa', `${h.appACallback}?applicationLinkID=mine`);
    const rt = await consumer.requestToken();
    const browser = new Browser(h.url);
    await demoLogin(browser);
    const answer = await decide(browser, rt.token, 'approve', (fields) =>
      fields.map(([k, v]): [string, string] => (k === 'oauth_callback' ? [k, 'https://evil.example/steal'] : [k, v])),
    );
    assert.equal(answer.status, 302);
    assert.ok(answer.location?.startsWith(`${h.appACallback}?applicationLinkID=mine&oauth_token=`), answer.location ?? '');
  });

  it('an extra callback in the approval POST (repeated field) changes nothing either', async () => {
    const consumer = npmConsumer(h, 'rsa', h.appACallback);
    const rt = await consumer.requestToken();
    const browser = new Browser(h.url);
    await demoLogin(browser);
    const answer = await decide(browser, rt.token, 'approve', (fields) => [...fields, ['oauth_callback', 'javascript:alert(1)']]);
    assert.equal(answer.status, 302);
    assert.ok(answer.location?.startsWith(`${h.appACallback}?oauth_token=`), answer.location ?? '');
  });

  it('a callback in the approval page query is ignored: the page and the redirect use the stored one', async () => {
    const consumer = npmConsumer(h, 'rsa', h.appACallback);
    const rt = await consumer.requestToken();
    const browser = new Browser(h.url);
    await demoLogin(browser);
    const page = await browser.get(`/plugins/servlet/oauth/authorize?oauth_token=${encodeURIComponent(rt.token)}&oauth_callback=${encodeURIComponent('https://evil.example/')}`);
    assert.equal(page.status, 200);
    assert.equal(inputValue(page.text, 'oauth_callback'), h.appACallback);
    assert.ok(!page.text.includes('evil.example'));
    // The page may only submit to itself and lead to the stored callback's origin.
    assert.match(page.headers.get('content-security-policy') ?? '', new RegExp(`form-action 'self' ${h.callback.url.replace(/[.]/g, '\\.')};`));
    const answer = await browser.post('/plugins/servlet/oauth/authorize', {
      oauth_token: rt.token,
      oauth_callback: 'https://evil.example/',
      atl_token: inputValue(page.text, 'atl_token') ?? '',
      deny: 'Deny',
    });
    assert.equal(answer.location, `${h.appACallback}?oauth_token=${encodeURIComponent(rt.token)}&oauth_verifier=denied`);
  });
});
