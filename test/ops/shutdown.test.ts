// Graceful shutdown (DESIGN.md section 3): readiness fails at once, serving continues for the
// delay, then no new connections, idle keep-alive sockets closed, in-flight requests finish
// within the grace period, Redis closes, exit 0. No request that arrived before the close fails.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { startGateway } from '../../src/server/serve.js';
import { runtimeConfig, tempDir, testConfigObject, writeConfig } from '../helpers/fixtures.js';
import { testRedisUrl } from '../helpers/redis.js';
import { startCli } from '../helpers/process.js';
import { captureLogger, eventually } from './helpers.js';
import { startStubAppB, type StubRequest } from '../helpers/stub-appb.js';

/** GET with node:http so the Connection header and socket fate are visible. */
function get(url: string, agent?: http.Agent): Promise<{ status: number; body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: agent ?? false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const slowPaths = (ms: number) => (req: StubRequest) => (req.url.startsWith('/slow') ? ms : 0);

describe('graceful shutdown, in process', () => {
  it('drains in-flight requests, refuses new connections after the delay, closes idle keep-alive sockets and Redis', async () => {
    const t = tempDir();
    const appB = await startStubAppB({ delayMs: slowPaths(1200) });
    const cap = captureLogger('info');
    const running = await startGateway({ cfg: runtimeConfig(t, testConfigObject(t, { upstreamUrl: appB.url, redisUrl: await testRedisUrl() })), log: cap.log });
    // Its own agent: the slow requests below must not reuse the idle socket.
    const keepAlive = new http.Agent({ keepAlive: true });
    try {
      // An idle keep-alive connection: its socket must be closed at the listener close, not 65 s later.
      const warm = await get(`${running.publicUrl}/fast/warm`, keepAlive);
      assert.equal(warm.status, 200);
      const idleSocketClosed = new Promise<void>((r) => {
        const sockets = Object.values(keepAlive.freeSockets).flat();
        assert.equal(sockets.length, 1, 'one idle keep-alive socket');
        sockets[0]?.once('close', () => r());
      });

      const inflight = [1, 2, 3].map((i) => get(`${running.publicUrl}/slow/${i}`));
      await eventually(() => appB.requests.filter((r) => r.url?.startsWith('/slow')).length === 3 || undefined, 'the slow requests at AppB');

      const started = Date.now();
      const stopped = running.shutdown({ delaySeconds: 0.4, graceSeconds: 5 });
      let stoppedAt = 0;
      void stopped.then(() => (stoppedAt = Date.now()));

      const ready = await fetch(`${running.adminUrl}/readyz`);
      assert.equal(ready.status, 503, 'readiness fails at once');
      await ready.arrayBuffer();

      // Within the delay a new connection is still served, and told to close afterwards.
      const during = await get(`${running.publicUrl}/fast/during-delay`);
      assert.equal(during.status, 200);
      assert.equal(during.connection, 'close');

      await idleSocketClosed;
      assert.ok(Date.now() - started >= 350, 'the idle socket is closed when the listener closes, after the delay');

      // After the delay: the listener is closed while the slow requests are still in flight.
      await eventually(async () => {
        try {
          await get(`${running.publicUrl}/fast/after-delay`);
          return undefined;
        } catch (err) {
          return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? true : undefined;
        }
      }, 'new connections to be refused');
      assert.equal(stoppedAt, 0, 'still draining');

      const results = await Promise.all(inflight);
      for (const [i, r] of results.entries()) {
        assert.equal(r.status, 200, `in-flight request ${i + 1}`);
        assert.match(r.body, new RegExp(`/slow/${i + 1}`));
        assert.equal(r.connection, 'close', 'an answer written during shutdown ends its connection');
      }
      await stopped;
      assert.ok(Date.now() - started < 3000, `drained without waiting for the grace period (took ${Date.now() - started} ms)`);
      assert.equal(running.gw.store.isHealthy(), false, 'Redis is closed');
      const msgs = cap.lines.map((l) => l.msg);
      assert.ok(msgs.indexOf('shutting down: readiness off') < msgs.indexOf('stopped'));
    } finally {
      keepAlive.destroy();
      await running.close();
      await appB.close();
      t.cleanup();
    }
  });

  it('closes what is still running when the grace period is over', async () => {
    const t = tempDir();
    const appB = await startStubAppB({ delayMs: slowPaths(3000) });
    const cap = captureLogger('info');
    const running = await startGateway({ cfg: runtimeConfig(t, testConfigObject(t, { upstreamUrl: appB.url })), log: cap.log });
    try {
      const stuck = get(`${running.publicUrl}/slow/stuck`).then(
        () => 'answered',
        () => 'closed',
      );
      await eventually(() => appB.requests.length === 1 || undefined, 'the request at AppB');
      const started = Date.now();
      await running.shutdown({ delaySeconds: 0, graceSeconds: 0.5 });
      const took = Date.now() - started;
      assert.ok(took >= 450 && took < 2000, `stopped at the end of the grace period (${took} ms)`);
      assert.equal(await stuck, 'closed');
      assert.ok(cap.lines.some((l) => l.msg === 'grace period over: closing the remaining connections'));
    } finally {
      await running.close();
      await appB.close();
      t.cleanup();
    }
  });
});

describe('graceful shutdown with a WebSocket open', () => {
  /** AppB with a WebSocket echo, the gateway in front of it, and one open WebSocket through it. */
  async function openSocket() {
    const t = tempDir();
    const upstream = await startStubAppB();
    const wss = new WebSocketServer({ server: upstream.server });
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${String(m)}`)));
    const running = await startGateway({ cfg: runtimeConfig(t, testConfigObject(t, { upstreamUrl: upstream.url })), log: captureLogger('silent').log });
    const ws = new WebSocket(`${running.publicUrl.replace('http', 'ws')}/socket`);
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const cleanup = async () => {
      await running.close();
      for (const c of wss.clients) c.terminate();
      wss.close();
      await upstream.close();
      t.cleanup();
    };
    return { running, ws, wss, cleanup };
  }

  it('keeps it through the grace period, then closes it and stops', async () => {
    const { running, ws, cleanup } = await openSocket();
    try {
      const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
      const started = Date.now();
      const stopping = running.shutdown({ delaySeconds: 0, graceSeconds: 0.6 });
      // Still usable during the grace period.
      const echo = new Promise<string>((r) => ws.once('message', (m) => r(String(m))));
      ws.send('hello');
      assert.equal(await echo, 'echo hello');
      await stopping;
      await closed;
      const took = Date.now() - started;
      assert.ok(took >= 550 && took < 2500, `closed at the end of the grace period (${took} ms)`);
    } finally {
      await cleanup();
    }
  });

  it("closes AppB's side of that WebSocket too", async () => {
    const { running, wss, cleanup } = await openSocket();
    try {
      await running.shutdown({ delaySeconds: 0, graceSeconds: 0.3 });
      await eventually(() => wss.clients.size === 0 || undefined, "AppB's side of the WebSocket to close", 2000);
    } finally {
      await cleanup();
    }
  });
});

describe('graceful shutdown of applink-gateway serve', () => {
  it('finishes the slow requests in flight at SIGTERM and exits 0', async () => {
    const t = tempDir();
    const appB = await startStubAppB({ delayMs: slowPaths(1500) });
    const file = writeConfig(t, testConfigObject(t, { upstreamUrl: appB.url, patch: { shutdown: { delaySeconds: 0.3, graceSeconds: 10 } } }));
    const { child, line, lines, exited } = await startCli(['serve', '--config', file], (l) => l.msg === 'gateway listening', { env: { REDIS_URL: '' } });
    try {
      const publicUrl = String(line.publicUrl);
      const inflight = [1, 2, 3, 4].map((i) => get(`${publicUrl}/slow/${i}`));
      await eventually(() => appB.requests.length === 4 || undefined, 'the slow requests at AppB');
      const started = Date.now();
      child.kill('SIGTERM');
      const results = await Promise.all(inflight);
      assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200]);
      assert.equal(await exited, 0);
      const took = Date.now() - started;
      assert.ok(took < 5000, `exited once drained (${took} ms), not at the end of the grace period`);
      const msgs = lines.map((l) => l.msg);
      for (const m of ['signal received', 'shutting down: readiness off', 'shutting down: no new connections, draining in-flight requests', 'stopped']) {
        assert.ok(msgs.includes(m), `logged "${m}"`);
      }
      // The slow requests were logged as answered, not aborted.
      const slow = lines.filter((l) => l.msg === 'request' && String(l.path).startsWith('/slow'));
      assert.equal(slow.length, 4);
      assert.ok(slow.every((l) => l.status === 200 && l.aborted === undefined));
    } finally {
      child.kill('SIGKILL');
      await appB.close();
      t.cleanup();
    }
  });
});
