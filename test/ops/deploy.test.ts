// The Kubernetes manifests (kustomize overlays) render, and say what the design requires:
// probes on the admin port, the public port alone in the Service, a grace period longer than
// delay + grace, non-root with a read-only root, no secret inline, and a configuration the
// gateway accepts. Skipped (with the reason) only where kubectl is not installed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';
import { rsaPair, tempDir } from '../helpers/fixtures.js';
import { ROOT } from '../helpers/process.js';
import { randomBytes } from 'node:crypto';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const noKubectl = kubectl.error ? 'kubectl is not installed: cannot render deploy/overlays (install kubectl to run this test)' : false;

function render(overlay: string): Doc[] {
  const out = execFileSync('kubectl', ['kustomize', path.join(ROOT, 'deploy/overlays', overlay)], { encoding: 'utf8' });
  return YAML.parseAllDocuments(out).map((d) => d.toJS() as Doc);
}

const one = (docs: Doc[], kind: string, name?: string): Doc => {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata?.name === name));
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ''}`);
  return found[0] as Doc;
};

/** The rendered gateway.yaml, loaded by the real loader with generated keys where the Secret would be. */
function loadShippedConfig(docs: Doc[]) {
  const cm = one(docs, 'ConfigMap', 'applink-gateway-config');
  const text = String(cm.data['gateway.yaml']);
  const t = tempDir();
  mkdirSync(path.join(t.dir, 'config'));
  mkdirSync(path.join(t.dir, 'keys'));
  writeFileSync(path.join(t.dir, 'config/gateway.yaml'), text);
  writeFileSync(path.join(t.dir, 'keys/gateway.pem'), rsaPair(1).privatePem);
  writeFileSync(path.join(t.dir, 'keys/app-a.pub.pem'), rsaPair(0).publicPem);
  writeFileSync(path.join(t.dir, 'keys/store.key'), `${randomBytes(32).toString('base64')}\n`);
  try {
    return { text, cfg: loadConfigFile(path.join(t.dir, 'config/gateway.yaml'), { env: { NODE_ENV: 'production' } }) };
  } finally {
    t.cleanup();
  }
}

function checkCommon(docs: Doc[]) {
  const { text, cfg } = loadShippedConfig(docs);
  const deploy = one(docs, 'Deployment');
  const pod = deploy.spec.template.spec;
  const gateway = (pod.containers as Doc[]).find((c) => c.name === 'gateway') as Doc;
  assert.ok(gateway, 'a gateway container');
  const port = (name: string) => (gateway.ports as Doc[]).find((p) => p.name === name)?.containerPort;

  // Probes: the admin port, which is the configuration's admin.listen and not server.listen.
  assert.equal(port('admin'), Number(cfg.config.admin.listen.split(':').at(-1)));
  assert.equal(port('http'), Number(cfg.config.server.listen.split(':').at(-1)));
  assert.notEqual(port('admin'), port('http'));
  assert.deepEqual(gateway.livenessProbe.httpGet, { path: '/healthz', port: 'admin' });
  assert.deepEqual(gateway.readinessProbe.httpGet, { path: '/readyz', port: 'admin' });
  // The Service carries the public port only.
  const svc = one(docs, 'Service');
  assert.deepEqual((svc.spec.ports as Doc[]).map((p) => p.targetPort), ['http']);
  for (const [k, v] of Object.entries(svc.spec.selector as Record<string, string>)) assert.equal(deploy.spec.template.metadata.labels[k], v, `the Service selects the pods (${k})`);

  // Kubernetes waits longer than the gateway's own delay + grace.
  const { delaySeconds, graceSeconds } = cfg.config.shutdown;
  assert.ok(pod.terminationGracePeriodSeconds > delaySeconds + graceSeconds, `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > ${delaySeconds} + ${graceSeconds}`);

  // Non-root, read-only root filesystem, no privilege escalation.
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok(pod.securityContext.runAsUser > 0);
  assert.equal(gateway.securityContext.readOnlyRootFilesystem, true);
  assert.equal(gateway.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(gateway.securityContext.capabilities.drop, ['ALL']);
  assert.deepEqual(gateway.args, ['serve', '--config', '/etc/applink-gateway/config/gateway.yaml']);

  // No secret inline: no Secret objects, env values from secretKeyRef, keys from a Secret volume,
  // and every *File of the configuration a path into that volume.
  assert.equal(docs.filter((d) => d.kind === 'Secret').length, 0, 'no Secret is rendered');
  for (const e of gateway.env as Doc[]) {
    if (e.name === 'REDIS_URL') assert.ok(e.valueFrom?.secretKeyRef, 'REDIS_URL comes from a Secret');
    else assert.doesNotMatch(String(e.value ?? ''), /:\/\/[^/]*:[^/]*@|BEGIN|secret/i, `${e.name} holds no credential`);
  }
  const keysVolume = (pod.volumes as Doc[]).find((v) => v.name === 'keys');
  assert.equal(keysVolume?.secret?.secretName, 'applink-gateway-keys');
  assert.doesNotMatch(text, /BEGIN [A-Z ]*KEY|password|:\/\/[^/\s]*:[^/\s]*@/i);
  for (const m of text.matchAll(/(\w+File):\s*(\S+)/g)) assert.match(m[2] ?? '', /^\.\.\/keys\/|^env:/, `${m[1]} points into the keys Secret`);
  // The configuration directory is mounted whole (a subPath mount would never see an update).
  const cfgMount = (gateway.volumeMounts as Doc[]).find((m) => m.name === 'config');
  assert.equal(cfgMount?.mountPath, '/etc/applink-gateway/config');
  assert.equal(cfgMount?.subPath, undefined);
  return { cfg, pod, gateway };
}

describe('deploy/ kustomize overlays', { skip: noKubectl }, () => {
  it('sidecar: the gateway next to AppB, which listens on loopback', () => {
    const docs = render('sidecar');
    const { cfg, pod } = checkCommon(docs);
    assert.equal(cfg.upstreamUrl.hostname, '127.0.0.1', 'AppB is reached on loopback');
    const appb = (pod.containers as Doc[]).find((c) => c.name === 'appb');
    assert.ok(appb, 'an AppB container in the same pod');
    assert.deepEqual(appb.ports ?? [], [], 'AppB exposes no port of its own');
    // AppB keeps serving until the gateway has drained, and the pod gives AppB time to stop after that.
    const appbWaits = Number(appb.lifecycle.preStop.exec.command[1]);
    assert.ok(appbWaits >= cfg.config.shutdown.delaySeconds + cfg.config.shutdown.graceSeconds, `AppB's preStop (${appbWaits} s) outlasts the drain`);
    assert.ok(pod.terminationGracePeriodSeconds > appbWaits + 60, 'and leaves AppB a minute to stop');
  });

  it('fleet: 2+ replicas on Redis from a Secret, with a PodDisruptionBudget', () => {
    const docs = render('fleet');
    const { cfg, gateway } = checkCommon(docs);
    const deploy = one(docs, 'Deployment');
    assert.ok(deploy.spec.replicas >= 2);
    assert.ok(cfg.config.store.redis, 'store.redis is configured');
    const redisEnv = (gateway.env as Doc[]).find((e) => e.name === 'REDIS_URL');
    assert.equal(redisEnv?.valueFrom.secretKeyRef.optional, false, 'REDIS_URL is required');
    const pdb = one(docs, 'PodDisruptionBudget');
    assert.ok(pdb.spec.minAvailable >= 1);
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels as Record<string, string>)) assert.equal(deploy.spec.template.metadata.labels[k], v);
  });

  it('the Dockerfile builds on Node LTS with production dependencies and runs serve as non-root', () => {
    const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const version = /^ARG NODE_VERSION=(\d+)$/m.exec(text)?.[1];
    assert.ok(version && Number(version) % 2 === 0 && Number(version) >= 22, 'an even (LTS) Node.js major');
    assert.match(text, /^RUN npm ci --omit=dev/m);
    assert.match(text, /^USER 1000:1000$/m);
    assert.match(text, /^ENTRYPOINT \["node", "dist\/cli\.js"\]\nCMD \["serve"\]$/m);
  });
});
