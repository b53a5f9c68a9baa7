// The logger: no secret reaches a log line, whichever argument of the log call carries it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, flagField, numberField, REDACTED, textField, writeInfoLine } from '../../src/ops/logger.js';
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

  it('writes the request line byte for byte as pino prints the same fields (escaping, numbers, flags, absent fields)', () => {
    const raw: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (chunk: string) => void raw.push(chunk) } });
    const samples: Array<Record<string, string | number | boolean | undefined>> = [
      { requestId: 'r-1', method: 'GET', path: '/rest/api/2/myself', status: 200, durationMs: 1.25, flow: 'unsigned', outcome: 'ok', remote: '127.0.0.1' },
      { requestId: 'r-2', path: '/a "quoted" \\ back\u0001\u2028 ünï ☃ \ud83d\ude00', status: undefined, durationMs: Number.NaN, user: 'JIRAUSER10000', aborted: true, upgrade: true },
      { requestId: 'r-3', upstreamStatus: 0, durationMs: Infinity, link: '', audit: true, event: 'impersonation', identityMode: 'oauth1' },
    ];
    for (const fields of samples) {
      raw.length = 0;
      log.info(Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)), 'request');
      const viaPino = raw.join('');
      raw.length = 0;
      let body = '';
      for (const [k, v] of Object.entries(fields)) body += typeof v === 'number' ? numberField(k, v) : typeof v === 'boolean' ? flagField(k, v) : textField(k, v);
      writeInfoLine(log, body, 'request');
      const direct = raw.join('');
      const untimed = (line: string) => line.replace(/"time":"[^"]+"/, '"time":"T"');
      assert.equal(untimed(direct), untimed(viaPino));
      assert.match(direct, /"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/);
      assert.ok(direct.endsWith('}\n'));
    }
  });
});
