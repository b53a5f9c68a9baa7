// The one body reader (src/http/body.ts) on a real socket: read once and kept, the limit by
// declared length and by bytes read, the prefix of an over-long form, the deadlines, and a client
// gone mid-body — the same error for every reader.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { BodyTimeoutError, BodyTooLargeError, IncompleteBodyError, bufferedBodyOf, readBody, readBodyPrefix } from '../../src/http/body.js';

const DEADLINES = { idleMs: 2_000, totalMs: 5_000 };

type Handler = (req: IncomingMessage) => Promise<unknown>;

describe('http/body: the one cached body reader', () => {
  let server: http.Server;
  let port = 0;
  let handler: Handler = async () => undefined;
  let outcome: Promise<unknown> = Promise.resolve();

  before(async () => {
    server = http.createServer((req, res) => {
      outcome = handler(req).then(
        (v) => v,
        (err: unknown) => err,
      );
      void outcome.then(() => {
        if (!res.destroyed) res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });

  /** Sends raw bytes, then closes (leave) or waits for the answer. */
  async function exchange(raw: string, leave = false): Promise<unknown> {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(raw);
        if (leave) setTimeout(() => socket.destroy(), 50);
      });
      socket.on('data', () => socket.end());
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    return outcome;
  }
  const post = (body: string, declared = body.length) => `POST /f HTTP/1.1\r\nHost: x\r\nContent-Length: ${declared}\r\nConnection: close\r\n\r\n${body}`;

  it('reads the whole body once: a second reader gets the same bytes without reading again', async () => {
    handler = async (req) => {
      const first = await readBody(req, 100, DEADLINES);
      const second = await readBody(req, 100, DEADLINES);
      const prefix = await readBodyPrefix(req, 1, DEADLINES);
      return { same: first === second && prefix.bytes === first && prefix.complete, text: first.toString(), kept: bufferedBodyOf(req) === first };
    };
    assert.deepEqual(await exchange(post('a=1&b=2')), { same: true, text: 'a=1&b=2', kept: true });
  });

  it('a declared length over the limit -> BodyTooLargeError (413) before a byte is read', async () => {
    handler = (req) => readBody(req, 4, DEADLINES);
    const err = await exchange(post('a=1&b=2'));
    assert.ok(err instanceof BodyTooLargeError);
    assert.equal(err.status, 413);
  });

  it('a chunked body growing past the limit -> BodyTooLargeError', async () => {
    handler = (req) => readBody(req, 4, DEADLINES);
    const err = await exchange(`POST /f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n7\r\na=1&b=2\r\n0\r\n\r\n`);
    assert.ok(err instanceof BodyTooLargeError);
  });

  it('readBodyPrefix: past the limit, what was read and complete: false; nothing kept', async () => {
    handler = async (req) => {
      const r = await readBodyPrefix(req, 4, DEADLINES);
      return { complete: r.complete, atLeast: r.bytes.length > 4, kept: bufferedBodyOf(req) !== undefined };
    };
    assert.deepEqual(await exchange(post('a=1&b=2')), { complete: false, atLeast: true, kept: false });
  });

  it('a client gone mid-body -> IncompleteBodyError (400), for readBody and readBodyPrefix alike', async () => {
    for (const read of [readBody, readBodyPrefix]) {
      handler = (req) => read(req, 100, DEADLINES);
      const err = await exchange(post('a=1', 50), true);
      assert.ok(err instanceof IncompleteBodyError, `${read.name}: ${String(err)}`);
      assert.equal(err.status, 400);
    }
  });

  it('a body that stalls -> BodyTimeoutError idle (408)', async () => {
    handler = (req) => readBody(req, 100, { idleMs: 100, totalMs: 5_000 });
    const err = await exchange(post('a=1', 50));
    assert.ok(err instanceof BodyTimeoutError);
    assert.equal(err.status, 408);
    assert.equal(err.kind, 'idle');
  });
});
