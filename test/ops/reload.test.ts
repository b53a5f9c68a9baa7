// Live reload: a valid file (new link, removed link, rotated keys, a ConfigMap-style symlink
// swap) is swapped in; a broken one is logged with its key and the old one keeps serving.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/server/serve.js';
import { LINK_ID, rsaPair, tempDir, testConfigObject, writeConfig, HMAC_LINK_ID } from '../helpers/fixtures.js';
import { startCli } from '../helpers/process.js';
import { captureLogger, eventually, metricValue, metrics, requestToken } from './helpers.js';

type Obj = Record<string, unknown>;
const links = (o: Obj) => o.links as Obj[];

describe('live reload of the configuration file', () => {
  const t = tempDir();
  let file: string;
  let base: Obj;
  let running: RunningGateway;
  const cap = captureLogger();

  before(async () => {
    base = testConfigObject(t);
    t.write('app-a.old.pub.pem', rsaPair(0).publicPem);
    t.write('app-a.new.pub.pem', rsaPair(2).publicPem);
    t.write('app-n.pub.pem', rsaPair(3).publicPem);
    file = writeConfig(t, base);
    running = await startGateway({ cfg: loadConfigFile(file), log: cap.log, watchDebounceMs: 30 });
  });
  after(async () => {
    t.cleanup();
    await running?.close();
  });

  const sign = (consumerKey: string, pair: number) => requestToken(running.publicUrl, { consumerKey, privatePem: rsaPair(pair).privatePem });
  const problemOf = async (r: Response) => {
    await r.arrayBuffer();
    return /oauth_problem="([^"]+)"/.exec(r.headers.get('www-authenticate') ?? '')?.[1] ?? `status ${r.status}`;
  };
  const rewrite = (obj: Obj) => writeFileSync(file, YAML.stringify(obj));
  const waitFor = (pred: () => boolean, what: string) => eventually(() => pred() || undefined, what);

  it('swaps in a valid file: a new link works, a removed link stops', async () => {
    assert.equal((await sign('app-a', 0)).status, 200);
    assert.equal(await problemOf(await sign('app-n', 3)), 'consumer_key_unknown');
    const next = { ...base, links: [{ ...links(base)[0], id: 'link-new', consumerKey: 'app-n', name: 'AppN', publicKeyFile: 'app-n.pub.pem' }] };
    rewrite(next);
    await waitFor(() => running.gw.cfg().linksByConsumerKey.has('app-n'), 'the new link');
    assert.equal((await sign('app-n', 3)).status, 200);
    assert.equal(await problemOf(await sign('app-a', 0)), 'consumer_key_unknown');
    const line = cap.lines.find((l) => l.msg === 'configuration reloaded');
    assert.ok(line, 'a reload log line');
    assert.deepEqual(line.linksAdded, ['link-new']);
    assert.deepEqual((line.linksRemoved as string[]).sort(), [LINK_ID, HMAC_LINK_ID].sort());
    assert.equal(metricValue(await metrics(running.adminUrl), 'applink_config_reloads_total', { result: 'success' }), 1);
    rewrite(base);
    await waitFor(() => running.gw.cfg().linksByConsumerKey.has('app-a'), 'the original links back');
  });

  it("accepts old and new keys during AppA's rotation (publicKeyFiles), then only the new", async () => {
    const both = { ...base, links: [{ ...links(base)[0], publicKeyFile: undefined, publicKeyFiles: ['app-a.old.pub.pem', 'app-a.new.pub.pem'] }, links(base)[1]] };
    rewrite(both);
    await waitFor(() => running.gw.cfg().linksByConsumerKey.get('app-a')?.publicKeys.length === 2, 'two keys');
    assert.equal((await sign('app-a', 0)).status, 200);
    assert.equal((await sign('app-a', 2)).status, 200);
    const onlyNew = { ...base, links: [{ ...links(base)[0], publicKeyFile: 'app-a.new.pub.pem' }, links(base)[1]] };
    rewrite(onlyNew);
    await waitFor(() => running.gw.cfg().linksByConsumerKey.get('app-a')?.publicKeys.length === 1, 'one key');
    assert.equal(await problemOf(await sign('app-a', 0)), 'signature_invalid');
    assert.equal((await sign('app-a', 2)).status, 200);
  });

  it('re-reads a key file that changed while the configuration text did not', async () => {
    // The file the config names now holds the old key again: only its content changed.
    const before = running.gw.cfg().fingerprint;
    writeFileSync(path.join(t.dir, 'app-a.new.pub.pem'), rsaPair(0).publicPem);
    await waitFor(() => running.gw.cfg().fingerprint !== before, 'the key file change');
    assert.equal((await sign('app-a', 0)).status, 200);
    assert.equal(await problemOf(await sign('app-a', 2)), 'signature_invalid');
    writeFileSync(path.join(t.dir, 'app-a.new.pub.pem'), rsaPair(2).publicPem);
    rewrite(base);
    await waitFor(() => running.gw.cfg().linksByConsumerKey.get('app-a')?.publicKeyFile === 'app-a.pub.pem', 'the base config');
  });

  it('keeps the old configuration when the new one is invalid, naming the key', async () => {
    const good = running.gw.cfg();
    const failuresBefore = metricValue(await metrics(running.adminUrl), 'applink_config_reloads_total', { result: 'failure' });
    const broken = { ...base, links: [{ ...links(base)[0], signatureMethods: ['RSA-SHA7'] }, links(base)[1]] };
    rewrite(broken);
    const line = await eventually(() => cap.lines.find((l) => l.msg?.toString().startsWith('configuration reload refused')), 'the refusal log line');
    assert.equal(line.level, 'error');
    assert.ok((line.problems as string[]).some((p) => p.startsWith('links[0].signatureMethods[0]: "RSA-SHA7"')), JSON.stringify(line.problems));
    assert.equal(running.gw.cfg(), good, 'the old configuration object still serves');
    assert.equal((await sign('app-a', 0)).status, 200);
    const text = await metrics(running.adminUrl);
    assert.equal(metricValue(text, 'applink_config_reloads_total', { result: 'failure' }), failuresBefore + 1);
    assert.equal(metricValue(text, 'applink_config_last_reload_success'), 0);

    // A YAML syntax error and a missing key file are refused the same way.
    writeFileSync(file, 'server: [unclosed\n');
    await eventually(() => cap.lines.filter((l) => l.msg?.toString().startsWith('configuration reload refused')).length >= 2 || undefined, 'second refusal');
    rewrite({ ...base, links: [{ ...links(base)[0], publicKeyFile: 'missing.pem' }] });
    const missing = await eventually(
      () => cap.lines.find((l) => (l.problems as string[] | undefined)?.some((p) => p.startsWith('links[0].publicKeyFile: cannot read "missing.pem"'))),
      'the missing key refusal',
    );
    assert.ok(missing);
    assert.equal(running.gw.cfg(), good);

    rewrite(base);
    await eventually(async () => metricValue(await metrics(running.adminUrl), 'applink_config_last_reload_success') === 1 || undefined, 'recovery');
  });

  it('reload() (what SIGHUP calls) reports an unchanged file as such', async () => {
    const outcome = await running.reload('SIGHUP');
    assert.equal(outcome.result, 'unchanged');
  });

  it('is not re-read when an unrelated file in its directory changes (a log written next to it)', async () => {
    // Every result counts: success, failure and unchanged.
    const reloads = async () => metricValue(await metrics(running.adminUrl), 'applink_config_reloads_total');
    const before = await reloads();
    for (let i = 0; i < 5; i++) {
      t.write('gateway.log', `line ${i}\n`.repeat(i + 1));
      await new Promise((r) => setTimeout(r, 40));
    }
    // Well past the 30 ms debounce: a reload would have been counted by now.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await reloads(), before, 'no reload for gateway.log');
    // The configuration file itself still is followed.
    writeFileSync(file, `${YAML.stringify(base)}\n# touched\n`);
    await eventually(async () => ((await reloads()) > before ? true : undefined), 'a reload after the file itself changed');
  });
});

describe('live reload through Kubernetes volumes', () => {
  it('follows the ConfigMap ..data symlink swap, and a key change in another (Secret) directory', async () => {
    const t = tempDir();
    try {
      // The layout kubelet writes: gateway.yaml -> ..data/gateway.yaml, ..data -> ..<timestamp>.
      const keys = tempDir();
      const obj = testConfigObject(keys);
      const abs = (o: Obj) => ({ ...o, links: links(o).map((l) => ({ ...l, publicKeyFile: l.publicKeyFile && path.join(keys.dir, String(l.publicKeyFile)), sharedSecretFile: l.sharedSecretFile && path.join(keys.dir, String(l.sharedSecretFile)) })), upstream: { ...(o.upstream as Obj), identity: { ...((o.upstream as Obj).identity as Obj), privateKeyFile: path.join(keys.dir, 'gateway.pem') } } });
      const v1 = path.join(t.dir, '..2024_01_01_00_00_00.000000001');
      mkdirSync(v1);
      writeFileSync(path.join(v1, 'gateway.yaml'), YAML.stringify(abs(obj)));
      symlinkSync(path.basename(v1), path.join(t.dir, '..data'));
      symlinkSync('..data/gateway.yaml', path.join(t.dir, 'gateway.yaml'));
      const cap = captureLogger();
      const running = await startGateway({ cfg: loadConfigFile(path.join(t.dir, 'gateway.yaml')), log: cap.log, watchDebounceMs: 30 });
      try {
        assert.equal(running.gw.cfg().links.length, 2);
        const v2 = path.join(t.dir, '..2024_01_01_00_01_00.000000002');
        mkdirSync(v2);
        writeFileSync(path.join(v2, 'gateway.yaml'), YAML.stringify(abs({ ...obj, links: [links(obj)[0]] })));
        symlinkSync(path.basename(v2), path.join(t.dir, '..data_tmp'));
        renameSync(path.join(t.dir, '..data_tmp'), path.join(t.dir, '..data'));
        rmSync(v1, { recursive: true });
        await eventually(() => running.gw.cfg().links.length === 1 || undefined, 'the swapped ConfigMap');
        // The keys live in their own directory (a Secret volume): a rotated key there is picked up too.
        assert.equal((await requestToken(running.publicUrl, { consumerKey: 'app-a', privatePem: rsaPair(0).privatePem })).status, 200);
        writeFileSync(path.join(keys.dir, 'app-a.pub.pem'), rsaPair(2).publicPem);
        await eventually(async () => (await requestToken(running.publicUrl, { consumerKey: 'app-a', privatePem: rsaPair(2).privatePem })).status === 200 || undefined, 'the rotated key');
        assert.equal((await requestToken(running.publicUrl, { consumerKey: 'app-a', privatePem: rsaPair(0).privatePem })).status, 401);
      } finally {
        await running.close();
        keys.cleanup();
      }
    } finally {
      t.cleanup();
    }
  });
});

describe('SIGHUP', () => {
  it('makes a running serve re-read its file', async () => {
    const t = tempDir();
    const file = writeConfig(t, testConfigObject(t, { patch: { shutdown: { delaySeconds: 0, graceSeconds: 1 } } }));
    const { child, lines, exited } = await startCli(['serve', '--config', file], (l) => l.msg === 'gateway listening', { env: { REDIS_URL: '' } });
    try {
      child.kill('SIGHUP');
      await eventually(() => lines.find((l) => l.msg === 'configuration unchanged' && l.reason === 'SIGHUP'), 'the SIGHUP reload line');
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
      t.cleanup();
    }
  });
});
