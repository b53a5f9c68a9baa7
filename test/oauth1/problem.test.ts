// OAuthProblem: status table of DESIGN.md §3, WWW-Authenticate and body formats.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OAuthProblem, isOAuthProblem, parseForm, problemBody, wwwAuthenticate, type OAuthProblemName } from '../../src/oauth1/index.js';

describe('OAuthProblem', () => {
  const statuses: Array<[OAuthProblemName, 400 | 401]> = [
    ['version_rejected', 400],
    ['parameter_absent', 400],
    ['parameter_rejected', 400],
    ['timestamp_refused', 400],
    ['signature_method_rejected', 400],
    ['nonce_used', 401],
    ['token_used', 401],
    ['token_expired', 401],
    ['token_revoked', 401],
    ['token_rejected', 401],
    ['signature_invalid', 401],
    ['consumer_key_unknown', 401],
    ['permission_unknown', 401],
    ['permission_denied', 401],
  ];
  for (const [name, status] of statuses) {
    test(`${name} -> ${status}`, () => {
      const p = new OAuthProblem(name);
      assert.equal(p.status, status);
      assert.equal(p.problem, name);
      assert.equal(p.expose, true);
      assert.deepEqual(p.params, {});
      assert.ok(p instanceof Error);
    });
  }

  test('detail becomes the Error message', () => {
    assert.equal(new OAuthProblem('token_rejected', { detail: 'token of another link' }).message, 'token of another link');
    assert.equal(new OAuthProblem('token_rejected').message, 'token_rejected');
  });

  test('factories', () => {
    const absent = OAuthProblem.absent(['oauth_nonce', 'oauth_timestamp']);
    assert.equal(absent.problem, 'parameter_absent');
    assert.deepEqual(absent.params, { oauth_parameters_absent: 'oauth_nonce&oauth_timestamp' });
    const rejected = OAuthProblem.rejected(['oauth_nonce']);
    assert.equal(rejected.problem, 'parameter_rejected');
    assert.deepEqual(rejected.params, { oauth_parameters_rejected: 'oauth_nonce' });
    const ts = OAuthProblem.timestamp(1700000000, 1700000600);
    assert.equal(ts.problem, 'timestamp_refused');
    assert.equal(ts.status, 400);
    assert.deepEqual(ts.params, { oauth_acceptable_timestamps: '1700000000-1700000600' });
  });

  test('isOAuthProblem', () => {
    assert.equal(isOAuthProblem(new OAuthProblem('nonce_used')), true);
    assert.equal(isOAuthProblem(new Error('x')), false);
    assert.equal(isOAuthProblem({ problem: 'nonce_used', status: 401 }), false);
    assert.equal(isOAuthProblem(undefined), false);
  });
});

describe('wwwAuthenticate / problemBody', () => {
  test('realm is percent-encoded, extra params follow', () => {
    assert.equal(
      wwwAuthenticate('https://jira.example.com/jira', OAuthProblem.absent(['oauth_nonce', 'oauth_token'])),
      'OAuth realm="https%3A%2F%2Fjira.example.com%2Fjira", oauth_problem="parameter_absent", oauth_parameters_absent="oauth_nonce%26oauth_token"',
    );
    assert.equal(wwwAuthenticate('https://h', new OAuthProblem('signature_invalid')), 'OAuth realm="https%3A%2F%2Fh", oauth_problem="signature_invalid"');
  });

  test('body is form-encoded and parses back', () => {
    const p = OAuthProblem.timestamp(10, 20);
    assert.equal(problemBody(p), 'oauth_problem=timestamp_refused&oauth_acceptable_timestamps=10-20');
    const rejected = OAuthProblem.rejected(['oauth_nonce', 'a b']);
    assert.equal(problemBody(rejected), 'oauth_problem=parameter_rejected&oauth_parameters_rejected=oauth_nonce%26a%20b');
    assert.deepEqual(parseForm(problemBody(rejected)), [
      ['oauth_problem', 'parameter_rejected'],
      ['oauth_parameters_rejected', 'oauth_nonce&a b'],
    ]);
  });
});

describe('OAuthProblem — size of what echoes the client', () => {
  test('a request with thousands of bad names gets a bounded answer and a bounded log detail', async () => {
    const { collectParams } = await import('../../src/oauth1/index.js');
    const body = `oauth_consumer_key=k&${Array.from({ length: 5000 }, (_, i) => `oauth_${'x'.repeat(50)}${i}%zz`).join('&')}`;
    let caught: unknown;
    try {
      // Above the parameter limit, so the malformed names themselves are what is refused.
      collectParams({ rawQuery: '', formBody: body, parameterLimit: 10_000 });
    } catch (e) {
      caught = e;
    }
    assert.ok(isOAuthProblem(caught));
    // A proxy in front typically allows 4-8 KB of response headers; the body carries the same list.
    const header = wwwAuthenticate('https://jira.example.com', caught);
    assert.ok(header.length < 4096, `WWW-Authenticate is ${header.length} characters`);
    assert.ok(problemBody(caught).length < 4096);
    assert.ok(caught.message.length <= 1000, `detail is ${caught.message.length} characters`);
    // The first names are still there to help the client.
    assert.ok(caught.params.oauth_parameters_rejected?.startsWith(`oauth_${'x'.repeat(50)}0%zz&`));
  });

  test('one very long name is cut', () => {
    const p = OAuthProblem.rejected([`oauth_${'y'.repeat(100_000)}`]);
    assert.ok((p.params.oauth_parameters_rejected ?? '').length <= 200);
    assert.ok(p.message.length <= 1000);
  });
});

