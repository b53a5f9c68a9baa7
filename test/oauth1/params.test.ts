// collectParams: where OAuth parameters come from, and the duplicate/location rules of DESIGN.md §7.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { collectParams, isOAuthProblem, normalizeParameters, scanForm, type RequestParts } from '../../src/oauth1/index.js';

function assertRejected(parts: RequestParts, named?: string): void {
  assert.throws(
    () => collectParams(parts),
    (e: unknown) => {
      assert.ok(isOAuthProblem(e), `expected an OAuthProblem, got ${String(e)}`);
      assert.equal(e.problem, 'parameter_rejected');
      assert.equal(e.status, 400);
      if (named !== undefined) assert.equal(e.params.oauth_parameters_rejected, named);
      return true;
    },
  );
}

const V1_HEADER =
  'OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="djosJKDKJSD8743243%2Fjdk33klY%3D"';

describe('collectParams — V1 (RFC 5849 §3.4.1.3 example)', () => {
  const collected = collectParams({ authorization: V1_HEADER, rawQuery: 'b5=%3D%253D&a3=a&c%40=&a2=r%20b', formBody: 'c2&a3=2+q' });

  test('decoded parameters equal the vector list (realm and oauth_signature excluded)', () => {
    assert.deepEqual(collected?.baseParams, [
      ['b5', '=%3D'],
      ['a3', 'a'],
      ['c@', ''],
      ['a2', 'r b'],
      ['oauth_consumer_key', '9djdj82h48djs9d2'],
      ['oauth_token', 'kkk9d7dh3k39sjv7'],
      ['oauth_signature_method', 'HMAC-SHA1'],
      ['oauth_timestamp', '137131201'],
      ['oauth_nonce', '7d8f3e4a'],
      ['c2', ''],
      ['a3', '2 q'],
    ]);
  });
  test('normalized parameters', () => {
    assert.equal(
      normalizeParameters(collected?.baseParams ?? []),
      'a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7',
    );
  });
  test('oauth record, location and realm', () => {
    assert.equal(collected?.location, 'header');
    assert.equal(collected?.realm, 'Example');
    assert.deepEqual(collected?.oauth, {
      oauth_consumer_key: '9djdj82h48djs9d2',
      oauth_token: 'kkk9d7dh3k39sjv7',
      oauth_signature_method: 'HMAC-SHA1',
      oauth_timestamp: '137131201',
      oauth_nonce: '7d8f3e4a',
      oauth_signature: 'djosJKDKJSD8743243/jdk33klY=',
    });
    assert.deepEqual(collected?.extra, {});
  });
});

describe('collectParams — not an OAuth request', () => {
  test('nothing at all', () => assert.equal(collectParams({ rawQuery: '' }), null));
  test('ordinary query and body', () => assert.equal(collectParams({ rawQuery: 'jql=project%3DX&a=1', formBody: 'x=1' }), null));
  test('Basic / Bearer Authorization is not ours', () => {
    assert.equal(collectParams({ authorization: 'Basic dXNlcjpwYXNz', rawQuery: 'a=1' }), null);
    assert.equal(collectParams({ authorization: ['Bearer x'], rawQuery: '' }), null);
  });
  test('a malformed query on a non-OAuth request is not our business', () => assert.equal(collectParams({ rawQuery: 'q=%zz&r=100%' }), null));
  test('xoauth_requestor_id alone does not make an OAuth request', () => assert.equal(collectParams({ rawQuery: 'xoauth_requestor_id=admin' }), null));
  test('V8: form body ignored when not form-encoded (formBody not given)', () => {
    // The caller passes formBody only for application/x-www-form-urlencoded; a JSON body carrying oauth_ text is not read.
    assert.equal(collectParams({ rawQuery: '' }), null);
  });
  test('upper-case OAUTH_ names are ordinary parameters', () => assert.equal(collectParams({ rawQuery: 'OAUTH_NONCE=1' }), null));
});

describe('collectParams — locations', () => {
  test('query', () => {
    const c = collectParams({ rawQuery: 'oauth_consumer_key=k&oauth_nonce=a%2Bb+c&x=1&oauth_signature=s%3D', formBody: 'y=2' });
    assert.equal(c?.location, 'query');
    assert.deepEqual(c?.oauth, { oauth_consumer_key: 'k', oauth_nonce: 'a+b c', oauth_signature: 's=' });
    assert.deepEqual(c?.baseParams, [
      ['oauth_consumer_key', 'k'],
      ['oauth_nonce', 'a+b c'],
      ['x', '1'],
      ['y', '2'],
    ]);
    assert.equal(c?.realm, undefined);
  });
  test('body', () => {
    const c = collectParams({ rawQuery: 'x=1', formBody: 'oauth_consumer_key=k&oauth_callback=oob&oauth_signature=s' });
    assert.equal(c?.location, 'body');
    assert.deepEqual(c?.oauth, { oauth_consumer_key: 'k', oauth_callback: 'oob', oauth_signature: 's' });
    assert.deepEqual(c?.baseParams, [
      ['x', '1'],
      ['oauth_consumer_key', 'k'],
      ['oauth_callback', 'oob'],
    ]);
  });
  test('oauth_* in the body are ignored when formBody is not given', () => {
    const c = collectParams({ authorization: 'OAuth oauth_consumer_key="k"', rawQuery: '' });
    assert.equal(c?.location, 'header');
  });
  test('a single-element header array is fine', () => {
    assert.equal(collectParams({ authorization: ['OAuth oauth_consumer_key="k"'], rawQuery: '' })?.location, 'header');
  });
  test('an empty OAuth header still makes an OAuth request (parameter_absent is for the caller)', () => {
    assert.deepEqual(collectParams({ authorization: 'OAuth', rawQuery: 'a=1' }), { oauth: {}, location: 'header', baseParams: [['a', '1']], extra: {} });
  });
  test('V8: oauth_* from the query are decoded once (oauthlib decodes twice)', () => {
    assert.equal(collectParams({ rawQuery: 'oauth_nonce=a%2525b' })?.oauth.oauth_nonce, 'a%25b');
  });
  test('V8: a query realm is an ordinary base-string parameter, the header realm is the realm', () => {
    const c = collectParams({ authorization: 'OAuth realm="R", oauth_consumer_key="k"', rawQuery: 'realm=q1' });
    assert.equal(c?.realm, 'R');
    assert.deepEqual(c?.baseParams, [
      ['realm', 'q1'],
      ['oauth_consumer_key', 'k'],
    ]);
  });
  test('a percent-encoded BOM stays in the value and in the base string (xoauth_requestor_id is not "admin")', () => {
    const c = collectParams({ rawQuery: 'xoauth_requestor_id=%EF%BB%BFadmin&oauth_consumer_key=k' });
    assert.deepEqual(c?.extra, { xoauth_requestor_id: '\uFEFFadmin' });
    assert.equal(normalizeParameters(c?.baseParams ?? []), 'oauth_consumer_key=k&xoauth_requestor_id=%EF%BB%BFadmin');
  });
  test('percent-encoded oauth names in the query count as oauth params', () => {
    assert.deepEqual(collectParams({ rawQuery: 'oauth%5Fnonce=n' })?.oauth, { oauth_nonce: 'n' });
  });
  test('extra: xoauth_requestor_id and user_id from query or body', () => {
    const c = collectParams({ authorization: 'OAuth oauth_consumer_key="k", oauth_token=""', rawQuery: 'xoauth_requestor_id=j%C3%BCrgen', formBody: 'user_id=u+1' });
    assert.deepEqual(c?.extra, { xoauth_requestor_id: 'jürgen', user_id: 'u 1' });
    assert.deepEqual(c?.baseParams, [
      ['xoauth_requestor_id', 'jürgen'],
      ['oauth_consumer_key', 'k'],
      ['oauth_token', ''],
      ['user_id', 'u 1'],
    ]);
  });
});

describe('collectParams — rejected', () => {
  const H = 'OAuth oauth_consumer_key="k", oauth_nonce="n"';
  test('two Authorization headers', () => assertRejected({ authorization: [H, H], rawQuery: '' }));
  test('two Authorization headers, one of them Basic', () => assertRejected({ authorization: ['Basic eDp5', H], rawQuery: '' }));
  test('duplicate inside the header', () => assertRejected({ authorization: 'OAuth oauth_nonce="a", oauth_nonce="b"', rawQuery: '' }, 'oauth_nonce'));
  test('V8: duplicate in the query', () => assertRejected({ rawQuery: 'oauth_nonce=a&oauth_nonce=b&oauth_consumer_key=k' }, 'oauth_nonce'));
  test('duplicate in the query, same value', () => assertRejected({ rawQuery: 'oauth_nonce=a&oauth_consumer_key=k&oauth_nonce=a' }, 'oauth_nonce'));
  test('duplicate in the query via an encoded name', () => assertRejected({ rawQuery: 'oauth_nonce=a&oauth%5fnonce=a' }, 'oauth_nonce'));
  test('duplicate in the body', () => assertRejected({ rawQuery: '', formBody: 'oauth_token=a&oauth_token=b' }, 'oauth_token'));
  test('duplicate across header and query', () => assertRejected({ authorization: H, rawQuery: 'oauth_nonce=n' }, 'oauth_nonce'));
  test('duplicate across query and body', () => assertRejected({ rawQuery: 'oauth_nonce=n', formBody: 'oauth_nonce=n' }, 'oauth_nonce'));
  test('V8: params in two places, header + query', () => assertRejected({ authorization: 'OAuth oauth_consumer_key="k"', rawQuery: 'oauth_nonce=n' }, 'oauth_nonce'));
  test('params in two places, query + body', () => assertRejected({ rawQuery: 'oauth_consumer_key=k', formBody: 'oauth_nonce=n' }, 'oauth_nonce'));
  test('params in two places, header + body', () => assertRejected({ authorization: 'OAuth oauth_consumer_key="k"', rawQuery: '', formBody: 'oauth_signature=s' }, 'oauth_signature'));
  test('params in three places', () => assertRejected({ authorization: 'OAuth oauth_consumer_key="k"', rawQuery: 'oauth_nonce=n', formBody: 'oauth_token=t' }));
  test('xoauth_requestor_id twice in the query', () => assertRejected({ authorization: H, rawQuery: 'xoauth_requestor_id=a&xoauth_requestor_id=b' }, 'xoauth_requestor_id'));
  test('xoauth_requestor_id in query and body', () => assertRejected({ authorization: H, rawQuery: 'xoauth_requestor_id=a', formBody: 'xoauth_requestor_id=a' }, 'xoauth_requestor_id'));
  test('user_id twice', () => assertRejected({ authorization: H, rawQuery: 'user_id=a', formBody: 'user_id=b' }, 'user_id'));
  test('malformed percent-encoding anywhere in an OAuth request', () => {
    assertRejected({ authorization: H, rawQuery: 'q=%zz' }, 'q');
    assertRejected({ rawQuery: 'oauth_nonce=n', formBody: 'x=%C3' }, 'x');
  });
  test('malformed oauth-looking name alone still counts as OAuth', () => assertRejected({ rawQuery: 'oauth_nonce%zz=n' }));
  test('malformed header on a request with an ordinary query', () => assertRejected({ authorization: 'OAuth oauth_nonce=n', rawQuery: 'a=1' }, 'oauth_nonce'));
});

describe('collectParams — parameterLimit (the gateway passes server.formParameterLimit, default 1000) and scanForm', () => {
  const many = (n: number, segment = 'a=1') => Array.from({ length: n }, () => segment).join('&');
  const H = 'OAuth oauth_consumer_key="k", oauth_nonce="n"';

  test('scanForm counts non-empty segments and sees oauth_ names through escapes and letter case', () => {
    assert.deepEqual(scanForm(''), { count: 0, oauth: false });
    assert.deepEqual(scanForm('a=1&&b&'), { count: 2, oauth: false });
    for (const name of ['oauth_nonce', '%6Fauth_nonce', 'OAUTH%5fnonce', 'oauth%5F', 'oauth_%zz']) {
      assert.equal(scanForm(`a=1&${name}=x`).oauth, true, name);
    }
    for (const name of ['oauth', 'xoauth_requestor_id', 'oauth%zz_', '+oauth_', 'oauth%', 'a=oauth_']) {
      assert.equal(scanForm(`a=1&${name}=x`).oauth, false, name);
    }
  });

  test('an OAuth request of 1000 query + body parameters is collected; of 1001 refused, wherever its OAuth parameters are', () => {
    const parameterLimit = 1000;
    assert.equal(collectParams({ authorization: H, rawQuery: many(500), formBody: many(500), parameterLimit })?.baseParams.length, 1002);
    assertRejected({ authorization: H, rawQuery: many(500), formBody: many(501), parameterLimit });
    assertRejected({ rawQuery: `oauth_consumer_key=k&${many(1000)}`, parameterLimit });
    assertRejected({ rawQuery: 'a=1', formBody: `${many(1000)}&%6Fauth_nonce=n`, parameterLimit });
  });

  test('without parameterLimit the caller sets no bound', () => {
    assert.equal(collectParams({ authorization: H, rawQuery: many(1500) })?.baseParams.length, 1502);
  });

  test('a longer request without OAuth parameters is not an OAuth request (null), even with malformed encoding', () => {
    assert.equal(collectParams({ rawQuery: many(600), formBody: many(600, '%zz') }), null);
    assert.equal(collectParams({ rawQuery: '', formBody: `${many(2000)}&xoauth_requestor_id=admin` }), null);
  });

  test('parameterLimit is configurable', () => {
    assert.equal(collectParams({ authorization: H, rawQuery: many(100), parameterLimit: 100 })?.baseParams.length, 102);
    assertRejected({ authorization: H, rawQuery: many(101), parameterLimit: 100 });
  });
});
