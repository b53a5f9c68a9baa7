// server.workers > 1 (node:cluster): workers share the public port, the primary serves the
// admin port with metrics summed over workers, passes SIGHUP on and stops them all on SIGTERM.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir, testConfigObject, writeConfig } from '../helpers/fixtures.js';
import { testRedisUrl } from '../helpers/redis.js';
import { runCli, startCli } from '../helpers/process.js';
import { eventually, metricValue, metrics } from '../ops/helpers.js';
import { startStubAppB } from '../helpers/stub-appb.js';

describe('applink-gateway serve with server.workers: 2', () => {
  it('is refused on the memory store with a clear message', async () => {
    const t = tempDir();
    try {
      const file = writeConfig(t, testConfigObject(t, { patch: { server: { workers: 2 } } }));
      const r = await runCli(['check-config', '--config', file], { env: { REDIS_URL: '' } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /server\.workers: more than one worker needs store\.redis \(the memory store serves one process\)/);
    } finally {
      t.cleanup();
    }
  });

  it('serves from two workers, aggregates their metrics, reloads and stops them all', async () => {
    const t = tempDir();
    const appB = await startStubAppB();
    const file = writeConfig(t, testConfigObject(t, { redisUrl: await testRedisUrl(), upstreamUrl: appB.url, patch: { server: { workers: 2 }, shutdown: { delaySeconds: 0, graceSeconds: 5 } } }));
    const { child, line, lines, exited } = await startCli(['serve', '--config', file], (l) => l.msg === 'gateway listening' && l.workers === 2, { timeoutMs: 60_000 });
    try {
      const publicUrl = String(line.publicUrl);
      const adminUrl = String(line.adminUrl);
      const workerPids = new Set(lines.filter((l) => l.msg === 'gateway listening' && l.workers === undefined).map((l) => l.pid));
      assert.equal(workerPids.size, 2, 'two workers listening');
      assert.ok(!workerPids.has(line.pid), 'the primary is not a worker');

      const ready = await fetch(`${adminUrl}/readyz`);
      assert.equal(ready.status, 200);
      await ready.arrayBuffer();
      // Separate connections, so the cluster spreads them over both workers.
      for (let i = 0; i < 10; i++) {
        const r = await fetch(`${publicUrl}/page/${i}`, { headers: { Connection: 'close' } });
        assert.equal(r.status, 200);
        await r.arrayBuffer();
      }
      const served = await eventually(() => {
        const l = lines.filter((x) => x.msg === 'request' && String(x.path).startsWith('/page/'));
        return l.length === 10 ? l : undefined;
      }, 'ten request lines');
      assert.equal(new Set(served.map((l) => l.pid)).size, 2, 'both workers served requests');
      const text = await metrics(adminUrl);
      assert.equal(metricValue(text, 'applink_workers'), 2);
      assert.ok(metricValue(text, 'applink_requests_total', { flow: 'unsigned', outcome: 'ok' }) >= 10, 'counters summed over the workers');
      assert.equal(metricValue(text, 'applink_store_up'), 1);

      // A worker that dies is replaced.
      const victim = [...workerPids][0] as number;
      process.kill(victim, 'SIGKILL');
      await eventually(() => lines.some((l) => l.msg === 'gateway listening' && l.workers === undefined && !workerPids.has(l.pid)) || undefined, 'a replacement worker', 10_000);
      const after = await metrics(adminUrl);
      assert.equal(metricValue(after, 'applink_worker_restarts_total'), 1);
      assert.equal(metricValue(after, 'applink_workers'), 2);

      child.kill('SIGHUP');
      await eventually(() => {
        const pids = new Set(lines.filter((l) => l.msg === 'configuration unchanged' && l.reason === 'SIGHUP').map((l) => l.pid));
        return pids.size === 2 || undefined;
      }, 'both workers to reload on SIGHUP');

      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const stopped = lines.filter((l) => l.msg === 'stopped');
      assert.equal(stopped.length, 3, 'two workers and the primary stopped');
    } finally {
      child.kill('SIGKILL');
      await appB.close();
      t.cleanup();
    }
  });
});
