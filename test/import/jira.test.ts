// import jira against real PostgreSQL and MariaDB databases with Jira's OAuth tables: tokens a
// stand-in Jira issued in a real dance (node `oauth` client, real RSA keys) are imported through
// the real CLI, then an unchanged client (requests-oauthlib) signs with the OLD token and AppB
// runs the request as the right user through the gateway; renewal with the old session handle
// works; a token revoked after the import fails, and a second import neither adds nor revives.
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OAuth as NpmOAuth } from 'oauth';
import YAML from 'yaml';
import { linkIdFor } from '../../src/applinks/link-entry.js';
import { loadConfigFile } from '../../src/config/load.js';
import { signRequest } from '../../src/oauth1/index.js';
import { createLogger } from '../../src/ops/logger.js';
import { startGateway, type RunningGateway } from '../../src/server/serve.js';
import { accessHandleOfToken } from '../../src/store/tokens.js';
import { startTestAppB, type TestAppB } from '../helpers/appb.js';
import { rsaPair, tempDir, testConfigObject, PUBLIC_BASE } from '../helpers/fixtures.js';
import {
  JIRA_ACCESS_TTL_MS,
  createJiraDb,
  insertConsumer,
  insertToken,
  insertUser,
  jiraTokenValue,
  sqlBool,
  startStandInJira,
  type Dialect,
  type JiraDb,
  type StandInJira,
} from '../helpers/jira-db.js';
import { runCli } from '../helpers/process.js';
import { testRedisUrl } from '../helpers/redis.js';
import { pythonJson, send } from '../helpers/clients.js';

const APPA_KEY = 'jira-appa:7';
const WIKI_KEY = 'wiki:12';
/** As Atlassian's RSAKeys.toPemEncoding stores a key: base64 DER, no PEM lines. */
const atlassianKey = (pem: string) => pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
const YEAR_MS = 365 * 86_400_000;

interface Tokens {
  token: string;
  secret: string;
  session: string;
}

/** The dance at the stand-in Jira with the `oauth` npm package, as AppA did it long ago. */
async function danceAtJira(jira: StandInJira, user: string): Promise<Tokens> {
  const client = new NpmOAuth(`${jira.url}/plugins/servlet/oauth/request-token`, `${jira.url}/plugins/servlet/oauth/access-token`, APPA_KEY, rsaPair(5).privatePem, '1.0', 'https://appa.example.com/plugins/servlet/applinks/oauth/login-dance/access?applicationLinkID=x', 'RSA-SHA1');
  const rt = await new Promise<{ token: string; secret: string }>((resolve, reject) =>
    client.getOAuthRequestToken((err, token, secret) => (err ? reject(new Error(JSON.stringify(err))) : resolve({ token, secret }))),
  );
  const approve = await fetch(`${jira.url}/plugins/servlet/oauth/authorize?oauth_token=${rt.token}&user=${user}`, { redirect: 'manual' });
  assert.equal(approve.status, 302);
  const verifier = new URL(approve.headers.get('location') ?? '').searchParams.get('oauth_verifier') ?? '';
  return new Promise((resolve, reject) =>
    client.getOAuthAccessToken(rt.token, rt.secret, verifier, (err, token, secret, extra) =>
      err ? reject(new Error(JSON.stringify(err))) : resolve({ token, secret, session: String((extra as Record<string, string>).oauth_session_handle) }),
    ),
  );
}

/** An unchanged OAuth client (requests-oauthlib, RSA-SHA1) signing with a token, through the gateway as its proxy. */
function oldClientGet(gatewayUrl: string, t: Tokens, target: string): Promise<{ status: number; text: string; wwwAuthenticate: string | null }> {
  const script = `
import json, sys, requests
from requests_oauthlib import OAuth1
from oauthlib.oauth1 import SIGNATURE_RSA
a = json.load(sys.stdin)
auth = OAuth1(a['consumerKey'], signature_method=SIGNATURE_RSA, rsa_key=a['rsaKey'], resource_owner_key=a['token'], resource_owner_secret=a['secret'])
r = requests.get(a['url'], auth=auth, proxies={'http': a['proxy']}, timeout=20)
print(json.dumps({'status': r.status_code, 'text': r.text, 'wwwAuthenticate': r.headers.get('WWW-Authenticate')}))
`;
  const input = JSON.stringify({ consumerKey: APPA_KEY, rsaKey: rsaPair(5).privatePem, token: t.token, secret: t.secret, url: `${PUBLIC_BASE}${target}`, proxy: gatewayUrl });
  return pythonJson(script, input, 'requests-oauthlib');
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** A configuration directory (links app-a and app-h already there) whose file carries comments. */
function configDir(redisUrl: string, upstreamUrl: string) {
  const dir = tempDir('applink-import-');
  const doc = new YAML.Document(testConfigObject(dir, { redisUrl, upstreamUrl }));
  doc.commentBefore = ' gateway in front of the team Jira\n (this comment stays)';
  const file = dir.write('gateway.yaml', doc.toString());
  return { dir, file };
}

for (const dialect of ['postgresql', 'mariadb'] as Dialect[]) {
  describe(`import jira from ${dialect}: old tokens keep working through the gateway`, () => {
    let db: JiraDb | null = null;
    let jira: StandInJira | null = null;
    let appb: TestAppB | null = null;
    let gateway: RunningGateway | null = null;
    let cfg: ReturnType<typeof configDir> | null = null;
    let alice: Tokens;
    let bob: Tokens;

    before(async () => {
      try {
        db = await createJiraDb(dialect);
        await insertUser(db, 'alice', 'alice');
        // A user created since Jira 8: the token names the key, the gateway needs the name.
        await insertUser(db, 'JIRAUSER10100', 'bob');
        await insertConsumer(db, { consumerKey: APPA_KEY, name: 'Team AppA', publicKey: atlassianKey(rsaPair(5).publicPem), twoLO: sqlBool(dialect, 'two_l_o_allowed', false) });
        await insertConsumer(db, {
          consumerKey: WIKI_KEY,
          name: 'Wiki',
          publicKey: atlassianKey(rsaPair(6).publicPem),
          callback: 'https://wiki.example.com/plugins/servlet/applinks/oauth/login-dance/access',
          twoLO: sqlBool(dialect, 'two_l_o_allowed', true),
          executeAs: 'JIRAUSER10100',
          impersonation: sqlBool(dialect, 'two_l_o_impersonation_allowed', true),
          threeLO: sqlBool(dialect, 'three_l_o_allowed', false),
        });
        jira = await startStandInJira(db, { [APPA_KEY]: rsaPair(5).publicPem }, { alice: 'alice', bob: 'JIRAUSER10100' });
        alice = await danceAtJira(jira, 'alice');
        bob = await danceAtJira(jira, 'bob');
        const long = Date.now() - 6 * YEAR_MS;
        // Expired: token and session ended.
        await insertToken(db, { token: jiraTokenValue(), secret: jiraTokenValue(), type: 'ACCESS', consumerKey: APPA_KEY, userKey: 'alice', created: new Date(long), ttl: JIRA_ACCESS_TTL_MS, sessionHandle: jiraTokenValue(), sessionCreated: new Date(long), sessionRenewed: new Date(long), sessionTtl: YEAR_MS });
        // A user deleted since, and a consumer deleted since.
        await insertToken(db, { token: jiraTokenValue(), secret: jiraTokenValue(), type: 'ACCESS', consumerKey: APPA_KEY, userKey: 'JIRAUSER99999', created: new Date(), ttl: JIRA_ACCESS_TTL_MS });
        await insertToken(db, { token: jiraTokenValue(), secret: jiraTokenValue(), type: 'ACCESS', consumerKey: 'deleted-consumer', userKey: 'alice', created: new Date(), ttl: JIRA_ACCESS_TTL_MS });
        appb = await startTestAppB({ consumers: { 'applink-gateway': { rsaPublicKeyPem: rsaPair(1).publicPem, impersonation: true } } });
        cfg = configDir(await testRedisUrl(), appb.url);
      } catch (err) {
        // A failing before closes what it started (and says how to start a missing server).
        await jira?.close();
        await appb?.stop();
        await db?.drop().catch(() => undefined);
        cfg?.dir.cleanup();
        throw err;
      }
    });
    after(async () => {
      await gateway?.close();
      await jira?.close();
      await appb?.stop();
      await db?.drop();
      cfg?.dir.cleanup();
    });

    it('--dry-run says what it would do and writes nothing, anywhere', async () => {
      assert.ok(db && cfg);
      const before = { db: await db.fingerprint(), config: readFileSync(cfg.file, 'utf8') };
      const r = await runCli(['import', 'jira', '--database', db.url, '--dry-run', '--config', cfg.file]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /dry run, nothing written/);
      assert.match(r.stdout, /Links: 2 would import, 0 already configured, 0 refused/);
      assert.match(r.stdout, /Tokens: 2 would import, 0 refused; skipped: 1 expired \(token and session both ended\), 1 of users that no longer exist, 1 of consumers that are not in oauthspconsumer, 2 request tokens/);
      assert.match(r.stdout, /skipped token [A-Za-z0-9_-]{16} of "jira-appa:7": the user "JIRAUSER99999" no longer exists/);
      assert.equal(readFileSync(cfg.file, 'utf8'), before.config);
      assert.equal(existsSync(path.join(cfg.dir.dir, 'keys')), false, 'no key file');
      assert.equal(await db.fingerprint(), before.db);
      const list = await runCli(['tokens', 'list', '--json', '--config', cfg.file]);
      assert.deepEqual(JSON.parse(list.stdout), [], list.stderr);
    });

    it('imports links and tokens; the old token, signed by an unchanged client, runs as its user; renewal; revocation; idempotent', async () => {
      assert.ok(db && cfg && appb);
      const dbBefore = await db.fingerprint();
      const r = await runCli(['import', 'jira', '--database', db.url, '--write', '--config', cfg.file]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /Links: 2 imported, 0 already configured, 0 refused/);
      assert.match(r.stdout, /Tokens: 2 imported, 0 already imported \(unchanged\), 0 refused; skipped: 1 expired/);
      assert.equal(await db.fingerprint(), dbBefore, "Jira's database is never written");

      const text = readFileSync(cfg.file, 'utf8');
      assert.ok(text.startsWith('# gateway in front of the team Jira\n# (this comment stays)\n'));
      const links = (YAML.parse(text) as { links: Array<Record<string, unknown>> }).links;
      assert.deepEqual(links.map((l) => l.consumerKey), ['app-a', 'app-h', APPA_KEY, WIKI_KEY]);
      assert.deepEqual(links[2], { id: linkIdFor(APPA_KEY), name: 'Team AppA', consumerKey: APPA_KEY, signatureMethods: ['RSA-SHA1'], publicKeyFile: 'keys/jira-appa-7.pub.pem', threeLegged: true, twoLegged: { enabled: false, executeAs: null }, impersonation: { enabled: false } });
      assert.deepEqual(links[3], {
        id: linkIdFor(WIKI_KEY),
        name: 'Wiki',
        consumerKey: WIKI_KEY,
        signatureMethods: ['RSA-SHA1'],
        publicKeyFile: 'keys/wiki-12.pub.pem',
        callbackUrls: ['https://wiki.example.com/plugins/servlet/applinks/oauth/login-dance/access'],
        threeLegged: false,
        twoLegged: { enabled: true, executeAs: 'bob' },
        impersonation: { enabled: true },
      });
      assert.equal(readFileSync(path.join(cfg.dir.dir, 'keys/jira-appa-7.pub.pem'), 'utf8'), rsaPair(5).publicPem);
      const check = await runCli(['check-config', '--config', cfg.file]);
      assert.equal(check.code, 0, check.stderr);

      const runtime = loadConfigFile(cfg.file);
      gateway = await startGateway({ cfg: runtime, log: createLogger({ level: 'silent' }), defaultMetrics: false });
      const asAlice = await oldClientGet(gateway.publicUrl, alice, '/rest/api/2/myself?x=1');
      assert.equal(asAlice.status, 200, asAlice.text);
      assert.equal((JSON.parse(asAlice.text) as { user: string }).user, 'alice');
      const asBob = await oldClientGet(gateway.publicUrl, bob, '/rest/api/2/myself');
      assert.equal(asBob.status, 200, asBob.text);
      assert.equal((JSON.parse(asBob.text) as { user: string }).user, 'bob', 'JIRAUSER10100 runs as bob');

      // Renewal with the session handle Jira gave: same token, a new expiry.
      const signed = await signRequest({ method: 'POST', url: `${PUBLIC_BASE}/plugins/servlet/oauth/access-token`, consumerKey: APPA_KEY, signatureMethod: 'RSA-SHA1', privateKey: createPrivateKey(rsaPair(5).privatePem), token: alice.token, tokenSecret: alice.secret, extraOAuth: { oauth_session_handle: alice.session } });
      const renewed = await send(gateway.publicUrl, { method: 'POST', target: '/plugins/servlet/oauth/access-token', headers: { authorization: signed.authorization, host: 'gateway.test' } });
      assert.equal(renewed.status, 200, renewed.text);
      const answer = Object.fromEntries(new URLSearchParams(renewed.text));
      assert.equal(answer.oauth_token, alice.token);
      assert.equal(answer.oauth_session_handle, alice.session);
      assert.ok(Number(answer.oauth_expires_in) > 0);

      // tokens list shows the imported tokens by handle; revoke one: its next use fails.
      const listed = JSON.parse((await runCli(['tokens', 'list', '--user', 'alice', '--json', '--config', cfg.file])).stdout) as Array<{ handle: string; linkId: string; user: string }>;
      assert.deepEqual(listed.map((x) => [x.handle, x.linkId, x.user]), [[accessHandleOfToken(alice.token), linkIdFor(APPA_KEY), 'alice']]);
      const revoke = await runCli(['tokens', 'revoke', '--token', listed[0]?.handle ?? '', '--config', cfg.file]);
      assert.equal(revoke.code, 0, revoke.stderr);
      const revoked = await oldClientGet(gateway.publicUrl, alice, '/rest/api/2/myself');
      assert.equal(revoked.status, 401);
      assert.match(revoked.wwwAuthenticate ?? '', /oauth_problem="token_revoked"/);

      // Again: nothing changes, and the revoked token stays revoked.
      const again = await runCli(['import', 'jira', '--database', db.url, '--write', '--config', cfg.file]);
      assert.equal(again.code, 0, again.stderr + again.stdout);
      assert.match(again.stdout, /Links: 0 imported, 2 already configured, 0 refused/);
      assert.match(again.stdout, /Tokens: 0 imported, 2 already imported \(unchanged\), 0 refused/);
      assert.equal(readFileSync(cfg.file, 'utf8'), text, 'the configuration is unchanged');
      assert.equal((await oldClientGet(gateway.publicUrl, alice, '/rest/api/2/myself')).status, 401);
      assert.equal((await oldClientGet(gateway.publicUrl, bob, '/rest/api/2/myself')).status, 200);
    });
  });

  describe(`import jira from ${dialect}: bad input is refused row by row, nothing half-imported`, () => {
    it('broken rows are named and refused whole; the good ones are imported', async () => {
      const db = await createJiraDb(dialect);
      const cfg = configDir(await testRedisUrl(), 'http://127.0.0.1:1');
      try {
        const good = jiraTokenValue();
        await insertUser(db, 'carol', 'carol');
        await insertConsumer(db, { consumerKey: 'good:1', name: 'Good', publicKey: atlassianKey(rsaPair(5).publicPem) });
        const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
        await insertConsumer(db, { consumerKey: 'ec:1', name: 'EC', publicKey: atlassianKey(ec) });
        await insertConsumer(db, { consumerKey: 'maybe:1', name: 'Maybe', publicKey: atlassianKey(rsaPair(6).publicPem), threeLO: 'maybe' });
        await insertConsumer(db, { consumerKey: 'junk:1', name: 'Junk', publicKey: 'this is not a key' });
        const now = new Date();
        await insertToken(db, { token: good, secret: 's', type: 'ACCESS', consumerKey: 'good:1', userKey: 'carol', created: now, ttl: JIRA_ACCESS_TTL_MS });
        await insertToken(db, { token: 'short-token', secret: 's', type: 'ACCESS', consumerKey: 'good:1', userKey: 'carol', created: now, ttl: JIRA_ACCESS_TTL_MS });
        await insertToken(db, { token: jiraTokenValue(), secret: 's', type: 'ACCESS', consumerKey: 'good:1', userKey: 'carol', created: now, ttl: JIRA_ACCESS_TTL_MS, sessionHandle: jiraTokenValue(), sessionCreated: now, sessionRenewed: now, sessionTtl: null });
        await insertToken(db, { token: jiraTokenValue(), secret: 's', type: 'ACCESS', consumerKey: 'ec:1', userKey: 'carol', created: now, ttl: JIRA_ACCESS_TTL_MS });
        const before = readFileSync(cfg.file, 'utf8');
        const r = await runCli(['import', 'jira', '--database', db.url, '--write', '--config', cfg.file]);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stdout, /Links: 1 imported, 0 already configured, 3 refused/);
        assert.match(r.stdout, /refused oauthspconsumer "ec:1": public_key: the public key is ec, not RSA/);
        assert.match(r.stdout, /refused oauthspconsumer "maybe:1": three_l_o_allowed is "maybe", not a boolean/);
        assert.match(r.stdout, /refused oauthspconsumer "junk:1": public_key: the public key is not base64/);
        assert.match(r.stdout, /Tokens: 1 imported, 0 already imported \(unchanged\), 2 refused; skipped: 1 of refused links/);
        assert.match(r.stdout, /refused token \(no handle\) of "good:1": token is not 32 letters and digits/);
        assert.match(r.stdout, /refused token [A-Za-z0-9_-]{16} of "good:1": session_time_to_live is empty while session_handle is set/);
        assert.match(r.stderr, /5 rows refused \(named above\); everything else was imported/);
        const links = (YAML.parse(readFileSync(cfg.file, 'utf8')) as { links: Array<{ consumerKey: string }> }).links;
        assert.deepEqual(links.map((l) => l.consumerKey), ['app-a', 'app-h', 'good:1']);
        assert.notEqual(readFileSync(cfg.file, 'utf8'), before);
        assert.equal(existsSync(path.join(cfg.dir.dir, 'keys/ec-1.pub.pem')), false, 'no key file for a refused link');
        const listed = JSON.parse((await runCli(['tokens', 'list', '--user', 'carol', '--json', '--config', cfg.file])).stdout) as Array<{ handle: string }>;
        assert.deepEqual(listed.map((x) => x.handle), [accessHandleOfToken(good)]);
      } finally {
        await db.drop();
        cfg.dir.cleanup();
      }
    });

    it('a database without Jira\'s tables, an unreachable one and a URL that is none are refused before anything is written', async () => {
      const empty = await createJiraDb(dialect, { empty: true });
      const cfg = configDir(await testRedisUrl(), 'http://127.0.0.1:1');
      try {
        const before = readFileSync(cfg.file, 'utf8');
        const r = await runCli(['import', 'jira', '--database', empty.url, '--write', '--config', cfg.file]);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stderr, /refused: the database .* has no table oauthspconsumer: is this Jira's database/);
        const port = await closedPort();
        const scheme = dialect === 'postgresql' ? 'postgresql' : 'mariadb';
        const down = await runCli(['import', 'jira', '--database', `${scheme}://u:secretpw@127.0.0.1:${port}/jira`, '--config', cfg.file]);
        assert.equal(down.code, 1, down.stdout + down.stderr);
        assert.match(down.stderr, /refused: cannot connect to the database .*ECONNREFUSED/);
        assert.ok(!down.stderr.includes('secretpw'), 'the password never reaches the output');
        const bad = await runCli(['import', 'jira', '--database', 'jira.example.com/jira', '--config', cfg.file]);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /--database must be a URL/);
        const other = await runCli(['import', 'jira', '--database', 'oracle://db/jira', '--config', cfg.file]);
        assert.equal(other.code, 2);
        assert.match(other.stderr, /oracle is not supported/);
        assert.equal(readFileSync(cfg.file, 'utf8'), before);
        assert.equal(existsSync(path.join(cfg.dir.dir, 'keys')), false);
      } finally {
        await empty.drop();
        cfg.dir.cleanup();
      }
    });
  });
}
