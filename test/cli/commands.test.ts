// Every CLI command end to end, as a real process: keys generate, links list, tokens list and
// tokens revoke against a real Redis, --help everywhere, and the exit codes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { storeFromConfig } from '../../src/server/serve.js';
import { createLogger } from '../../src/ops/logger.js';
import { parseKeyring } from '../../src/store/crypto.js';
import type { AccessToken, TokenStore } from '../../src/store/types.js';
import { LINK_ID, runtimeConfig, tempDir, testConfigObject, writeConfig, HMAC_LINK_ID } from '../helpers/fixtures.js';
import { main } from '../../src/cli.js';
import { runCli } from '../helpers/process.js';
import { runMain } from '../ops/helpers.js';
import { testRedisUrl } from '../helpers/redis.js';

const t = tempDir();
after(() => t.cleanup());

describe('applink-gateway --help', () => {
  it('documents every command with --config and --help, and exits 0', async () => {
    const commands = ['serve', 'check-config', 'keys generate', 'links list', 'links add', 'tokens list', 'tokens revoke', 'import jira', 'demo'];
    for (const c of commands) {
      const r = await runMain(main, [...c.split(' '), '--help']);
      assert.equal(r.code, 0, `${c} --help: ${r.stderr}`);
      assert.match(r.stdout, /--config PATH/, `${c} --help mentions --config`);
      assert.match(r.stdout, /-h, --help/);
    }
    // Once as a real process: the entry point, stdout and the exit status.
    const top = await runCli(['--help']);
    assert.equal(top.code, 0, top.stderr);
    for (const c of commands) assert.ok(top.stdout.includes(`  ${c} `), `the command list names ${c}`);
    assert.match(top.stdout, /Exit codes: 0 ok, 1 .*2 usage error/s);
  });

  it('answers a bare group with its subcommands (exit 2), and refuses unknown ones', async () => {
    const tokens = await runMain(main, ['tokens']);
    assert.equal(tokens.code, 2);
    assert.match(tokens.stderr, /tokens list/);
    assert.match(tokens.stderr, /tokens revoke/);
    const keysBogus = await runMain(main, ['keys', 'frob']);
    assert.equal(keysBogus.code, 2);
    assert.match(keysBogus.stderr, /unknown command "keys frob"/);
    assert.equal((await runMain(main, [])).code, 2);
    assert.equal((await runMain(main, ['links', 'list', '--bogus'])).code, 2);
  });
});

describe('applink-gateway keys generate', () => {
  it('makes the gateway key pair next to the configuration and prints the key as Atlassian takes it', async () => {
    const dir = tempDir();
    try {
      const cfgFile = path.join(dir.dir, 'gateway.yaml');
      const r = await runCli(['keys', 'generate', 'gateway', '--config', cfgFile]);
      assert.equal(r.code, 0, r.stderr);
      const priv = path.join(dir.dir, 'keys/gateway.pem');
      const pub = path.join(dir.dir, 'keys/gateway.pub.pem');
      assert.equal(statSync(priv).mode & 0o777, 0o600);
      assert.match(r.stdout, /upstream\.identity\.privateKeyFile: keys\/gateway\.pem/);
      assert.match(r.stdout, /Consumer Key: {2}applink-gateway/);
      // The last line is the SubjectPublicKeyInfo in base64, without PEM armour: the pair matches.
      const pasted = r.stdout.trim().split('\n').at(-1) ?? '';
      assert.match(pasted, /^MII[A-Za-z0-9+/=]+$/);
      const fromPaste = createPublicKey({ key: Buffer.from(pasted, 'base64'), format: 'der', type: 'spki' });
      const privateKey = createPrivateKey(readFileSync(priv, 'utf8'));
      const sig = sign('sha1', Buffer.from('base string'), privateKey);
      assert.ok(verify('sha1', Buffer.from('base string'), fromPaste, sig));
      assert.ok(verify('sha1', Buffer.from('base string'), createPublicKey(readFileSync(pub, 'utf8')), sig));
      assert.equal(privateKey.asymmetricKeyDetails?.modulusLength, 2048);

      // Never overwrites without --force.
      const again = await runCli(['keys', 'generate', '--config', cfgFile]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /exists; use --force/);
      assert.equal(readFileSync(priv, 'utf8'), privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      const forced = await runCli(['keys', 'generate', '--config', cfgFile, '--force', '--bits', '3072']);
      assert.equal(forced.code, 0, forced.stderr);
      assert.equal(createPrivateKey(readFileSync(priv, 'utf8')).asymmetricKeyDetails?.modulusLength, 3072);
    } finally {
      dir.cleanup();
    }
  });

  it('makes a link pair (--out PREFIX) and a store keyring that --rotate extends', async () => {
    const dir = tempDir();
    try {
      const cfgFile = path.join(dir.dir, 'gateway.yaml');
      const [link, store, bad, badBits] = await Promise.all([
        runCli(['keys', 'generate', 'link', 'app-z', '--out', path.join(dir.dir, 'k/app-z'), '--config', cfgFile]),
        runCli(['keys', 'generate', 'store', '--config', cfgFile]),
        runCli(['keys', 'generate', 'link', '--config', cfgFile]),
        runCli(['keys', 'generate', 'gateway', '--bits', '1024', '--config', cfgFile]),
      ]);
      assert.equal(link.code, 0, link.stderr);
      assert.match(link.stdout, /publicKeyFile: k\/app-z\.pub\.pem/);
      createPrivateKey(readFileSync(path.join(dir.dir, 'k/app-z.pem'), 'utf8'));
      assert.equal(store.code, 0, store.stderr);
      const keyring = path.join(dir.dir, 'keys/store.key');
      assert.equal(statSync(keyring).mode & 0o777, 0o600);
      const first = parseKeyring(readFileSync(keyring, 'utf8'));
      assert.equal(first.length, 1);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /link needs a NAME/);
      assert.equal(badBits.code, 2);

      const rotated = await runCli(['keys', 'generate', 'store', '--rotate', '--config', cfgFile]);
      assert.equal(rotated.code, 0, rotated.stderr);
      const keys = parseKeyring(readFileSync(keyring, 'utf8'));
      assert.equal(keys.length, 2);
      assert.equal(keys[1]?.id, first[0]?.id, 'the old key stays, second');
      assert.notEqual(keys[0]?.id, first[0]?.id, 'the new key encrypts');
      const refused = await runCli(['keys', 'generate', 'store', '--config', cfgFile]);
      assert.equal(refused.code, 1);
    } finally {
      dir.cleanup();
    }
  });
});

describe('applink-gateway links list', () => {
  it('prints every link with its flows, as a table and as JSON', async () => {
    const file = writeConfig(t, testConfigObject(t), 'links.yaml');
    const [table, json] = await Promise.all([runCli(['links', 'list', '--config', file]), runCli(['links', 'list', '--json', '--config', file])]);
    assert.equal(table.code, 0, table.stderr);
    const [header, ...rows] = table.stdout.trim().split('\n');
    assert.match(header ?? '', /^ID\s+NAME\s+CONSUMER KEY\s+METHODS\s+FLOWS\s+CALLBACKS$/);
    assert.equal(rows.length, 2);
    assert.match(rows[0] ?? '', new RegExp(`^${LINK_ID}\\s+AppA\\s+app-a\\s+RSA-SHA1\\s+3LO 2LO\\(as svc-appa\\) 2LOi\\(deny admin\\)\\s+https://appa`));
    assert.match(rows[1] ?? '', /^link-hmac\s+AppH\s+app-h\s+HMAC-SHA1\s+3LO 2LOi\(deny admin\)/);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as Array<{ id: string; flows: string[]; publicKeys: number }>;
    assert.deepEqual(parsed.map((l) => l.id), [LINK_ID, HMAC_LINK_ID]);
    assert.equal(parsed[0]?.publicKeys, 1);
  });
});

describe('applink-gateway tokens (against Redis)', () => {
  let file: string;
  let store: TokenStore;
  const issued: Record<string, AccessToken> = {};

  // Tokens made through the store the gateway uses, as a finished dance leaves them.
  async function grant(user: string, linkId: string, consumerKey: string): Promise<AccessToken> {
    const rt = await store.createRequestToken({ linkId, consumerKey, callback: 'oob', version: '1.0a', ttlSeconds: 600 });
    const ok = await store.approveRequestToken(rt.token, user);
    assert.ok(ok.ok);
    const x = await store.exchangeRequestToken(rt.token, { consumerKey, verifier: ok.token.verifier, accessTtlSeconds: 3600 });
    assert.ok(x.ok);
    return x.access;
  }

  before(async () => {
    const obj = testConfigObject(t, { redisUrl: await testRedisUrl() });
    file = writeConfig(t, obj, 'tokens.yaml');
    const cfg = runtimeConfig(t, obj);
    store = storeFromConfig(cfg, createLogger({ level: 'silent' }));
    issued.alice1 = await grant('alice', LINK_ID, 'app-a');
    issued.alice2 = await grant('Alice', HMAC_LINK_ID, 'app-h');
    issued.bob = await grant('bob', LINK_ID, 'app-a');
    issued.carol = await grant('carol', LINK_ID, 'app-a');
  });
  after(async () => {
    await store?.close();
  });

  it('lists tokens, filtered by user and link, with handles and never a token value', async () => {
    const [all, alice, linkA, json] = await Promise.all([
      runCli(['tokens', 'list', '--config', file]),
      runCli(['tokens', 'list', '--user', 'ALICE', '--config', file]),
      runCli(['tokens', 'list', '--link', 'app-a', '--config', file]),
      runCli(['tokens', 'list', '--json', '--user', 'bob', '--config', file]),
    ]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^HANDLE\s+USER\s+LINK\s+CREATED\s+EXPIRES/);
    assert.match(all.stdout, /4 tokens\n$/);
    for (const a of Object.values(issued)) {
      assert.ok(all.stdout.includes(a.handle), `${a.user}'s handle listed`);
      assert.ok(!all.stdout.includes(a.token) && !all.stdout.includes(a.secret), 'no token value or secret');
    }
    assert.match(all.stdout, new RegExp(`${issued.alice1?.handle}\\s+alice\\s+${LINK_ID} \\(AppA\\)`));
    assert.match(alice.stdout, /2 tokens/);
    assert.ok(!alice.stdout.includes(issued.bob?.handle ?? '-'));
    assert.match(linkA.stdout, /3 tokens/, 'the consumer key names the link');
    const rows = JSON.parse(json.stdout) as Array<{ handle: string; user: string; linkId: string }>;
    assert.deepEqual(rows.map((r) => [r.handle, r.user, r.linkId]), [[issued.bob?.handle, 'bob', LINK_ID]]);
  });

  it('revokes by handle (exit 4 when none matches), by token value, by user and by link', async () => {
    const byHandle = await runCli(['tokens', 'revoke', '--token', issued.bob?.handle ?? '', '--config', file]);
    assert.equal(byHandle.code, 0, byHandle.stderr);
    assert.match(byHandle.stdout, new RegExp(`Revoked ${issued.bob?.handle} \\(user bob, link ${LINK_ID}\\)`));
    assert.equal(await store.getAccessToken(issued.bob?.token ?? ''), null, 'revoked in Redis');
    const auditLine = JSON.parse(byHandle.stderr.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    assert.deepEqual([auditLine.audit, auditLine.event, auditLine.by, auditLine.handle, auditLine.user], [true, 'token_revoked', 'cli', issued.bob?.handle, 'bob']);
    const [again, byValue, wrongValue] = await Promise.all([
      runCli(['tokens', 'revoke', '--token', issued.bob?.handle ?? '', '--config', file]),
      runCli(['tokens', 'revoke', '--token', issued.carol?.token ?? '', '--config', file]),
      runCli(['tokens', 'revoke', '--token', `${issued.alice1?.handle}.not-the-real-secret-part`, '--config', file]),
    ]);
    assert.equal(again.code, 4);
    assert.match(again.stderr, /No live access token has the handle/);
    assert.equal(byValue.code, 0, byValue.stderr);
    assert.equal(await store.getAccessToken(issued.carol?.token ?? ''), null);
    assert.equal(wrongValue.code, 4, 'a value that is not a live token revokes nothing');
    assert.notEqual(await store.getAccessToken(issued.alice1?.token ?? ''), null);

    const byUserAndLink = await runCli(['tokens', 'revoke', '--user', 'alice', '--link', HMAC_LINK_ID, '--config', file]);
    assert.equal(byUserAndLink.code, 0, byUserAndLink.stderr);
    assert.match(byUserAndLink.stdout, /Revoked 1 token \(user alice, link link-hmac\)/);
    assert.equal(await store.getAccessToken(issued.alice2?.token ?? ''), null);
    assert.notEqual(await store.getAccessToken(issued.alice1?.token ?? ''), null, "alice's other link untouched");
    const byLink = await runCli(['tokens', 'revoke', '--link', LINK_ID, '--config', file]);
    assert.match(byLink.stdout, /Revoked 1 token \(link /);
    assert.equal(await store.getAccessToken(issued.alice1?.token ?? ''), null);
    const none = await runCli(['tokens', 'list', '--config', file]);
    assert.match(none.stdout, /No live access tokens match/);
  });

  it('refuses a bad command line with exit 2', async () => {
    // Usage errors are found before anything is read or connected: main() in this process.
    const results = [
      await runMain(main, ['tokens', 'revoke', '--config', file]),
      await runMain(main, ['tokens', 'revoke', '--token', 'abc', '--user', 'x', '--config', file]),
      await runMain(main, ['tokens', 'revoke', '--token', 'short', '--config', file]),
      await runMain(main, ['tokens', 'list', '--bogus', '--config', file]),
    ];
    for (const r of results) assert.equal(r.code, 2, r.stderr);
    assert.match(results[0]?.stderr ?? '', /name what to revoke/);
    // Handles are base64url: one may start with '-' and is still a value, not an option.
    const dash = await runMain(main, ['tokens', 'revoke', '--token', '-AAAAAAAAAAAAAAA', '--config', file]);
    assert.equal(dash.code, 4, dash.stderr);
    assert.match(dash.stderr, /No live access token has the handle -AAAAAAAAAAAAAAA/);
  });

  it('exits 3 when Redis cannot be reached, and 1 for a memory-store configuration', async () => {
    const [down, memory] = await Promise.all([
      runCli(['tokens', 'list', '--config', file], { env: { REDIS_URL: 'redis://127.0.0.1:1/0' } }),
      runCli(['tokens', 'list', '--config', writeConfig(t, testConfigObject(t), 'memory.yaml')], { env: { REDIS_URL: '' } }),
    ]);
    assert.equal(down.code, 3, down.stderr);
    assert.match(down.stderr, /token store cannot be reached/);
    assert.equal(memory.code, 1);
    assert.match(memory.stderr, /store\.redis is not configured/);
  });
});
