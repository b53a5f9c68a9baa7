// The one error model (src/errors/) and its renderer (src/http/answer.ts): every request-facing
// error is a GatewayError with its status, exposure, code and headers; anything else becomes a
// hidden internal_error; the raw-socket form; every code documented in the README.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { GATEWAY_ERROR_CODES, GatewayError, isGatewayError } from '../../src/errors/index.js';
import { errorToAnswer, realmOf, writeErrorToSocket } from '../../src/http/answer.js';
import { BodyTimeoutError, BodyTooLargeError, IncompleteBodyError } from '../../src/http/body.js';
import { BadRequestHeaderError, UnsupportedTransferCodingError } from '../../src/http/headers.js';
import { BadRequestTargetError } from '../../src/http/target.js';
import { OAuthProblem } from '../../src/oauth1/index.js';
import { createLogger } from '../../src/ops/logger.js';
import { createMetrics } from '../../src/ops/metrics.js';
import type { RequestFacts } from '../../src/ops/request-facts.js';
import { PageError } from '../../src/provider/html.js';
import { LateOAuthParameterError } from '../../src/proxy/form-guard.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { UserAuthError } from '../../src/userauth/errors.js';

describe('GatewayError: one model for every request-facing error', () => {
  const cases: Array<[string, GatewayError, number, string, boolean, Record<string, string> | undefined]> = [
    ['BodyTooLargeError', new BodyTooLargeError(10), 413, 'body_too_large', true, { Connection: 'close' }],
    ['BodyTimeoutError', new BodyTimeoutError('idle', 10), 408, 'body_timeout', true, { Connection: 'close' }],
    ['IncompleteBodyError', new IncompleteBodyError(), 400, 'body_incomplete', true, undefined],
    ['BadRequestTargetError', new BadRequestTargetError('x'), 400, 'bad_request_target', true, undefined],
    ['BadRequestHeaderError', new BadRequestHeaderError('x'), 400, 'bad_request_header', true, undefined],
    ['UnsupportedTransferCodingError', new UnsupportedTransferCodingError('gzip'), 501, 'unsupported_transfer_coding', true, undefined],
    ['StoreUnavailableError', new StoreUnavailableError('Redis is unreachable'), 503, 'store_unavailable', false, { 'Retry-After': '2', 'Cache-Control': 'no-store' }],
    ['LateOAuthParameterError', new LateOAuthParameterError('oauth_token'), 413, 'late_oauth_parameter', true, { Connection: 'close' }],
    ['UserAuthError', new UserAuthError('session_check_timeout', 504, 'slow'), 504, 'session_check_timeout', false, undefined],
    ['PageError', new PageError({ status: 404, title: 'Gone', message: 'x' }), 404, 'page_refused', true, undefined],
    ['PageError with a problem', new PageError({ status: 401, title: 'No', message: 'x', problem: 'token_rejected' }), 401, 'token_rejected', true, undefined],
    ['OAuthProblem', new OAuthProblem('nonce_used'), 401, 'nonce_used', true, undefined],
    ['OAuthProblem with Retry-After', new OAuthProblem('consumer_key_refused', { retryAfterSeconds: 7 }), 429, 'consumer_key_refused', true, { 'Retry-After': '7' }],
  ];
  for (const [name, e, status, code, expose, headers] of cases) {
    it(`${name}: ${status} ${code}`, () => {
      assert.ok(isGatewayError(e));
      assert.ok(e instanceof Error);
      assert.equal(e.status, status);
      assert.equal(e.code, code);
      assert.equal(e.expose, expose);
      assert.deepEqual(e.headers === undefined ? undefined : { ...e.headers }, headers);
    });
  }

  it('every code (besides the oauth_problem names) is in GATEWAY_ERROR_CODES and documented in the README table', () => {
    for (const [, e] of cases) if (!(e instanceof OAuthProblem) && !(e instanceof PageError && e.problem)) assert.ok((GATEWAY_ERROR_CODES as readonly string[]).includes(e.code), e.code);
    const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    for (const code of GATEWAY_ERROR_CODES) assert.match(readme, new RegExp(`^\\| [^|]*\`${code}\``, 'm'), `${code} in the README's error code table`);
  });
});

describe('errorToAnswer: the bookkeeping of every answer', () => {
  const sink = () => {
    const lines: string[] = [];
    return { log: createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } }), metrics: createMetrics({ defaultMetrics: false }), lines };
  };

  it('an unexpected error becomes a hidden internal_error, logged', () => {
    const s = sink();
    const facts: RequestFacts = { requestId: 'r1' };
    const e = errorToAnswer(new Error('secret internals'), null, facts, s);
    assert.ok(e);
    assert.equal(e.status, 500);
    assert.equal(e.code, 'internal_error');
    assert.equal(e.expose, false);
    assert.equal(facts.outcome, 'error');
    assert.ok(s.lines.some((l) => /"level":"error".*"msg":"unhandled error"/.test(l)));
  });

  it("a library's exposed client error keeps its status and message (client_error); an unexposed one is internal", () => {
    const s = sink();
    const e = errorToAnswer(Object.assign(new Error('Payload Too Large'), { status: 413, expose: true }), null, undefined, s);
    assert.equal(e?.status, 413);
    assert.equal(e?.code, 'client_error');
    assert.equal(e?.message, 'Payload Too Large');
    assert.equal(errorToAnswer(Object.assign(new Error('x'), { status: 400 }), null, undefined, s)?.code, 'internal_error');
  });

  it('an OAuth problem is a refusal with its problem; the store down is store_unavailable, counted', async () => {
    const s = sink();
    const facts: RequestFacts = { requestId: 'r2' };
    errorToAnswer(new OAuthProblem('signature_invalid'), null, facts, s);
    assert.equal(facts.outcome, 'refused');
    assert.equal(facts.problem, 'signature_invalid');
    const down: RequestFacts = { requestId: 'r3' };
    errorToAnswer(new StoreUnavailableError(), null, down, s);
    assert.equal(down.outcome, 'store_unavailable');
    assert.equal((await s.metrics.storeErrors.get()).values[0]?.value, 1);
  });
});

describe('writeErrorToSocket: the raw answer of an upgrade', () => {
  const written = (e: GatewayError): Promise<string> => {
    const socket = new PassThrough();
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    writeErrorToSocket(socket, e, realmOf(new URL('https://jira.example.com/jira/')));
    return new Promise((resolve) => socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1'))));
  };

  it('an OAuth problem: status line, WWW-Authenticate with the realm, form body, Connection: close', async () => {
    const out = await written(new OAuthProblem('consumer_key_refused', { retryAfterSeconds: 3 }));
    const [head = '', body] = out.split('\r\n\r\n');
    const lines = head.split('\r\n');
    assert.equal(lines[0], 'HTTP/1.1 429 Too Many Requests');
    assert.ok(lines.includes('WWW-Authenticate: OAuth realm="https%3A%2F%2Fjira.example.com%2Fjira", oauth_problem="consumer_key_refused"'));
    assert.ok(lines.includes('Retry-After: 3'));
    assert.ok(lines.includes('Content-Type: application/x-www-form-urlencoded'));
    assert.ok(lines.includes('Connection: close'));
    assert.ok(lines.includes('Cache-Control: no-store'));
    assert.equal(body, 'oauth_problem=consumer_key_refused');
    assert.ok(lines.includes(`Content-Length: ${Buffer.byteLength(body ?? '')}`));
  });

  it('a hidden error: its fixed text, never its message; one Connection header', async () => {
    const out = await written(new StoreUnavailableError('Redis at 10.0.0.1 is unreachable'));
    assert.match(out, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.equal(out.match(/^Connection:/gim)?.length, 1);
    assert.equal(out.match(/^Cache-Control:/gim)?.length, 1);
    assert.ok(out.endsWith('\r\n\r\nThe gateway cannot reach its token store right now; try again shortly.\n'));
    assert.doesNotMatch(out, /10\.0\.0\.1/);
  });
});
