// Authorization header parsing: the RFC forms we accept, and every V8 laxity of oauthlib we refuse.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isOAuthProblem, parseAuthorizationHeader } from '../../src/oauth1/index.js';

function assertRejected(header: string, named?: string): void {
  assert.throws(
    () => parseAuthorizationHeader(header),
    (e: unknown) => {
      assert.ok(isOAuthProblem(e), `expected an OAuthProblem, got ${String(e)}`);
      assert.equal(e.problem, 'parameter_rejected');
      assert.equal(e.status, 400);
      if (named !== undefined) assert.equal(e.params.oauth_parameters_rejected, named);
      return true;
    },
    header,
  );
}

describe('parseAuthorizationHeader — accepted forms', () => {
  test('V1 header: realm separate, values decoded once', () => {
    const parsed = parseAuthorizationHeader(
      'OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="djosJKDKJSD8743243%2Fjdk33klY%3D"',
    );
    assert.deepEqual(parsed, {
      realm: 'Example',
      params: [
        ['oauth_consumer_key', '9djdj82h48djs9d2'],
        ['oauth_token', 'kkk9d7dh3k39sjv7'],
        ['oauth_signature_method', 'HMAC-SHA1'],
        ['oauth_timestamp', '137131201'],
        ['oauth_nonce', '7d8f3e4a'],
        ['oauth_signature', 'djosJKDKJSD8743243/jdk33klY='],
      ],
    });
  });

  test('scheme is case-insensitive, extra whitespace allowed (V8: "oauth", "OAUTH   ")', () => {
    assert.deepEqual(parseAuthorizationHeader('oauth oauth_nonce="n"'), { params: [['oauth_nonce', 'n']] });
    assert.deepEqual(parseAuthorizationHeader('OAUTH   oauth_nonce="n" ,\toauth_token=""  '), {
      params: [
        ['oauth_nonce', 'n'],
        ['oauth_token', ''],
      ],
    });
  });

  test('no whitespace after the comma', () => {
    assert.deepEqual(parseAuthorizationHeader('OAuth oauth_nonce="n",oauth_token="t"'), {
      params: [
        ['oauth_nonce', 'n'],
        ['oauth_token', 't'],
      ],
    });
  });

  test("'+' in a header value is literal (V7), %2B is '+', %20 is ' '", () => {
    assert.deepEqual(parseAuthorizationHeader('OAuth oauth_a="x+y", oauth_b="x%2By", oauth_c="x%20y"')?.params, [
      ['oauth_a', 'x+y'],
      ['oauth_b', 'x+y'],
      ['oauth_c', 'x y'],
    ]);
  });

  test('decoded exactly once (V8: header "a%2525b" -> "a%25b")', () => {
    assert.deepEqual(parseAuthorizationHeader('OAuth oauth_nonce="a%2525b"')?.params, [['oauth_nonce', 'a%25b']]);
  });

  test('empty OAuth header is ours, with no parameters', () => {
    assert.deepEqual(parseAuthorizationHeader('OAuth'), { params: [] });
    assert.deepEqual(parseAuthorizationHeader('OAuth   '), { params: [] });
  });

  test('realm only', () => assert.deepEqual(parseAuthorizationHeader('OAuth realm="https%3A%2F%2Fh"'), { realm: 'https://h', params: [] }));

  test('commas and "=" inside a quoted value are part of the value', () => {
    assert.deepEqual(parseAuthorizationHeader('OAuth oauth_callback="a,b=c", oauth_nonce="n"')?.params, [
      ['oauth_callback', 'a,b=c'],
      ['oauth_nonce', 'n'],
    ]);
  });
});

describe('parseAuthorizationHeader — not ours', () => {
  for (const header of ['Basic dXNlcjpwYXNz', 'Bearer abc.def', 'OAuthX oauth_nonce="n"', 'Digest username="u"', '', '   ', 'Negotiate']) {
    test(`${JSON.stringify(header)} -> null`, () => assert.equal(parseAuthorizationHeader(header), null));
  }
});

describe('parseAuthorizationHeader — V8 cases oauthlib accepts and we reject', () => {
  test('duplicate name inside the header (oauthlib keeps the last)', () => {
    assertRejected('OAuth oauth_nonce="a",oauth_nonce="b",oauth_consumer_key="k"', 'oauth_nonce');
  });
  test('unquoted value', () => assertRejected('OAuth oauth_consumer_key=abc', 'oauth_consumer_key'));
  test('missing comma (oauthlib reads one param with value \'a" oauth_nonce="b\')', () => {
    assertRejected('OAuth oauth_consumer_key="a" oauth_nonce="b"');
  });
  test('two headers folded into one (oauthlib drops the second)', () => {
    assertRejected('OAuth oauth_consumer_key="k", OAuth oauth_nonce="n"');
  });
});

describe('parseAuthorizationHeader — other malformed headers', () => {
  const cases: Array<[string, string, string | undefined]> = [
    ['unterminated quote', 'OAuth oauth_nonce="abc', 'oauth_nonce'],
    ['unterminated quote after a good param', 'OAuth oauth_token="t", oauth_nonce="abc', 'oauth_nonce'],
    ['garbage after a value', 'OAuth oauth_nonce="a"x', undefined],
    ['garbage instead of a name', 'OAuth @@@', undefined],
    ['empty name', 'OAuth ="x"', undefined],
    ['name without value', 'OAuth oauth_nonce', 'oauth_nonce'],
    ['space before =', 'OAuth oauth_nonce ="a"', 'oauth_nonce'],
    ['space after =', 'OAuth oauth_nonce= "a"', 'oauth_nonce'],
    ['single quotes', "OAuth oauth_nonce='a'", 'oauth_nonce'],
    ['trailing comma', 'OAuth oauth_nonce="a",', undefined],
    ['double comma', 'OAuth oauth_nonce="a",,oauth_token="t"', undefined],
    ['leading comma', 'OAuth ,oauth_nonce="a"', undefined],
    ['no space after the scheme', 'OAuth,oauth_nonce="a"', undefined],
    ['backslash escape in value', 'OAuth oauth_nonce="a\\"b"', 'oauth_nonce'],
    ['control character in value', 'OAuth oauth_nonce="a\u0001b"', 'oauth_nonce'],
    ['DEL in value', 'OAuth oauth_nonce="a\u007fb"', 'oauth_nonce'],
    ['raw non-ASCII in value (must be percent-encoded)', 'OAuth oauth_nonce="j\u00fcrgen"', 'oauth_nonce'],
    ['malformed percent-encoding', 'OAuth oauth_nonce="a%zz"', 'oauth_nonce'],
    ['percent-encoded invalid UTF-8', 'OAuth oauth_nonce="%FF"', 'oauth_nonce'],
    ['non-oauth parameter in the header', 'OAuth oauth_nonce="a", xoauth_requestor_id="admin"', 'xoauth_requestor_id'],
    ['upper-case OAUTH_ name is not a protocol parameter', 'OAuth OAUTH_NONCE="a"', 'OAUTH_NONCE'],
    ['Realm is case-sensitive', 'OAuth Realm="r"', 'Realm'],
    ['realm twice', 'OAuth realm="a", realm="b"', 'realm'],
    ['duplicate after percent-decoding the name', 'OAuth oauth_nonce="a", oauth%5Fnonce="b"', 'oauth_nonce'],
    ['duplicate oauth_signature', 'OAuth oauth_signature="a", oauth_signature="a"', 'oauth_signature'],
  ];
  for (const [name, header, named] of cases) {
    test(name, () => assertRejected(header, named));
  }
});

describe('parseAuthorizationHeader — cost', () => {
  // Complexity guard, not a speed goal: linear parsing of 2 MB takes milliseconds, the quadratic
  // trim it replaced would take hours, so the generous test timeout only fires on a regression.
  test('a long run of inner whitespace is parsed in linear time (no regex backtracking)', { timeout: 60_000 }, () => {
    for (const header of [`OAuth ${' '.repeat(2_000_000)}x`, `OAuth oauth_nonce="a"${' \t'.repeat(1_000_000)}x`]) {
      assert.throws(() => parseAuthorizationHeader(header), (e: unknown) => isOAuthProblem(e) && e.problem === 'parameter_rejected');
    }
  });
  test('trailing whitespace is still allowed', () => {
    assert.deepEqual(parseAuthorizationHeader(`OAuth oauth_nonce="n"${' \t'.repeat(1000)}`), { params: [['oauth_nonce', 'n']] });
  });
});
