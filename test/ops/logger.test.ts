// The logger: no secret reaches a log line, whichever argument of the log call carries it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, REDACTED } from '../../src/ops/logger.js';
import { StoreUnavailableError } from '../../src/store/types.js';

/** A logger writing synchronously into an array of parsed lines. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ level: 'trace', destination }), lines };
}

const SECRET = 'tok-SECRET-value';

describe('logger', () => {
  it('scrubs sensitive keys in the logged object (at any depth)', () => {
    const { log, lines } = capture();
    log.info({ headers: { Authorization: `OAuth oauth_token="${SECRET}"`, cookie: 'JSESSIONID=1' }, tokenSecret: SECRET }, 'req');
    const text = JSON.stringify(lines);
    assert.ok(!text.includes(SECRET), text);
    assert.equal((lines[0]?.headers as Record<string, unknown>).Authorization, REDACTED);
  });

  it('masks credentials in the message string, formatted arguments included', () => {
    const { log, lines } = capture();
    log.info(`GET /x?oauth_token=${SECRET}&a=1`);
    log.warn({ a: 1 }, 'callback %s', `https://appa/cb?oauth_verifier=${SECRET}`);
    const text = JSON.stringify(lines);
    assert.ok(!text.includes(SECRET), text);
    assert.equal(lines[0]?.msg, `GET /x?oauth_token=${REDACTED}&a=1`);
  });

  it('masks credentials in the message pino takes from an Error logged on its own', () => {
    const { log, lines } = capture();
    log.error(new Error(`refused oauth_token=${SECRET}`));
    const text = JSON.stringify(lines);
    assert.ok(!text.includes(SECRET), text);
    assert.equal(lines[0]?.msg, `refused oauth_token=${REDACTED}`);
  });

  it("keeps an error's type (class name) and message", () => {
    const { log, lines } = capture();
    log.error({ err: new StoreUnavailableError('Redis is unreachable') }, 'unhandled error');
    const err = lines[0]?.err as Record<string, unknown>;
    assert.equal(err.type, 'StoreUnavailableError');
    assert.equal(err.message, 'Redis is unreachable');
    assert.equal(lines[0]?.msg, 'unhandled error');
  });
});
