// An upload the client cuts short (half a body, then the socket closes) is a normal outcome:
// one info request line with outcome "aborted", no status (nothing was sent), no error line,
// no stack, no 500 attempt — on the proxy (read form body and streamed body), the token
// endpoints and the browser form pages alike.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startGateway, type RunningGateway } from '../../src/server/serve.js';
import { runtimeConfig, tempDir, testConfigObject } from '../helpers/fixtures.js';
import { captureLogger, eventually, metrics, metricValue } from './helpers.js';
import { startStubAppB, type StubAppB } from '../helpers/stub-appb.js';
import { resources } from '../helpers/cleanup.js';

/** Sends the head and half of a declared body over a raw socket, then closes it. */
async function sendHalfAndLeave(url: string, path: string, contentType: string, requestId: string): Promise<void> {
  const u = new URL(url);
  const half = 'a=1&'.repeat(256);
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(Number(u.port), u.hostname, () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: ${contentType}\r\nContent-Length: ${half.length * 2}\r\nX-Request-Id: ${requestId}\r\n\r\n${half}`);
      // Long enough for the gateway to start reading (or forwarding) the body.
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 50);
    });
    socket.on('error', reject);
  });
}

describe('uploads aborted mid-body', () => {
  const t = tempDir();
  const cap = captureLogger('debug');
  let running: RunningGateway;
  let appB: StubAppB;

  // Closed by `after` even when `before` fails half-way.
  const res = resources();
  before(async () => {
    res.defer(() => t.cleanup());
    // AppB answers a streamed upload only after a while, as one reading the whole body would.
    appB = res.add(await startStubAppB({ delayMs: (req) => (req.url?.startsWith('/rest/api/2/attachment') ? 500 : 0) }), (a) => a.close());
    running = res.add(await startGateway({ cfg: runtimeConfig(t, testConfigObject(t, { upstreamUrl: appB.url })), log: cap.log, defaultMetrics: false }), (r) => r.close());
  });
  after(() => res.close());

  const cases: Array<[string, string, string]> = [
    ['proxy, a form body the gateway reads', '/rest/api/2/issue', 'application/x-www-form-urlencoded'],
    ['proxy, a body streamed to AppB', '/rest/api/2/attachment', 'application/octet-stream'],
    ['the request-token endpoint', '/plugins/servlet/oauth/request-token', 'application/x-www-form-urlencoded'],
    ['a browser form page (demo sign-in)', '/plugins/servlet/applink-gateway/login', 'application/x-www-form-urlencoded'],
  ];
  cases.forEach(([label, path, contentType], i) => {
    it(`${label}: one info line, outcome aborted, no error and no stack`, async () => {
      const requestId = `aborted-upload-${i}`;
      const before = metricValue(await metrics(running.adminUrl), 'applink_requests_total', { outcome: 'aborted' });
      await sendHalfAndLeave(running.publicUrl, path, contentType, requestId);
      const line = await eventually(() => cap.lines.find((l) => l.msg === 'request' && l.requestId === requestId), `the request line of ${requestId}`);
      assert.equal(line.level, 'info');
      assert.equal(line.outcome, 'aborted');
      assert.equal(line.aborted, true);
      assert.equal(line.status, undefined, 'no response was sent (no 500 attempt)');
      // The error handler runs after the line: give it its turn before looking for error lines.
      await new Promise((r) => setTimeout(r, 100));
      const mine = cap.lines.filter((l) => l.requestId === requestId);
      assert.deepEqual(
        mine.filter((l) => l.level === 'error' || l.level === 'fatal' || l.level === 'warn').map((l) => l.msg),
        [],
      );
      assert.ok(!cap.raw.join('').includes('unhandled error'), 'never logged as an unhandled error');
      assert.ok(mine.every((l) => !JSON.stringify(l).includes('"stack"')), 'no stack trace');
      assert.equal(metricValue(await metrics(running.adminUrl), 'applink_requests_total', { outcome: 'aborted' }), before + 1);
    });
  });

  it('the gateway keeps serving afterwards', async () => {
    const r = await fetch(`${running.publicUrl}/browse/PRJ-1`);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  });
});
