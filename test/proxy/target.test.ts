// The request-target and the segment-level removal of AppA's parameters: pure functions.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestTargetError, isSignedRequestParam, isSmuggledRequestor, removeFormParams, removeQueryParams, requestTargetOf } from '../../src/http/target.js';

describe('requestTargetOf', () => {
  it('splits path and query as received, a bare ? included', () => {
    assert.deepEqual(requestTargetOf('/a//b%2F?x=1&y'), { rawPath: '/a//b%2F', rawQuery: 'x=1&y', hasQuery: true });
    assert.deepEqual(requestTargetOf('/a?'), { rawPath: '/a', rawQuery: '', hasQuery: true });
    assert.deepEqual(requestTargetOf('/a'), { rawPath: '/a', rawQuery: '', hasQuery: false });
  });

  it('absolute-form keeps the path and query, never the host', () => {
    assert.deepEqual(requestTargetOf('http://evil.example:8080/rest?q=1'), { rawPath: '/rest', rawQuery: 'q=1', hasQuery: true });
    assert.deepEqual(requestTargetOf('http://evil.example'), { rawPath: '/', rawQuery: '', hasQuery: false });
  });

  it('refuses a fragment and a target without a path', () => {
    assert.throws(() => requestTargetOf('/a#b'), BadRequestTargetError);
    assert.throws(() => requestTargetOf('*'), BadRequestTargetError);
  });
});

describe('removeQueryParams', () => {
  it('removes oauth_*, xoauth_requestor_id and user_id, also percent-encoded or with + in the name, keeping every other byte', () => {
    const raw = 'a=1&oauth_token=t&b=x+y%2B&oauth%5Fnonce=n&&xoauth_requestor_id=bob&user_id=u&c=&d';
    assert.deepEqual(removeQueryParams(raw, isSignedRequestParam), { query: 'a=1&b=x+y%2B&&c=&d', changed: true });
  });

  it('is the identity when nothing matches (no re-encoding)', () => {
    const raw = 'q=%e6%97%a5&x=%zz&&y=a+b';
    assert.deepEqual(removeQueryParams(raw, isSignedRequestParam), { query: raw, changed: false });
  });

  it('on unsigned requests removes a smuggled requestor only', () => {
    assert.deepEqual(removeQueryParams('user_id=7&xoauth_requestor_id=admin', isSmuggledRequestor), { query: 'user_id=7', changed: true });
  });

  it('treats a malformed oauth%5F name as an OAuth name', () => {
    assert.deepEqual(removeQueryParams('oauth%5Fx%zz=1&a=2', isSignedRequestParam), { query: 'a=2', changed: true });
  });
});

describe('removeFormParams', () => {
  it('keeps every other byte, raw UTF-8 included', () => {
    const body = Buffer.from('name=J\u00f6rg&oauth_signature=abc%3D&k=1&k=2&xoauth_requestor_id=bob&', 'utf8');
    const out = removeFormParams(body, isSignedRequestParam);
    assert.equal(out.changed, true);
    assert.equal(out.body.toString('utf8'), 'name=J\u00f6rg&k=1&k=2&');
  });

  it('returns the same buffer when nothing matches', () => {
    const body = Buffer.from('a=1&&b=2');
    const out = removeFormParams(body, isSignedRequestParam);
    assert.equal(out.changed, false);
    assert.equal(out.body, body);
  });
});

describe('removing segments: runs of removed segments, empty segments, malformed names', () => {
  const cases: Array<[string, string]> = [
    ['xoauth_requestor_id=a&xoauth_requestor_id=b&c=1', 'c=1'],
    ['c=1&xoauth_requestor_id=a&xoauth_requestor_id=b', 'c=1'],
    ['xoauth_requestor_id=a', ''],
    ['&xoauth_requestor_id=a&', '&'],
    ['a&&xoauth_requestor_id=a&&b', 'a&&&b'],
    ['a=1&xoauth%5Frequestor%5Fid=x&%78oauth_requestor_id=y&b', 'a=1&b'],
    ['xoauth_requestor_id%zz=1&%C3=2&xoauth_requestor_id', 'xoauth_requestor_id%zz=1&%C3=2'],
  ];
  for (const [raw, expected] of cases) {
    it(`${JSON.stringify(raw)} → ${JSON.stringify(expected)} in the query and in a body`, () => {
      assert.equal(removeQueryParams(raw, isSmuggledRequestor).query, expected);
      assert.equal(removeFormParams(Buffer.from(raw), isSmuggledRequestor).body.toString('latin1'), expected);
    });
  }

  it('a malformed escape after an oauth_ prefix is still an OAuth name; invalid UTF-8 in a name never throws', () => {
    assert.equal(removeFormParams(Buffer.from('oauth_%C3=1&oauth%5F%zz=2&k=%C3'), isSignedRequestParam).body.toString('latin1'), 'k=%C3');
  });
});
