// links add --from-consumer-info: a real consumer-info server (http and https on port 0) in
// Atlassian's XML shape, the command in process and as a real process, check-config on the result.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { main } from '../../src/cli.js';
import { ConsumerInfoError, parseConsumerInfo } from '../../src/applinks/consumer-info.js';
import { linkIdFor, pemFromAtlassianKey } from '../../src/applinks/link-entry.js';
import { rsaPair, tempDir, testConfigObject } from '../helpers/fixtures.js';
import { runCli } from '../helpers/process.js';
import { runMain } from '../ops/helpers.js';

/** The base64 DER key as Atlassian serves it: no PEM lines, no line breaks. */
const atlassianKey = (pem: string) => pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');

function consumerXml(f: { key?: string; name?: string; publicKey?: string; callback?: string; description?: string }): string {
  const el = (n: string, v: string | undefined) => (v === undefined ? '' : `<${n}>${v}</${n}>`);
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<consumer>${el('key', f.key)}${el('name', f.name)}${el('publicKey', f.publicKey)}${el('description', f.description)}${el('callback', f.callback)}</consumer>`;
}

const appKey = () => atlassianKey(rsaPair(3).publicPem);
const ecKey = atlassianKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString());

// Each AppA lives under its own path prefix: /<name>/plugins/servlet/oauth/consumer-info.
const APPS: Record<string, { status?: number; type?: string; body: () => string }> = {
  jira: { body: () => consumerXml({ key: 'jira:5001', name: 'Team Jira &amp; Co', publicKey: appKey(), description: 'Atlassian JIRA at http://jira.example' }) },
  withcb: { body: () => consumerXml({ key: 'conf:77', name: 'Wiki', publicKey: atlassianKey(rsaPair(4).publicPem), callback: 'https://wiki.example.com/plugins/servlet/applinks/oauth/login-dance/access' }) },
  html: { type: 'text/html', body: () => '<!doctype html><html><body>Log in</body></html>' },
  nokey: { body: () => consumerXml({ name: 'No key', publicKey: appKey() }) },
  ec: { body: () => consumerXml({ key: 'ec:1', name: 'EC', publicKey: ecKey }) },
  garbage: { body: () => consumerXml({ key: 'bad:1', name: 'Bad', publicKey: 'not*base64' }) },
  missing: { status: 404, body: () => 'not found' },
};

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const [, app, ...rest] = (req.url ?? '').split('/');
  const spec = APPS[app ?? ''];
  if (!spec || `/${rest.join('/')}` !== '/plugins/servlet/oauth/consumer-info') {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(spec.status ?? 200, { 'content-type': spec.type ?? 'application/xml;charset=UTF-8' }).end(spec.body());
}

const t = tempDir('applink-links-add-');
let server: http.Server;
let tlsServer: https.Server | null = null;
let base = '';
let tlsBase = '';

before(async () => {
  server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A self-signed certificate made now (no keys in git): Node must refuse it.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1', '-keyout', path.join(t.dir, 'tls.key'), '-out', path.join(t.dir, 'tls.crt')], { stdio: 'ignore' });
  tlsServer = https.createServer({ key: readFileSync(path.join(t.dir, 'tls.key')), cert: readFileSync(path.join(t.dir, 'tls.crt')) }, handler);
  await new Promise<void>((r) => tlsServer?.listen(0, '127.0.0.1', r));
  tlsBase = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((r) => server?.close(r));
  if (tlsServer) await new Promise((r) => tlsServer?.close(r));
  t.cleanup();
});

/** A port nothing listens on (fetch refuses the "bad ports" such as 1 before connecting). */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}


/** A fresh configuration directory with a commented gateway.yaml that check-config accepts. */
function configDir(): { dir: ReturnType<typeof tempDir>; file: string } {
  const dir = tempDir('applink-links-add-cfg-');
  const obj = testConfigObject(dir);
  const doc = new YAML.Document(obj);
  doc.commentBefore = ' the gateway of the team\n (keep this comment)';
  const linksPair = doc.contents && YAML.isMap(doc.contents) ? doc.contents.items.find((p) => YAML.isScalar(p.key) && p.key.value === 'links') : undefined;
  if (linksPair && YAML.isScalar(linksPair.key)) linksPair.key.commentBefore = ' the links, AppA first';
  return { dir, file: dir.write('gateway.yaml', doc.toString()) };
}

describe('links add --from-consumer-info', () => {
  it('prints the entry with safe defaults and writes the key PEM next to the configuration', async () => {
    const { dir, file } = configDir();
    try {
      const before = readFileSync(file, 'utf8');
      const r = await runMain(main, ['links', 'add', '--from-consumer-info', `${base}/jira`, '--config', file]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(file, 'utf8'), before, 'without --write the configuration is untouched');
      const printed = YAML.parse(r.stdout) as Array<Record<string, unknown>>;
      assert.deepEqual(printed, [
        {
          id: linkIdFor('jira:5001'),
          name: 'Team Jira & Co',
          consumerKey: 'jira:5001',
          signatureMethods: ['RSA-SHA1'],
          publicKeyFile: 'keys/jira-5001.pub.pem',
          threeLegged: true,
          twoLegged: { enabled: false, executeAs: null },
          impersonation: { enabled: false },
        },
      ]);
      assert.equal(readFileSync(path.join(dir.dir, 'keys/jira-5001.pub.pem'), 'utf8'), rsaPair(3).publicPem);
      assert.match(r.stderr, /gives no callback.*\/plugins\/servlet\/applinks\/oauth\/login-dance\/access/);
    } finally {
      dir.cleanup();
    }
  });

  it('--write adds it keeping comments and order; check-config passes; a second add is refused', async () => {
    const { dir, file } = configDir();
    try {
      const r = await runCli(['links', 'add', '--from-consumer-info', `${base}/withcb/`, '--id', 'wiki-link', '--write', '--config', file]);
      assert.equal(r.code, 0, r.stderr);
      const text = readFileSync(file, 'utf8');
      assert.ok(text.startsWith('# the gateway of the team\n# (keep this comment)\n'), text.slice(0, 80));
      assert.match(text, /# the links, AppA first\nlinks:/);
      const doc = YAML.parse(text) as { links: Array<Record<string, unknown>> };
      assert.deepEqual(doc.links.map((l) => l.consumerKey), ['app-a', 'app-h', 'conf:77']);
      assert.deepEqual(doc.links[2], {
        id: 'wiki-link',
        name: 'Wiki',
        consumerKey: 'conf:77',
        signatureMethods: ['RSA-SHA1'],
        publicKeyFile: 'keys/conf-77.pub.pem',
        callbackUrls: ['https://wiki.example.com/plugins/servlet/applinks/oauth/login-dance/access'],
        threeLegged: true,
        twoLegged: { enabled: false, executeAs: null },
        impersonation: { enabled: false },
      });
      const check = await runMain(main, ['check-config', '--config', file]);
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stdout, /ok \(3 links/);

      const again = await runMain(main, ['links', 'add', '--from-consumer-info', `${base}/withcb`, '--write', '--config', file]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /refused: the consumer key "conf:77" is already linked \(links\[2\], id wiki-link\)/);
      const sameId = await runMain(main, ['links', 'add', '--from-consumer-info', `${base}/jira`, '--id', 'wiki-link', '--write', '--config', file]);
      assert.equal(sameId.code, 1);
      assert.match(sameId.stderr, /the id wiki-link is already links\[2\]'s/);
      assert.equal(existsSync(path.join(dir.dir, 'keys/jira-5001.pub.pem')), false, 'a refused add leaves no key file');
      assert.equal(readFileSync(file, 'utf8'), text, 'refusals change nothing');
    } finally {
      dir.cleanup();
    }
  });

  it('refuses, clearly and with exit 1: not XML, no key, a key that is not RSA, garbage, HTTP 404, a certificate that fails', async () => {
    const { dir, file } = configDir();
    try {
      const cases: Array<[string, RegExp]> = [
        [`${base}/html`, /an HTML page, not the consumer info XML/],
        [`${base}/nokey`, /has no <key>/],
        [`${base}/ec`, /the public key is ec, not RSA/],
        [`${base}/garbage`, /the public key is not base64/],
        [`${base}/missing`, /answered HTTP 404/],
        [`${tlsBase}/jira`, /certificate was refused \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/],
        [`http://127.0.0.1:${await closedPort()}/x`, /cannot fetch the consumer info \(ECONNREFUSED\)/],
        ['ftp://example.com/', /only http and https/],
      ];
      const before = readFileSync(file, 'utf8');
      for (const [url, message] of cases) {
        const r = await runMain(main, ['links', 'add', '--from-consumer-info', url, '--write', '--config', file]);
        assert.equal(r.code, 1, `${url}: ${r.stderr}`);
        assert.match(r.stderr, message, url);
      }
      assert.equal(readFileSync(file, 'utf8'), before);
      assert.equal(existsSync(path.join(dir.dir, 'keys')), false, 'no key file written for a refusal');
    } finally {
      dir.cleanup();
    }
  });

  it('usage errors exit 2', async () => {
    assert.equal((await runMain(main, ['links', 'add'])).code, 2);
    assert.equal((await runMain(main, ['links', 'add', '--from-consumer-info', base, '--id', 'bad id'])).code, 2);
  });
});

describe('consumer-info parser (strict, fixed shape)', () => {
  const key = () => appKey();
  it('reads Atlassian\'s document: declaration, whitespace, entities, CDATA, unknown flat fields', () => {
    const info = parseConsumerInfo(`\uFEFF<?xml version="1.0"?>\n<!-- c -->\n<consumer xmlns:x="u">\n  <key>k&#58;1</key>\n  <name><![CDATA[A <b> & c]]></name>\n  <publicKey>\n${key()}\n</publicKey>\n  <signatureMethod>RSA-SHA1</signatureMethod>\n  <callback/>\n</consumer>\n`);
    assert.deepEqual(info, { key: 'k:1', name: 'A <b> & c', publicKey: key(), description: null, callback: null });
    assert.match(pemFromAtlassianKey(info.publicKey), /^-----BEGIN PUBLIC KEY-----/);
  });

  it('refuses what consumer info never is', () => {
    const bad: Array<[string, RegExp]> = [
      ['<!DOCTYPE consumer [<!ENTITY x "y">]><consumer><key>&x;</key></consumer>', /DOCTYPE/],
      ['<consumer><key>a</key><key>b</key><publicKey>x</publicKey></consumer>', /<key> appears twice/],
      ['<consumer><key><b>a</b></key></consumer>', /unexpected content/],
      ['<consumer><key>a &foo; b</key></consumer>', /entity &foo;/],
      ['<consumer><key>a & b</key></consumer>', /bare "&"/],
      ['<consumer><key>a</key><publicKey>x</publicKey></consumer><consumer/>', /content after <\/consumer>/],
      ['<consumer><key>a</key>', /ends inside <consumer>/],
      ['{"key":"a"}', /not an XML document/],
      ['<consumer><key>a</key></consumer>', /no <publicKey>/],
    ];
    for (const [xml, message] of bad) assert.throws(() => parseConsumerInfo(xml), (e: unknown) => e instanceof ConsumerInfoError && message.test(e.message), xml);
  });
});
