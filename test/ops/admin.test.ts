// The admin listener: its endpoints, its separation from the public port, metrics that move
// with traffic, and readiness that does not follow Redis (DESIGN.md section 3).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type RunningGateway } from '../../src/server/serve.js';
import { LINK_ID, rsaPair, runtimeConfig, tempDir, testConfigObject } from '../helpers/fixtures.js';
import { startRedis, testRedisUrl } from '../helpers/redis.js';
import { captureLogger, eventually, metricValue, metrics, requestToken } from './helpers.js';
import { startStubAppB, type StubAppB } from '../helpers/stub-appb.js';
import { resources } from '../helpers/cleanup.js';

describe('admin listener', () => {
  const t = tempDir();
  let running: RunningGateway;
  let appB: StubAppB;

  // Closed by `after` even when `before` fails half-way.
  const res = resources();
  before(async () => {
    res.defer(() => t.cleanup());
    appB = res.add(await startStubAppB(), (a) => a.close());
    const cfg = runtimeConfig(t, testConfigObject(t, { redisUrl: await testRedisUrl(), upstreamUrl: appB.url }));
    running = res.add(await startGateway({ cfg, log: captureLogger('warn').log }), (r) => r.close());
  });
  after(() => res.close());

  it('answers /healthz, /readyz, /readyz/redis and /metrics', async () => {
    const health = await fetch(`${running.adminUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok\n');
    const ready = await fetch(`${running.adminUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), 'ready\n');
    const redis = await fetch(`${running.adminUrl}/readyz/redis`);
    assert.equal(redis.status, 200);
    assert.equal(await redis.text(), 'store ok\n');
    const m = await fetch(`${running.adminUrl}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await m.text();
    for (const name of [
      'applink_requests_total',
      'applink_oauth_refusals_total',
      'applink_upstream_duration_seconds',
      'applink_dance_events_total',
      'applink_config_reloads_total',
      'applink_store_errors_total',
      'applink_store_up',
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exported`);
    }
    assert.equal(metricValue(text, 'applink_store_up'), 1);
  });

  it('keeps admin paths off the public port and public paths off the admin port', async () => {
    for (const p of ['/healthz', '/readyz', '/readyz/redis', '/metrics']) {
      const r = await fetch(`${running.publicUrl}${p}`);
      const body = await r.text();
      // Whatever AppB or the gateway answers there, it is not the admin endpoint.
      assert.doesNotMatch(body, /^(ok|ready|store ok)\n$|applink_requests_total/, `${p} on the public port`);
    }
    const dance = await fetch(`${running.adminUrl}/plugins/servlet/oauth/request-token`, { method: 'POST' });
    assert.equal(dance.status, 404);
    assert.equal((await fetch(`${running.adminUrl}/rest/api/2/myself`)).status, 404);
  });

  it('counts a refused OAuth request by flow, outcome, oauth_problem and link', async () => {
    const before = await metrics(running.adminUrl);
    // Signed with a key that is not AppA's: signature_invalid.
    const r = await requestToken(running.publicUrl, { consumerKey: 'app-a', privatePem: rsaPair(3).privatePem });
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /oauth_problem="signature_invalid"/);
    await r.arrayBuffer();
    // The request's line and counters are written when the response is done.
    const after = await eventually(async () => {
      const text = await metrics(running.adminUrl);
      return metricValue(text, 'applink_oauth_refusals_total', { problem: 'signature_invalid' }) > metricValue(before, 'applink_oauth_refusals_total', { problem: 'signature_invalid' }) ? text : undefined;
    }, 'the refusal counter');
    assert.equal(
      metricValue(after, 'applink_oauth_refusals_total', { problem: 'signature_invalid', link: LINK_ID }) - metricValue(before, 'applink_oauth_refusals_total', { problem: 'signature_invalid', link: LINK_ID }),
      1,
    );
    assert.equal(metricValue(after, 'applink_requests_total', { outcome: 'refused' }) - metricValue(before, 'applink_requests_total', { outcome: 'refused' }), 1);
    assert.equal(metricValue(after, 'applink_requests_total', { flow: 'dance', outcome: 'refused' }) - metricValue(before, 'applink_requests_total', { flow: 'dance', outcome: 'refused' }), 1);
  });

  it('counts an issued request token as a dance event', async () => {
    const before = metricValue(await metrics(running.adminUrl), 'applink_dance_events_total', { event: 'issued', link: LINK_ID });
    const r = await requestToken(running.publicUrl, { consumerKey: 'app-a', privatePem: rsaPair(0).privatePem });
    assert.equal(r.status, 200, await r.clone().text());
    await r.arrayBuffer();
    const after = await eventually(async () => {
      const v = metricValue(await metrics(running.adminUrl), 'applink_dance_events_total', { event: 'issued', link: LINK_ID });
      return v > before ? v : undefined;
    }, 'the issued counter');
    assert.equal(after - before, 1);
  });
});

describe('readiness and a Redis fault', () => {
  it('keeps /readyz at 200 while /readyz/redis and applink_store_up report Redis down', async () => {
    const t = tempDir();
    const redis = await startRedis();
    const cfg = runtimeConfig(t, testConfigObject(t, { redisUrl: redis.url }));
    const running = await startGateway({ cfg, log: captureLogger('silent').log });
    try {
      assert.equal((await fetch(`${running.adminUrl}/readyz/redis`)).status, 200);
      await redis.stop();
      const down = await eventually(async () => {
        const r = await fetch(`${running.adminUrl}/readyz/redis`);
        await r.arrayBuffer();
        return r.status === 503 ? r : undefined;
      }, '/readyz/redis to fail');
      assert.equal(down.status, 503);
      const ready = await fetch(`${running.adminUrl}/readyz`);
      assert.equal(ready.status, 200, 'a Redis fault must not take the replica out of the Service');
      await ready.arrayBuffer();
      const text = await metrics(running.adminUrl);
      assert.equal(metricValue(text, 'applink_store_up'), 0);
      assert.ok(metricValue(text, 'applink_store_errors_total') > 0, 'Redis errors are counted');
      // A request that needs the store fails closed, quickly, with 503.
      const started = Date.now();
      const r = await requestToken(running.publicUrl, { consumerKey: 'app-a', privatePem: rsaPair(0).privatePem });
      assert.equal(r.status, 503);
      assert.ok(Date.now() - started < 2500, `503 within the budget (took ${Date.now() - started} ms)`);
    } finally {
      await running.close();
      await redis.stop();
      t.cleanup();
    }
  });

  it('answers /readyz 503 as soon as shutdown starts', async () => {
    const t = tempDir();
    const running = await startGateway({ cfg: runtimeConfig(t, testConfigObject(t)), log: captureLogger('silent').log });
    try {
      const stopping = running.shutdown({ delaySeconds: 0.5, graceSeconds: 1 });
      const r = await fetch(`${running.adminUrl}/readyz`);
      assert.equal(r.status, 503);
      assert.equal(await r.text(), 'shutting down\n');
      assert.equal((await fetch(`${running.adminUrl}/healthz`)).status, 200, 'still alive while draining');
      await stopping;
    } finally {
      await running.close();
      t.cleanup();
    }
  });
});
