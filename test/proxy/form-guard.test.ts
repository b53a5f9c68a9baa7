// FormNameGuard: the check an unsigned form body beyond server.formBodyLimitBytes streams through.
// Every split of a body into two or three chunks is tried, so a name straddling a chunk boundary
// is caught as surely as a whole one, and never after all of the body has been let through.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FormNameGuard, LateOAuthParameterError } from '../../src/proxy/form-guard.js';

/** Runs `body` through a guard in chunks cut at `cuts`: what passed, and the error if one was raised. */
function run(body: Buffer, cuts: number[]): { passed: Buffer; error: unknown } {
  const guard = new FormNameGuard();
  const out: Buffer[] = [];
  let from = 0;
  try {
    for (const cut of [...cuts, body.length]) {
      out.push(guard.push(body.subarray(from, cut)));
      from = cut;
    }
    out.push(guard.end());
    return { passed: Buffer.concat(out), error: null };
  } catch (err) {
    return { passed: Buffer.concat(out), error: err };
  }
}

function* splits(n: number): Generator<number[]> {
  for (let i = 0; i <= n; i++) {
    yield [i];
    for (let j = i; j <= n; j += 3) yield [i, j];
  }
}

describe('FormNameGuard', () => {
  it('passes a body without OAuth or requestor names byte for byte, however it is cut', () => {
    const body = Buffer.from('user_id=7&oauthx=1&x_oauth_y=2&name=J%C3%B6rg&&a+b=c%2&oauth=&noequals&xoauth_requestor_idx=1&last');
    for (const cuts of splits(body.length)) {
      const { passed, error } = run(body, cuts);
      assert.equal(error, null, `cut at ${cuts.join(',')}`);
      assert.deepEqual(passed, body, `cut at ${cuts.join(',')}`);
    }
  });

  const guarded: Array<[string, string]> = [
    ['oauth_signature', 'a=1&oauth_signature=abc&b=2'],
    ['OAUTH_TOKEN in capitals', 'a=1&OAUTH_TOKEN=t&b=2'],
    ['oauth%5Fnonce percent-encoded', 'a=1&oauth%5Fnonce=n&b=2'],
    ['%6Fauth_ fully encoded letters', 'a=1&%6F%61%75%74%68%5F%78=n'],
    ['xoauth_requestor_id', 'a=1&xoauth_requestor_id=admin&b=2'],
    ['XOAUTH_REQUESTOR_ID', 'a=1&XOAUTH_REQUESTOR_ID=admin'],
    ['a name without a value', 'a=1&oauth_token&b=2'],
    ['the last name of the body, without =', 'a=1&b=2&oauth_token'],
    ['the last name of the body, with =', 'a=1&b=2&xoauth_requestor_id='],
    ['the first name of the body', 'oauth_consumer_key=k&a=1'],
    ['a long oauth_ name', `a=1&oauth_${'x'.repeat(200)}=1`],
  ];
  for (const [what, text] of guarded) {
    it(`stops at ${what} wherever the chunks are cut, before the whole body has passed`, () => {
      const body = Buffer.from(text);
      for (const cuts of splits(body.length)) {
        const { passed, error } = run(body, cuts);
        assert.ok(error instanceof LateOAuthParameterError, `cut at ${cuts.join(',')}: ${String(error)}`);
        assert.ok(passed.length < body.length, `cut at ${cuts.join(',')}: all ${body.length} bytes passed`);
        assert.deepEqual(passed, body.subarray(0, passed.length), 'what passed is a prefix of the body');
      }
    });
  }

  it('holds back at most a name of 57 bytes: a long harmless name and value pass as they come', () => {
    const guard = new FormNameGuard();
    assert.equal(guard.push(Buffer.from('a=1&')).toString(), 'a=1&');
    assert.equal(guard.push(Buffer.from('partial_na')).length, 0);
    assert.equal(guard.push(Buffer.from('me=v')).toString(), 'partial_name=v');
    const long = 'n'.repeat(100);
    assert.equal(guard.push(Buffer.from(`&${long}`)).toString(), `&${long}`);
    assert.equal(guard.end().length, 0);
  });
});
