// Base string URI (V3), parameter normalization and concatenation (V1, V4, V7).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { baseStringUri, normalizeBaseUri, normalizeParameters, parseForm, signatureBaseString } from '../../src/oauth1/index.js';

describe('V3 — base string URI', () => {
  test('RFC: GET /r%20v/X?id=123, Host: EXAMPLE.COM:80 -> http://example.com/r%20v/X', () => {
    assert.equal(baseStringUri('http://EXAMPLE.COM:80', '/r%20v/X'), 'http://example.com/r%20v/X');
    assert.equal(normalizeBaseUri('http://EXAMPLE.COM:80/r%20v/X?id=123'), 'http://example.com/r%20v/X');
  });
  test('RFC: GET /?q=1, Host: www.example.net:8080 (HTTPS) -> https://www.example.net:8080/', () => {
    assert.equal(baseStringUri('https://www.example.net:8080', '/'), 'https://www.example.net:8080/');
    assert.equal(normalizeBaseUri('https://www.example.net:8080/?q=1'), 'https://www.example.net:8080/');
  });

  const lines: Array<[string, string]> = [
    ['http://www.example.com:80/', 'http://www.example.com/'],
    ['https://www.example.com:443/', 'https://www.example.com/'],
    ['https://www.example.com:999/', 'https://www.example.com:999/'],
    ['HTTP://www.example.com:443/', 'http://www.example.com:443/'],
    ['HTTPS://www.example.com:80/', 'https://www.example.com:80/'],
    ['http://www.example.com:/', 'http://www.example.com/'],
    ['http://www.example.com', 'http://www.example.com/'],
    ['http://www.example.com/foo/bar/', 'http://www.example.com/foo/bar/'],
    ['https://www.example.com/path?foo=bar', 'https://www.example.com/path'],
    ['https://www.example.com/path#fragment', 'https://www.example.com/path'],
    ['https://[123:db8:fd00:1000::5]:13000', 'https://[123:db8:fd00:1000::5]:13000/'],
    ['http://WWW.EXAMPLE.COM', 'http://www.example.com/'],
    ['http://example.com/A/b%7e/~', 'http://example.com/A/b%7e/~'],
  ];
  for (const [input, expected] of lines) {
    test(`${input} -> ${expected}`, () => assert.equal(normalizeBaseUri(input), expected));
  }

  test('path case kept, only scheme and host lower-cased', () => assert.equal(normalizeBaseUri('HTTP://WWW.EXAMPLE.COM/Path/CASE'), 'http://www.example.com/Path/CASE'));
  test("' ' in the path becomes %20", () => assert.equal(normalizeBaseUri('http://e.com/a b'), 'http://e.com/a%20b'));
  test('dot segments and backslashes are not resolved (bytes as received)', () => {
    assert.equal(normalizeBaseUri('http://e.com/a/../b\\c'), 'http://e.com/a/../b\\c');
  });

  test("host argument (oauthlib base_string_uri(uri, host='Photos.Example.NET')) = our publicBaseUrl: host AND port replaced", () => {
    // The request arrived at http://internal:8080/p; the base string is built from the configured public URL.
    assert.equal(baseStringUri('http://Photos.Example.NET', '/p'), 'http://photos.example.net/p');
  });

  for (const bad of ['', 'http', 'http://', 'http://:8080', 'http://eg.com:0', 'http://eg.com:65536', 'http://eg.com:BAD']) {
    test(`error: ${JSON.stringify(bad)}`, () => assert.throws(() => normalizeBaseUri(bad), Error));
  }
  for (const bad of ['ftp://eg.com/', 'http://user:pw@eg.com/', 'http://eg.com:80:80/', 'http://eg .com/', '//eg.com/x', 'http://eg.com:-1']) {
    test(`also an error: ${JSON.stringify(bad)}`, () => assert.throws(() => normalizeBaseUri(bad), Error));
  }
  test('publicBaseUrl errors are thrown by baseStringUri too', () => assert.throws(() => baseStringUri('http://:8080', '/x'), Error));
});

describe('baseStringUri — context path and raw paths', () => {
  test('https://h.example.com/jira + /rest/api/2/issue', () => {
    assert.equal(baseStringUri('https://h.example.com/jira', '/rest/api/2/issue'), 'https://h.example.com/jira/rest/api/2/issue');
  });
  test('trailing slash on the base is not doubled', () => {
    assert.equal(baseStringUri('https://h.example.com/jira/', '/rest/api/2/issue'), 'https://h.example.com/jira/rest/api/2/issue');
    assert.equal(baseStringUri('https://h.example.com/', '/rest'), 'https://h.example.com/rest');
  });
  test('scheme/host/default port of the base normalized', () => {
    assert.equal(baseStringUri('HTTPS://H.Example.COM:443/jira', '/x'), 'https://h.example.com/jira/x');
    assert.equal(baseStringUri('https://h.example.com:8443', '/x'), 'https://h.example.com:8443/x');
  });
  test('raw path bytes kept (encoded chars, case, %7e)', () => {
    assert.equal(baseStringUri('https://h', '/a%2Fb/%7e/C%3a'), 'https://h/a%2Fb/%7e/C%3a');
  });
  test('a query given by mistake is cut off', () => assert.equal(baseStringUri('https://h', '/x?oauth_nonce=1'), 'https://h/x'));
  test('root path', () => assert.equal(baseStringUri('https://h/jira', '/'), 'https://h/jira/'));
});

describe('V4 — normalize request parameters (form-encoded input, "+" = space)', () => {
  const cases: Array<[string, string]> = [
    ['name', 'name='],
    ['a=b', 'a=b'],
    ['a=b&c=d', 'a=b&c=d'],
    ['a=x!y&a=x+y', 'a=x%20y&a=x%21y'],
    ['x!y=a&x=a', 'x=a&x%21y=a'],
  ];
  for (const [input, expected] of cases) {
    test(`${input} -> ${expected}`, () => assert.equal(normalizeParameters(parseForm(input)), expected));
  }
});

describe('V4 — concatenate request elements (oauth_signature excluded)', () => {
  const cases: Array<[string, string, string, string]> = [
    ['GET', 'http://example.com/', 'n=v', 'GET&http%3A%2F%2Fexample.com%2F&n%3Dv'],
    ['GET', 'http://example.com', 'n=v', 'GET&http%3A%2F%2Fexample.com%2F&n%3Dv'],
    [
      'POST',
      'https://photos.example.net/request_token',
      'oauth_version=1.0&oauth_consumer_key=dpf43f3p2l4k3l03&oauth_timestamp=1191242090&oauth_nonce=hsu94j3884jdopsl&oauth_signature_method=PLAINTEXT&oauth_signature=ignored',
      'POST&https%3A%2F%2Fphotos.example.net%2Frequest_token&oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dhsu94j3884jdopsl%26oauth_signature_method%3DPLAINTEXT%26oauth_timestamp%3D1191242090%26oauth_version%3D1.0',
    ],
    [
      'GET',
      'http://photos.example.net/photos',
      'file=vacation.jpg&size=original&oauth_version=1.0&oauth_consumer_key=dpf43f3p2l4k3l03&oauth_token=nnch734d00sl2jdk&oauth_timestamp=1191242096&oauth_nonce=kllo9940pd9333jh&oauth_signature=ignored&oauth_signature_method=HMAC-SHA1',
      'GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dkllo9940pd9333jh%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal',
    ],
  ];
  for (const [method, url, params, expected] of cases) {
    test(`${method} ${url}`, () => {
      const pairs = parseForm(params).filter(([name]) => name !== 'oauth_signature');
      assert.equal(signatureBaseString(method, normalizeBaseUri(url), pairs), expected);
    });
  }
});

describe('V1 — signature base string', () => {
  test('POST http://example.com/request', () => {
    const pairs: Array<[string, string]> = [
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
    ];
    assert.equal(
      signatureBaseString('post', baseStringUri('http://example.com', '/request'), pairs),
      'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7',
    );
  });
});

describe('V7 — derived edge vectors', () => {
  test('sort after encoding, non-ASCII: p=z, p=é -> p=%C3%A9&p=z', () => {
    assert.equal(
      normalizeParameters([
        ['p', 'z'],
        ['p', 'é'],
      ]),
      'p=%C3%A9&p=z',
    );
  });
  test('"+" in query/body: a=x+y -> a=x%20y, a=x%2By -> a=x%2By', () => {
    assert.equal(normalizeParameters(parseForm('a=x+y')), 'a=x%20y');
    assert.equal(normalizeParameters(parseForm('a=x%2By')), 'a=x%2By');
  });
  test('empty value: query "c2" -> "c2="', () => assert.equal(normalizeParameters(parseForm('c2')), 'c2='));
  test('sort is by encoded name first: names that differ only after encoding', () => {
    // '~' (0x7E) sorts after '%' (0x25): raw 'a~' vs 'a!' -> 'a%21' < 'a~'
    assert.equal(normalizeParameters([['a~', '1'], ['a!', '1']]), 'a%21=1&a~=1');
  });
  test('custom method is upper-cased and encoded', () => assert.equal(signatureBaseString('m-search', 'http://e/', []), 'M-SEARCH&http%3A%2F%2Fe%2F&'));
});
