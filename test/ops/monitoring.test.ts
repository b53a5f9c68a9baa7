// deploy/monitoring/: the alert rules pass `promtool check rules` and their unit tests
// (`promtool test rules`: every alert fires on a series that should fire it and not on one that
// should not), the PrometheusRule object carries the same groups and validates against its CRD
// schema, and every metric the dashboard and the rules name is one a real gateway's admin
// /metrics exports. promtool comes with Debian's `prometheus` package (.ci/run installs it).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { startGateway, type RunningGateway } from '../../src/server/serve.js';
import { createLogger } from '../../src/ops/logger.js';
import { rsaPair, runtimeConfig, tempDir, testConfigObject } from '../helpers/fixtures.js';
import { ROOT } from '../helpers/process.js';
import { metrics, requestToken } from './helpers.js';
import { validateObject } from './k8s-schemas.js';

const DIR = path.join(ROOT, 'deploy/monitoring');
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

function promtool(...args: string[]) {
  const res = spawnSync(PROMTOOL, args, { cwd: DIR, encoding: 'utf8' });
  if (res.error) assert.fail(`promtool not found (${PROMTOOL}): install it with \`apt-get install -y prometheus\` (Debian), or set PROMTOOL`);
  return res;
}

type Rule = { alert?: string; record?: string; expr: string };
const rulesFile = () => YAML.parse(readFileSync(path.join(DIR, 'alerts.rules.yaml'), 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> };
const alerts = () => rulesFile().groups.flatMap((g) => g.rules).filter((r) => r.alert);
const dashboard = () => JSON.parse(readFileSync(path.join(DIR, 'grafana-dashboard.json'), 'utf8')) as { panels: Array<{ title: string; targets: Array<{ expr: string }> }> };

/** Metric names in a PromQL expression (functions, keywords, labels and $variables excluded). */
function metricNames(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\{[^}]*\}/g, '{}').replace(/\[[^\]]*\]/g, '[]');
  const noGrouping = noStrings.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return [...noGrouping.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)]
    .map((m) => m[1] ?? '')
    .filter((n) => n.includes('_') && !/^(and|or|unless|bool|offset)$/.test(n));
}

describe('deploy/monitoring: alert rules', () => {
  it('promtool check rules accepts the rules file', () => {
    const res = promtool('check', 'rules', 'alerts.rules.yaml');
    assert.equal(res.status, 0, res.stdout + res.stderr);
    assert.match(res.stdout, new RegExp(`SUCCESS: ${alerts().length} rules found`));
  });

  it('promtool test rules: every alert fires on its series and stays silent on the other', () => {
    const res = promtool('test', 'rules', 'alerts.test.yaml');
    assert.equal(res.status, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /SUCCESS/);
    const tests = (YAML.parse(readFileSync(path.join(DIR, 'alerts.test.yaml'), 'utf8')) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }> }).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts()) {
      assert.ok(tests.some((t) => t.alertname === a.alert && t.exp_alerts.length > 0), `${a.alert}: a case where it fires`);
      assert.ok(tests.some((t) => t.alertname === a.alert && t.exp_alerts.length === 0), `${a.alert}: a case where it does not`);
    }
  });

  it('a broken rule is refused (the checks can fail)', () => {
    const t = tempDir('applink-rules-');
    try {
      const file = t.write('bad.rules.yaml', YAML.stringify({ groups: [{ name: 'g', rules: [{ alert: 'X', expr: 'sum by (job (applink_store_up)' }] }] }));
      const res = promtool('check', 'rules', file);
      assert.notEqual(res.status, 0);
    } finally {
      t.cleanup();
    }
  });

  it('the PrometheusRule carries the same groups and validates against its CRD schema', () => {
    const obj = YAML.parse(readFileSync(path.join(DIR, 'prometheusrule.yaml'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    validateObject(obj);
    assert.deepEqual(obj.spec.groups, rulesFile().groups);
  });
});

describe('deploy/monitoring: every metric named is one the gateway exports', () => {
  let running: RunningGateway;
  let t: ReturnType<typeof tempDir>;
  before(async () => {
    t = tempDir('applink-monitoring-');
    const cfg = runtimeConfig(t, testConfigObject(t), {});
    running = await startGateway({ cfg, log: createLogger({ level: 'error', destination: { write: () => undefined } }), listen: '127.0.0.1:0', adminListen: '127.0.0.1:0' });
  });
  after(async () => {
    await running?.close();
    t?.cleanup();
  });

  it('the dashboard and the rules name only metrics of the real /metrics', async () => {
    // A little traffic first: a dance step and a refusal, so that labelled series exist too.
    assert.equal((await requestToken(running.publicUrl, { consumerKey: 'app-a', privatePem: rsaPair(0).privatePem })).status, 200);
    assert.equal((await requestToken(running.publicUrl, { consumerKey: 'app-a', privatePem: rsaPair(1).privatePem })).status, 401);
    const text = await metrics(running.adminUrl);
    const exported = new Set<string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      const [, name = '', type] = m;
      exported.add(name);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(name + s);
    }
    assert.ok(/^applink_oauth_refusals_total\{/m.test(text) && /^applink_dance_events_total\{/m.test(text), 'labelled series exist');
    const named = new Map<string, string>();
    for (const p of dashboard().panels) for (const target of p.targets) for (const n of metricNames(target.expr)) named.set(n, `dashboard panel "${p.title}"`);
    for (const a of alerts()) for (const n of metricNames(a.expr)) named.set(n, `alert ${a.alert}`);
    assert.ok(named.size >= 12, `${named.size} metric names found`);
    for (const [name, where] of named) assert.ok(exported.has(name), `${where} names ${name}, which /metrics does not export`);
    // And the parser finds what it should (it could otherwise pass by finding nothing).
    assert.deepEqual(metricNames('sum by (job, le) (rate(applink_upstream_duration_seconds_bucket{job=~"$job"}[5m])) > 2'), ['applink_upstream_duration_seconds_bucket']);
    // The dashboard covers what the issue lists.
    const all = [...named.keys()];
    for (const needed of ['applink_requests_total', 'applink_oauth_refusals_total', 'applink_upstream_duration_seconds_bucket', 'applink_upstream_oauth_refusals_total', 'applink_dance_events_total', 'applink_store_up', 'applink_store_errors_total', 'applink_config_reloads_total', 'process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      assert.ok(all.includes(needed), `${needed} is watched`);
    }
  });
});
