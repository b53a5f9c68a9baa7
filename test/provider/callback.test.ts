// The callback rule of DESIGN.md section 7, one case per attack, plus what it must still accept.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendQuery, checkCallback } from '../../src/oauth1/callback.js';

const ACCESS = 'https://appa.example.com/plugins/servlet/applinks/oauth/login-dance/access';
const REGISTERED = [ACCESS, 'http://127.0.0.1:8080/cb?fixed=1'];

function accepted(candidate: string, registered: string[] = REGISTERED): string {
  const r = checkCallback(registered, candidate);
  assert.ok(r.ok, `expected ${candidate} to be accepted: ${r.ok ? '' : r.reason}`);
  return r.callback;
}

function refused(candidate: string, registered: string[] = REGISTERED): string {
  const r = checkCallback(registered, candidate);
  assert.ok(!r.ok, `expected ${candidate} to be refused, got ${r.ok ? r.callback : ''}`);
  return r.reason;
}

describe('checkCallback accepts', () => {
  it('a registered URL exactly', () => {
    assert.equal(accepted(ACCESS), ACCESS);
  });

  it('a registered URL with an added query (kept byte for byte)', () => {
    assert.equal(accepted(`${ACCESS}?applicationLinkID=0f9a&x=a%20b`), `${ACCESS}?applicationLinkID=0f9a&x=a%20b`);
  });

  it('the normalized form: scheme and host lower-case, default port dropped', () => {
    assert.equal(accepted('HTTPS://AppA.Example.COM:443/plugins/servlet/applinks/oauth/login-dance/access'), ACCESS);
    assert.equal(accepted('http://127.0.0.1:8080/cb?fixed=1'), 'http://127.0.0.1:8080/cb?fixed=1');
  });

  it('additions after a registered query, but not a changed registered query', () => {
    assert.ok(accepted('http://127.0.0.1:8080/cb?fixed=1&state=s'));
    refused('http://127.0.0.1:8080/cb?fixed=2');
    refused('http://127.0.0.1:8080/cb?fixed=10');
    refused('http://127.0.0.1:8080/cb');
  });

  it('oob only when registered', () => {
    assert.equal(accepted('oob', [...REGISTERED, 'oob']), 'oob');
    assert.match(refused('oob'), /oob is not registered/);
    refused('OOB', [...REGISTERED, 'oob']);
  });
});

describe('checkCallback refuses (one case per attack)', () => {
  const attacks: Array<[string, string, RegExp?]> = [
    ['javascript: scheme', 'javascript:alert(document.cookie)', /not an absolute/],
    ['javascript: with slashes', 'javascript://appa.example.com/%0aalert(1)', /scheme javascript/],
    ['data: scheme', 'data:text/html,<script>alert(1)</script>'],
    ['another scheme with the registered host', 'ftp://appa.example.com/plugins/servlet/applinks/oauth/login-dance/access'],
    ['http instead of https', 'http://appa.example.com/plugins/servlet/applinks/oauth/login-dance/access'],
    ['userinfo before the host', 'https://evil.example@appa.example.com/plugins/servlet/applinks/oauth/login-dance/access', /user information/],
    ['registered host as userinfo', 'https://appa.example.com@evil.example/plugins/servlet/applinks/oauth/login-dance/access', /user information/],
    ['userinfo with password', 'https://appa.example.com:443@evil.example/plugins/servlet/applinks/oauth/login-dance/access'],
    ['look-alike host (suffix)', 'https://appa.example.com.evil.example/plugins/servlet/applinks/oauth/login-dance/access', /does not match/],
    ['look-alike host (prefix)', 'https://xappa.example.com/plugins/servlet/applinks/oauth/login-dance/access'],
    ['look-alike host (trailing dot)', 'https://appa.example.com./plugins/servlet/applinks/oauth/login-dance/access'],
    ['look-alike host (encoded dot)', 'https://appa.example.com%2eevil.example/plugins/servlet/applinks/oauth/login-dance/access', /invalid host/],
    ['look-alike host (IDN homograph)', 'https://аppa.example.com/plugins/servlet/applinks/oauth/login-dance/access', /non-ASCII/],
    ['another port', 'https://appa.example.com:8443/plugins/servlet/applinks/oauth/login-dance/access'],
    ['path prefix match', 'https://appa.example.com/plugins/servlet/applinks/oauth/login-dance/access/evil', /does not match/],
    ['path extended', 'https://appa.example.com/plugins/servlet/applinks/oauth/login-dance/accessevil'],
    ['path shortened', 'https://appa.example.com/plugins/servlet/applinks/oauth/login-dance/'],
    ['dot-dot segments', 'https://appa.example.com/plugins/servlet/applinks/oauth/login-dance/access/../../../evil', /'\.\.' segments/],
    ['dot-dot back into the path', 'https://appa.example.com/evil/../plugins/servlet/applinks/oauth/login-dance/access'],
    ['single dot segment', 'https://appa.example.com/plugins/servlet/./applinks/oauth/login-dance/access'],
    ['%2e%2e', 'https://appa.example.com/plugins/servlet/applinks/oauth/login-dance/access/%2e%2e/evil', /encoded dot/],
    ['%2E upper-case', 'https://appa.example.com/plugins/servlet/applinks/oauth/login-dance/%2E%2E/access'],
    ['%2f encoded slash', 'https://appa.example.com/plugins/servlet/applinks/oauth/login-dance/access%2fevil', /encoded dot, slash/],
    ['%2F in place of a slash', 'https://appa.example.com/plugins%2Fservlet/applinks/oauth/login-dance/access'],
    ['%5c encoded backslash', 'https://appa.example.com/plugins/servlet/applinks/oauth/login-dance/access%5cevil'],
    ['backslash', 'https://appa.example.com\\@evil.example/plugins/servlet/applinks/oauth/login-dance/access', /contains '\\'/],
    ['backslash in the path', 'https://appa.example.com/plugins/servlet/applinks/oauth/login-dance/access\\..\\evil'],
    ['double slash', 'https://appa.example.com//plugins/servlet/applinks/oauth/login-dance/access'],
    ['fragment', `${ACCESS}#evil`, /fragment/],
    ['empty fragment', `${ACCESS}#`, /fragment/],
    ['fragment in the query', `${ACCESS}?a=1#x`],
    ['scheme-relative', '//appa.example.com/plugins/servlet/applinks/oauth/login-dance/access'],
    ['relative', '/plugins/servlet/applinks/oauth/login-dance/access'],
    ['spaces', `${ACCESS}?a=b c`],
    ['control characters', `${ACCESS}\r\nLocation: https://evil.example`],
    ['a query that already carries oauth_verifier', `${ACCESS}?oauth_verifier=attacker`, /already carries oauth_verifier/],
    ['a query that already carries oauth_token', `${ACCESS}?oauth_token=attacker`],
    ['malformed percent-encoding in the query', `${ACCESS}?a=%zz`],
    ['an empty string', ''],
    ['too long', `${ACCESS}?x=${'a'.repeat(3000)}`],
  ];
  for (const [name, candidate, reason] of attacks) {
    it(name, () => {
      const why = refused(candidate);
      if (reason) assert.match(why, reason);
    });
  }
});

describe('appendQuery', () => {
  it("keeps the callback's own query and appends encoded parameters", () => {
    assert.equal(appendQuery(`${ACCESS}?applicationLinkID=x`, [['oauth_token', 'a.b'], ['oauth_verifier', 'v/=']]), `${ACCESS}?applicationLinkID=x&oauth_token=a.b&oauth_verifier=v%2F%3D`);
    assert.equal(appendQuery(ACCESS, [['oauth_verifier', 'denied']]), `${ACCESS}?oauth_verifier=denied`);
    assert.equal(appendQuery(`${ACCESS}?`, [['a', '1']]), `${ACCESS}?a=1`);
  });
});
