// Percent-encoding and form parsing: V4 §5.1 encodings, strict decoding, form semantics.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formEncode, isOAuthProblem, parseForm, percentDecode, percentEncode } from '../../src/oauth1/index.js';

describe('percentEncode — V4 parameter encoding (wiki.oauth.net §5.1)', () => {
  const cases: Array<[string, string]> = [
    ['abcABC123', 'abcABC123'],
    ['-._~', '-._~'],
    ['%', '%25'],
    ['+', '%2B'],
    ['&=*', '%26%3D%2A'],
    ['\u000A', '%0A'],
    ['\u0020', '%20'],
    ['\u007F', '%7F'],
    ['\u0080', '%C2%80'],
    ['\u3001', '%E3%80%81'],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} -> ${expected}`, () => assert.equal(percentEncode(input), expected));
  }

  test("encodes what encodeURIComponent leaves alone (! ' ( ) *)", () => {
    assert.equal(percentEncode("!'()*"), '%21%27%28%29%2A');
  });
  test('astral characters are encoded as their 4 UTF-8 bytes', () => {
    assert.equal(percentEncode('😀'), '%F0%9F%98%80');
  });
  test('a lone surrogate does not throw (becomes U+FFFD)', () => {
    assert.equal(percentEncode('\uD800'), '%EF%BF%BD');
  });
});

describe('percentDecode — strict', () => {
  test('round-trips every encoded V4 value', () => {
    for (const s of ['abcABC123', '%', '+', '&=*', '\n', ' ', '\u007F', '\u0080', '\u3001', '😀']) {
      assert.equal(percentDecode(percentEncode(s)), s);
    }
  });
  test("'+' is a literal plus (no form decoding)", () => assert.equal(percentDecode('a+b'), 'a+b'));
  test('lower-case hex is accepted', () => assert.equal(percentDecode('%2b%c3%a9'), '+é'));
  test('decodes exactly once', () => assert.equal(percentDecode('a%2525b'), 'a%25b'));
  test('a percent-encoded U+FEFF is kept, at the start of a value or of an escape run (oauthlib keeps it too)', () => {
    // A decoder that drops it lets '%EF%BB%BFx' and 'x' share one base string and one signature.
    assert.equal(percentDecode('%EF%BB%BFadmin'), '\uFEFFadmin');
    assert.equal(percentDecode('a%EF%BB%BF'), 'a\uFEFF');
    assert.equal(percentDecode('%C3%A9%EF%BB%BF'), '\u00E9\uFEFF');
    assert.equal(percentEncode(percentDecode('%EF%BB%BFx')), '%EF%BB%BFx');
  });

  const malformed = ['%', '%2', '%zz', 'a%G0', '%%41', '%FF', '%C3', '%C3%28', '%ED%A0%80' /* encoded surrogate */, '%C0%AF' /* overlong '/' */];
  for (const input of malformed) {
    test(`rejects ${JSON.stringify(input)} with parameter_rejected`, () => {
      assert.throws(
        () => percentDecode(input),
        (e: unknown) => isOAuthProblem(e) && e.problem === 'parameter_rejected' && e.status === 400,
      );
    });
  }
});

describe('parseForm', () => {
  test("'+' means space, %2B means plus (V7)", () => {
    assert.deepEqual(parseForm('a=x+y&b=x%2By'), [
      ['a', 'x y'],
      ['b', 'x+y'],
    ]);
  });
  test("a segment without '=' has value '' (V7: c2)", () => assert.deepEqual(parseForm('c2&a3=2+q'), [['c2', ''], ['a3', '2 q']]));
  test('empty segments are skipped', () => assert.deepEqual(parseForm('&&a=1&&'), [['a', '1']]));
  test('empty input gives no pairs', () => assert.deepEqual(parseForm(''), []));
  test('names are decoded, order and duplicates kept', () => {
    assert.deepEqual(parseForm('c%40=&a=2&a=1&a=2'), [
      ['c@', ''],
      ['a', '2'],
      ['a', '1'],
      ['a', '2'],
    ]);
  });
  test("only the first '=' separates name and value", () => assert.deepEqual(parseForm('b5=%3D%253D&x==y'), [['b5', '=%3D'], ['x', '=y']]));
  test('malformed encoding throws parameter_rejected', () => {
    assert.throws(() => parseForm('a=%zz'), (e: unknown) => isOAuthProblem(e) && e.problem === 'parameter_rejected');
  });
});

describe('formEncode', () => {
  test('RFC 5849 encoding, order kept', () => {
    assert.equal(
      formEncode([
        ['oauth_token', 'a b+c'],
        ['oauth_callback_confirmed', 'true'],
        ['é', '~*'],
      ]),
      'oauth_token=a%20b%2Bc&oauth_callback_confirmed=true&%C3%A9=~%2A',
    );
  });
  test('parseForm(formEncode(x)) === x', () => {
    const pairs: Array<[string, string]> = [['a', ''], ['a', 'x y'], ['+', '%'], ['日本', 'ö']];
    assert.deepEqual(parseForm(formEncode(pairs)), pairs);
  });
});
