// The Kubernetes manifests (kustomize overlays) render, validate against the Kubernetes schemas,
// and say what the design requires: probes on the admin port, the public port alone in the
// Service, a grace period longer than delay + grace, non-root with a read-only root, no secret
// inline, a configuration `applink-gateway check-config` accepts, Redis with AOF on a volume,
// NetworkPolicies that let in what they must and nothing else, an autoscaler coherent with the
// PodDisruptionBudget. Rendering needs `kubectl` (it carries kustomize): without it the tests fail
// naming how to install it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';
import { rsaPair, tempDir } from '../helpers/fixtures.js';
import { ROOT, runCli } from '../helpers/process.js';
import { randomBytes } from 'node:crypto';
import { validateObject } from './k8s-schemas.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const KUBECTL = process.env.KUBECTL ?? 'kubectl';
const OVERLAYS = ['sidecar', 'fleet'];

function render(overlay: string): Doc[] {
  const probe = spawnSync(KUBECTL, ['version', '--client'], { encoding: 'utf8' });
  if (probe.error) {
    assert.fail(
      `kubectl not found (${KUBECTL}): it renders deploy/overlays (kubectl kustomize). Install it ` +
        '(https://kubernetes.io/docs/tasks/tools/install-kubectl-linux/, or `apt-get install -y kubectl` ' +
        "from Kubernetes' apt repository), or set KUBECTL to its path.",
    );
  }
  const out = execFileSync(KUBECTL, ['kustomize', path.join(ROOT, 'deploy/overlays', overlay)], { encoding: 'utf8' });
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
  const svc = one(docs, 'Service', 'applink-gateway');
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

describe('deploy/ kustomize overlays', () => {
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

  it('fleet: 2+ replicas (autoscaled on CPU) on Redis from a Secret, with a coherent PodDisruptionBudget', () => {
    const docs = render('fleet');
    const { cfg, gateway } = checkCommon(docs);
    const deploy = one(docs, 'Deployment');
    assert.ok(cfg.config.store.redis, 'store.redis is configured');
    const redisEnv = (gateway.env as Doc[]).find((e) => e.name === 'REDIS_URL');
    assert.equal(redisEnv?.valueFrom.secretKeyRef.optional, false, 'REDIS_URL is required');
    // The autoscaler owns the replica count: none in the Deployment, or every apply would reset it.
    const hpa = one(docs, 'HorizontalPodAutoscaler');
    assert.equal(deploy.spec.replicas, undefined, 'no spec.replicas next to an autoscaler');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deploy.metadata.name });
    assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas, 'scales from 2 up');
    const cpu = (hpa.spec.metrics as Doc[]).find((m) => m.type === 'Resource' && m.resource.name === 'cpu');
    assert.equal(cpu?.resource.target.type, 'Utilization');
    assert.ok(gateway.resources.requests.cpu, 'CPU utilization needs a CPU request');
    // The budget never blocks a drain at the autoscaler's floor, and selects the gateway pods.
    const pdb = one(docs, 'PodDisruptionBudget');
    assert.ok(pdb.spec.minAvailable >= 1 && pdb.spec.minAvailable < hpa.spec.minReplicas, `minAvailable ${pdb.spec.minAvailable} < minReplicas ${hpa.spec.minReplicas}`);
    assert.equal(pdb.spec.maxUnavailable, undefined);
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels as Record<string, string>)) assert.equal(deploy.spec.template.metadata.labels[k], v);
  });

  it('fleet: Redis is a StatefulSet with AOF on a volume, a password from a Secret, probes, non-root', () => {
    const docs = render('fleet');
    const sts = one(docs, 'StatefulSet', 'applink-redis');
    const pod = sts.spec.template.spec;
    const redis = (pod.containers as Doc[]).find((c) => c.name === 'redis') as Doc;
    assert.ok(redis, 'a redis container');
    assert.equal(sts.spec.replicas, 1);
    // AOF, fsync every second, no eviction of tokens, from the mounted configuration file.
    const conf = String(one(docs, 'ConfigMap', 'applink-redis-config').data['redis.conf']);
    const directive = (name: string) => new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(conf)?.[1];
    assert.equal(directive('appendonly'), 'yes');
    assert.equal(directive('appendfsync'), 'everysec');
    assert.equal(directive('maxmemory-policy'), 'noeviction');
    assert.equal(directive('dir'), '/data');
    assert.doesNotMatch(conf, /^requirepass/m, 'no password in the ConfigMap');
    assert.equal(redis.args[0], '/etc/redis/redis.conf');
    const confMount = (redis.volumeMounts as Doc[]).find((m) => m.mountPath === '/etc/redis');
    assert.equal((pod.volumes as Doc[]).find((v) => v.name === confMount?.name)?.configMap?.name, 'applink-redis-config');
    // /data is the claim of the volumeClaimTemplates.
    const dataMount = (redis.volumeMounts as Doc[]).find((m) => m.mountPath === '/data');
    const claim = (sts.spec.volumeClaimTemplates as Doc[]).find((c) => c.metadata.name === dataMount?.name);
    assert.ok(claim?.spec.resources.requests.storage, 'a PersistentVolumeClaim for /data');
    // The password: only from the Secret, expanded by Kubernetes into --requirepass.
    const env = (name: string) => (redis.env as Doc[]).find((e) => e.name === name);
    assert.equal(env('REDIS_PASSWORD')?.valueFrom.secretKeyRef.name, 'applink-gateway-redis');
    assert.equal(env('REDISCLI_AUTH')?.valueFrom.secretKeyRef.name, 'applink-gateway-redis');
    assert.equal(redis.args[redis.args.indexOf('--requirepass') + 1], '$(REDIS_PASSWORD)');
    for (const e of redis.env as Doc[]) assert.equal(e.value, undefined, `${e.name} comes from a Secret`);
    // Probes, resources, non-root, read-only root (Redis writes only /data).
    assert.ok(redis.livenessProbe && redis.readinessProbe);
    assert.match(redis.readinessProbe.exec.command.join(' '), /redis-cli .*ping/);
    assert.ok(redis.resources.requests.cpu && redis.resources.requests.memory && redis.resources.limits.memory);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.securityContext.runAsUser > 0);
    assert.equal(redis.securityContext.readOnlyRootFilesystem, true);
    assert.equal(redis.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(redis.securityContext.capabilities.drop, ['ALL']);
    // maxmemory stays under the memory limit: Redis refuses writes before it is killed.
    const mib = (q: string) => Number(/^(\d+)Mi$/.exec(q)?.[1] ?? NaN);
    assert.ok(Number(/^(\d+)mb$/.exec(directive('maxmemory') ?? '')?.[1]) < mib(redis.resources.limits.memory));
    // A headless Service selecting the pods, named as the gateway's configured URL says.
    const svc = one(docs, 'Service', sts.spec.serviceName);
    assert.equal(svc.spec.clusterIP, 'None');
    for (const [k, v] of Object.entries(svc.spec.selector as Record<string, string>)) assert.equal(sts.spec.template.metadata.labels[k], v);
    const { cfg } = loadShippedConfig(docs);
    assert.equal(new URL(cfg.config.store.redis?.url ?? '').hostname, svc.metadata.name, 'store.redis.url names the Service');
  });

  it('every object of every overlay validates against the Kubernetes schemas', () => {
    let count = 0;
    for (const overlay of OVERLAYS) {
      for (const doc of render(overlay)) {
        validateObject(doc);
        count++;
      }
    }
    assert.ok(count >= 10, `${count} objects validated`);
    // The validator refuses what the API server would refuse.
    const deploy = one(render('fleet'), 'Deployment');
    deploy.spec.template.spec.containers[0].ports[0].containerPort = '8080';
    assert.throws(() => validateObject(deploy), /containerPort must be integer/);
    assert.throws(() => validateObject({ apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } }), /no schema/);
  });

  it('the gateway.yaml of every ConfigMap passes `applink-gateway check-config`', async () => {
    for (const overlay of OVERLAYS) {
      const maps = render(overlay).filter((d) => d.kind === 'ConfigMap' && d.data?.['gateway.yaml'] !== undefined);
      assert.ok(maps.length >= 1, `${overlay}: a gateway configuration`);
      for (const cm of maps) {
        const t = tempDir();
        try {
          mkdirSync(path.join(t.dir, 'config'));
          mkdirSync(path.join(t.dir, 'keys'));
          const file = path.join(t.dir, 'config/gateway.yaml');
          writeFileSync(file, String(cm.data['gateway.yaml']));
          // Stubs of what the Secret applink-gateway-keys holds.
          writeFileSync(path.join(t.dir, 'keys/gateway.pem'), rsaPair(1).privatePem);
          writeFileSync(path.join(t.dir, 'keys/app-a.pub.pem'), rsaPair(0).publicPem);
          writeFileSync(path.join(t.dir, 'keys/store.key'), `${randomBytes(32).toString('base64')}\n`);
          const env: NodeJS.ProcessEnv = { NODE_ENV: 'production', REDIS_URL: '' };
          const res = await runCli(['check-config', '--config', file], { env });
          assert.equal(res.code, 0, `${overlay} ${cm.metadata.name}: ${res.stdout}${res.stderr}`);
          assert.match(res.stdout, /: ok \(1 link, identity oauth1, store redis/);
          // The same check refuses a broken one (it can fail).
          writeFileSync(path.join(t.dir, 'keys/store.key'), 'not a keyring\n');
          const bad = await runCli(['check-config', '--config', file], { env });
          assert.equal(bad.code, 1, `${overlay}: a broken keyring is refused`);
        } finally {
          t.cleanup();
        }
      }
    }
  });

  it('sidecar NetworkPolicy: the public port open, admin only from monitoring, AppB never from outside', () => {
    const docs = render('sidecar');
    const policies = docs.filter((d) => d.kind === 'NetworkPolicy');
    const deploy = one(docs, 'Deployment');
    const pod: Peer = { ns: NS, labels: deploy.spec.template.metadata.labels };
    const ports = containerPorts(deploy);
    const appb = (deploy.spec.template.spec.containers as Doc[]).find((c) => c.name === 'appb') as Doc;
    const appbPort = Number((appb.env as Doc[]).find((e) => e.name === 'ATL_TOMCAT_PORT')?.value);
    assert.ok(appbPort > 0);
    assert.ok(ingressAllowed(policies, pod, ports, STRANGER, 'http'), 'anyone reaches the public port');
    assert.ok(!ingressAllowed(policies, pod, ports, STRANGER, 'admin'), 'a stranger does not reach the admin port');
    assert.ok(!ingressAllowed(policies, pod, ports, OTHER_NS, 'admin'), 'nor another namespace');
    assert.ok(ingressAllowed(policies, pod, ports, MONITORING, 'admin'), 'the monitoring namespace scrapes /metrics');
    for (const from of [STRANGER, MONITORING, OTHER_NS]) assert.ok(!ingressAllowed(policies, pod, ports, from, appbPort), `AppB's port ${appbPort} is closed`);
  });

  it('fleet NetworkPolicies: the gateway reaches AppB and Redis; Redis accepts only gateway pods', () => {
    const docs = render('fleet');
    const policies = docs.filter((d) => d.kind === 'NetworkPolicy');
    const deploy = one(docs, 'Deployment');
    const sts = one(docs, 'StatefulSet', 'applink-redis');
    const gw: Peer = { ns: NS, labels: deploy.spec.template.metadata.labels };
    const redis: Peer = { ns: NS, labels: sts.spec.template.metadata.labels };
    const gwPorts = containerPorts(deploy);
    const redisPorts = containerPorts(sts);
    assert.ok(ingressAllowed(policies, gw, gwPorts, STRANGER, 'http'));
    assert.ok(!ingressAllowed(policies, gw, gwPorts, STRANGER, 'admin'));
    assert.ok(ingressAllowed(policies, gw, gwPorts, MONITORING, 'admin'));
    // Redis: gateway pods only, on its port.
    assert.ok(ingressAllowed(policies, redis, redisPorts, gw, 'redis'), 'the gateway reaches Redis');
    for (const from of [STRANGER, MONITORING, OTHER_NS, APPB]) assert.ok(!ingressAllowed(policies, redis, redisPorts, from, 'redis'), `Redis refuses ${JSON.stringify(from.labels)}`);
    // Out of the gateway: AppB on its port, Redis, DNS; nothing else.
    const appbPort = Number(new URL(loadShippedConfig(docs).cfg.config.upstream.url).port);
    assert.ok(egressAllowed(policies, gw, APPB, appbPort), 'the gateway reaches AppB');
    assert.ok(egressAllowed(policies, gw, redis, 6379), 'the gateway reaches Redis');
    assert.ok(egressAllowed(policies, gw, DNS, 53, 'UDP'), 'and DNS');
    assert.ok(!egressAllowed(policies, gw, STRANGER, 8080), 'but no other pod');
    assert.ok(!egressAllowed(policies, gw, APPB, 22), 'nor another port of AppB');
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

// A small evaluator of NetworkPolicy semantics (podSelector/namespaceSelector matchLabels, ports
// by number or by the pod's named ports; ipBlock never matches a pod) for the tests above.
const NS = { 'kubernetes.io/metadata.name': 'apps' };
interface Peer {
  ns: Record<string, string>;
  labels: Record<string, string>;
}
const STRANGER: Peer = { ns: NS, labels: { app: 'something-else' } };
const APPB: Peer = { ns: NS, labels: { 'app.kubernetes.io/name': 'appb' } };
const MONITORING: Peer = { ns: { 'kubernetes.io/metadata.name': 'monitoring' }, labels: { app: 'prometheus' } };
const OTHER_NS: Peer = { ns: { 'kubernetes.io/metadata.name': 'other' }, labels: { 'app.kubernetes.io/component': 'gateway', 'app.kubernetes.io/name': 'applink-gateway' } };
const DNS: Peer = { ns: { 'kubernetes.io/metadata.name': 'kube-system' }, labels: { 'k8s-app': 'kube-dns' } };

const matches = (selector: Doc | undefined, labels: Record<string, string>) => {
  if (selector?.matchExpressions) throw new Error('matchExpressions: not evaluated here');
  return Object.entries((selector?.matchLabels ?? {}) as Record<string, string>).every(([k, v]) => labels[k] === v);
};

function containerPorts(workload: Doc): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of workload.spec.template.spec.containers as Doc[]) for (const p of (c.ports ?? []) as Doc[]) if (p.name) out[p.name] = p.containerPort;
  return out;
}

function peerMatches(peer: Doc, who: Peer, policyNs: Record<string, string>): boolean {
  if (peer.ipBlock) return false;
  const nsOk = peer.namespaceSelector ? matches(peer.namespaceSelector, who.ns) : who.ns === policyNs || JSON.stringify(who.ns) === JSON.stringify(policyNs);
  const podOk = peer.podSelector ? matches(peer.podSelector, who.labels) : true;
  return nsOk && podOk;
}

function portMatches(rulePorts: Doc[] | undefined, port: number | string, protocol: string, named: Record<string, number>): boolean {
  if (!rulePorts || rulePorts.length === 0) return true;
  const number = typeof port === 'number' ? port : named[port];
  return rulePorts.some((p) => (p.protocol ?? 'TCP') === protocol && (p.port === undefined || p.port === port || p.port === number || (typeof p.port === 'string' && named[p.port] === number)));
}

function allowed(policies: Doc[], direction: 'Ingress' | 'Egress', pod: Peer, other: Peer, port: number | string, protocol: string, named: Record<string, number>): boolean {
  // Every policy of these overlays lives in the pods' namespace.
  const selecting = policies.filter((p) => matches(p.spec.podSelector, pod.labels) && ((p.spec.policyTypes as string[] | undefined) ?? ['Ingress']).includes(direction));
  if (selecting.length === 0) return true;
  const key = direction === 'Ingress' ? 'ingress' : 'egress';
  const peers = direction === 'Ingress' ? 'from' : 'to';
  return selecting.some((p) =>
    ((p.spec[key] ?? []) as Doc[]).some(
      (rule) => (!rule[peers] || (rule[peers] as Doc[]).some((peer) => peerMatches(peer, other, pod.ns))) && portMatches(rule.ports, port, protocol, named),
    ),
  );
}

function ingressAllowed(policies: Doc[], pod: Peer, named: Record<string, number>, from: Peer, port: number | string): boolean {
  return allowed(policies, 'Ingress', pod, from, port, 'TCP', named);
}

function egressAllowed(policies: Doc[], pod: Peer, to: Peer, port: number, protocol = 'TCP'): boolean {
  return allowed(policies, 'Egress', pod, to, port, protocol, {});
}
