// The CLI end to end: check-config and serve (admin endpoints, separation, SIGTERM exit 0).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir, testConfigObject, writeConfig } from '../helpers/fixtures.js';
import { runCli, startCli } from '../helpers/process.js';
import { eventually } from '../ops/helpers.js';

const t = tempDir();
after(() => t.cleanup());
const env = { REDIS_URL: '', APPLINK_GATEWAY_CONFIG: '' };

describe('applink-gateway check-config', () => {
  it('exits 0 for a valid file', async () => {
    const file = writeConfig(t, testConfigObject(t));
    const r = await runCli(['check-config', '--config', file], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ok \(2 links, identity oauth1, store memory\)/);
  });

  it('exits 1 naming the key and the problem', async () => {
    const obj = testConfigObject(t);
    (obj.links as Array<Record<string, unknown>>)[0]!.signatureMethods = ['RSA-SHA7'];
    const file = writeConfig(t, obj, 'broken.yaml');
    const r = await runCli(['check-config', '--config', file], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /links\[0\]\.signatureMethods\[0\]: "RSA-SHA7" is not one of RSA-SHA1, HMAC-SHA1, PLAINTEXT/);
  });

  it('takes the file from APPLINK_GATEWAY_CONFIG and explains a missing one', async () => {
    const file = writeConfig(t, testConfigObject(t), 'via-env.yaml');
    assert.equal((await runCli(['check-config'], { env: { ...env, APPLINK_GATEWAY_CONFIG: file } })).code, 0);
    const r = await runCli(['check-config', '--config', `${t.dir}/none.yaml`], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read the configuration file \(ENOENT\)/);
  });

  it('prints help for every command and refuses unknown ones', async () => {
    const h = await runCli(['--help'], { env });
    assert.equal(h.code, 0);
    assert.match(h.stdout, /serve/);
    assert.match(h.stdout, /check-config/);
    const s = await runCli(['serve', '--help'], { env });
    assert.equal(s.code, 0);
    assert.match(s.stdout, /--config PATH/);
    assert.equal((await runCli(['frobnicate'], { env })).code, 2);
    assert.equal((await runCli(['check-config', '--bogus'], { env })).code, 2);
  });
});

describe('applink-gateway serve', () => {
  it('serves /healthz and /readyz on the admin port only, and exits 0 on SIGTERM', async () => {
    const file = writeConfig(t, testConfigObject(t, { patch: { shutdown: { delaySeconds: 0, graceSeconds: 2 } } }), 'serve.yaml');
    const { child, line, exited } = await startCli(['serve', '--config', file], (l) => l.msg === 'gateway listening', { env });
    try {
      const admin = String(line.adminUrl);
      const pub = String(line.publicUrl);
      assert.equal((await fetch(`${admin}/healthz`)).status, 200);
      const ready = await fetch(`${admin}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(await ready.text(), 'ready\n');
      // The public port never answers admin paths itself (they go to AppB, which is down here).
      const leaked = await fetch(`${pub}/readyz`);
      assert.notEqual(await leaked.text(), 'ready\n');
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('writes request lines in batches: an idle gateway still writes a waiting line, and SIGTERM writes what waits before exiting', async () => {
    const file = writeConfig(t, testConfigObject(t, { patch: { shutdown: { delaySeconds: 0, graceSeconds: 2 } } }), 'batches.yaml');
    const { child, line, lines, exited } = await startCli(['serve', '--config', file], (l) => l.msg === 'gateway listening', { env });
    try {
      const pub = String(line.publicUrl);
      // AppB is down here: 502, logged like any request.
      await (await fetch(`${pub}/batch/alone`)).arrayBuffer();
      // No line follows it: the periodic flush (100 ms) writes it.
      await eventually(() => lines.find((l) => l.msg === 'request' && l.path === '/batch/alone'), 'the request line of an idle gateway', 3000);
      const last = ['/batch/last-0', '/batch/last-1', '/batch/last-2'];
      for (const p of last) await (await fetch(`${pub}${p}`)).arrayBuffer();
      // At once: these lines are (nearly always) still waiting for their batch when the signal comes.
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const written = lines.filter((l) => l.msg === 'request' && String(l.path).startsWith('/batch/last-')).map((l) => l.path);
      assert.deepEqual(written, last);
      // A line written at once (the shutdown's) comes after the request lines that waited before it.
      const order = lines.map((l) => String(l.path ?? l.msg));
      const shutdown = order.indexOf('shutting down: readiness off');
      assert.ok(shutdown > order.indexOf('/batch/last-2'), `the request lines, then the shutdown line: ${order.join(' | ')}`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
