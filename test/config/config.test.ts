// Configuration: a valid file resolves; each mistake is refused with its key path named.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { tempDir, testConfigObject, runtimeConfig, writeConfig, deepMerge, APP_H_SECRET, PUBLIC_BASE } from '../helpers/fixtures.js';
import { loadConfigFile, configPathFrom } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/issues.js';

const t = tempDir();
after(() => t.cleanup());

function refusal(obj: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    runtimeConfig(t, obj, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('configuration was accepted');
}

describe('configuration', () => {
  it('resolves a valid configuration with defaults filled in', () => {
    const cfg = runtimeConfig(t, testConfigObject(t));
    assert.equal(cfg.links.length, 2);
    const a = cfg.linksByConsumerKey.get('app-a');
    assert.ok(a);
    assert.equal(a.publicKeys.length, 1);
    assert.equal(a.allowOAuth10, false);
    assert.equal(a.gatewayInitiated, false);
    assert.equal(a.threeLegged, true);
    assert.ok(a.denyUsersLower.has('admin'));
    assert.equal(cfg.linksByConsumerKey.get('app-h')?.sharedSecret, APP_H_SECRET);
    assert.equal(cfg.config.oauth.accessTokenTtlSeconds, 157680000);
    assert.equal(cfg.config.oauth.requestTokenTtlSeconds, 600);
    assert.equal(cfg.config.shutdown.delaySeconds, 5);
    assert.equal(cfg.signatureBaseUrl.href, `${PUBLIC_BASE}/`);
    assert.equal(cfg.identity.mode, 'oauth1');
  });

  it('names the key of a bad signature method', () => {
    const obj = testConfigObject(t);
    (obj.links as Array<Record<string, unknown>>)[0]!.signatureMethods = ['RSA-SHA7'];
    const problems = refusal(obj);
    assert.deepEqual(problems, ['links[0].signatureMethods[0]: "RSA-SHA7" is not one of RSA-SHA1, HMAC-SHA1, PLAINTEXT']);
  });

  it('refuses duplicate link ids and consumer keys', () => {
    const obj = testConfigObject(t);
    const links = obj.links as Array<Record<string, unknown>>;
    links[1] = { ...links[1], id: links[0]!.id, consumerKey: 'app-a' };
    const problems = refusal(obj);
    assert.ok(problems.some((p) => p.startsWith('links[1].id: ') && p.includes('duplicates links[0].id')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('links[1].consumerKey: ') && p.includes('duplicates links[0].consumerKey')), problems.join('\n'));
  });

  it('refuses unknown keys, missing required keys and wrong types', () => {
    const obj = deepMerge(testConfigObject(t), { server: { lisen: '0.0.0.0:1' }, oauth: { timestampSkewSeconds: 'soon' } });
    delete (obj.upstream as Record<string, unknown>).url;
    const problems = refusal(obj);
    assert.ok(problems.includes('server.lisen: unknown key'), problems.join('\n'));
    assert.ok(problems.includes('upstream.url: is required'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('oauth.timestampSkewSeconds: expected number')), problems.join('\n'));
  });

  it('refuses a missing key file, naming the key and the file', () => {
    const obj = testConfigObject(t);
    (obj.links as Array<Record<string, unknown>>)[0]!.publicKeyFile = 'nope.pem';
    const problems = refusal(obj);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^links\[0\]\.publicKeyFile: cannot read "nope\.pem" \(ENOENT\)$/);
  });

  it('refuses a file that is not a public key, without echoing it', () => {
    const obj = testConfigObject(t);
    t.write('garbage.pem', 'not a key at all');
    (obj.links as Array<Record<string, unknown>>)[0]!.publicKeyFile = 'garbage.pem';
    const problems = refusal(obj);
    assert.match(problems[0]!, /^links\[0\]\.publicKeyFile: /);
    assert.ok(!problems[0]!.includes('not a key at all'));
  });

  it('reads secrets from env: references', () => {
    const obj = testConfigObject(t);
    (obj.links as Array<Record<string, unknown>>)[1]!.sharedSecretFile = 'env:APP_H_SECRET';
    assert.equal(runtimeConfig(t, obj, { APP_H_SECRET: 'from-env' }).linksByConsumerKey.get('app-h')?.sharedSecret, 'from-env');
    assert.deepEqual(refusal(obj, {}), ['links[1].sharedSecretFile: environment variable APP_H_SECRET is not set']);
  });

  it('enforces the rules that span keys', () => {
    const obj = testConfigObject(t);
    const links = obj.links as Array<Record<string, unknown>>;
    links[0]!.twoLegged = { enabled: true, executeAs: null };
    links[1]!.signatureMethods = ['PLAINTEXT'];
    links[1]!.gatewayInitiated = true;
    links[1]!.callbackUrls = ['oob'];
    const problems = refusal(deepMerge(obj, { server: { workers: 2 } }));
    assert.ok(problems.includes('links[0].twoLegged.executeAs: is required when twoLegged.enabled is true'), problems.join('\n'));
    assert.ok(problems.includes('links[1].signatureMethods: PLAINTEXT needs an https server.publicBaseUrl'), problems.join('\n'));
    assert.ok(problems.includes('links[1].callbackUrls: gatewayInitiated needs an http(s) callback URL first'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('server.workers: ')), problems.join('\n'));
  });

  it('refuses header identity for a remote upstream unless allowRemote', () => {
    const obj = deepMerge(testConfigObject(t, { upstreamUrl: 'http://appb.internal:8081' }), {
      upstream: { identity: { mode: 'header', sharedSecretFile: 'header.secret' } },
    });
    (obj.upstream as { identity: Record<string, unknown> }).identity = { mode: 'header', sharedSecretFile: 'header.secret' };
    assert.ok(refusal(obj).some((p) => p.startsWith('upstream.identity.mode: "header" needs a loopback upstream.url')));
    (obj.upstream as { identity: Record<string, unknown> }).identity = { mode: 'header', sharedSecretFile: 'header.secret', allowRemote: true };
    assert.equal(runtimeConfig(t, obj).identity.mode, 'header');
  });

  it('refuses the demo login under NODE_ENV=production', () => {
    assert.deepEqual(refusal(testConfigObject(t), { NODE_ENV: 'production' }), ['userAuth.mode: "demo" is refused when NODE_ENV=production']);
  });

  it('requires an encryption keyring with Redis, and REDIS_URL replaces the URL', () => {
    const obj = deepMerge(testConfigObject(t), { store: { redis: { url: 'redis://10.0.0.1:6379' } } });
    assert.deepEqual(refusal(obj), ['store.encryptionKeyFile: is required with store.redis (token secrets are encrypted at rest)']);
    const ok = runtimeConfig(t, deepMerge(obj, { store: { encryptionKeyFile: 'store.key' } }), { REDIS_URL: 'redis://127.0.0.1:7777/2' });
    assert.equal(ok.config.store.redis?.url, 'redis://127.0.0.1:7777/2');
    assert.equal(ok.encryptionKeys?.length, 1);
  });

  it('loads YAML from a file and reports YAML syntax errors with the file name', () => {
    const file = writeConfig(t, testConfigObject(t));
    assert.equal(loadConfigFile(file, { env: {} }).links.length, 2);
    const bad = t.write('bad.yaml', 'server: [unclosed\n');
    assert.throws(() => loadConfigFile(bad, { env: {} }), (e: unknown) => e instanceof ConfigError && e.problems[0]!.startsWith(`${bad}: YAML`));
    assert.throws(() => loadConfigFile(`${t.dir}/missing.yaml`, { env: {} }), /cannot read the configuration file \(ENOENT\)/);
  });

  it('picks the file from --config, then APPLINK_GATEWAY_CONFIG, then config/gateway.yaml', () => {
    assert.equal(configPathFrom('/x/a.yaml', { APPLINK_GATEWAY_CONFIG: '/y/b.yaml' }), '/x/a.yaml');
    assert.equal(configPathFrom(undefined, { APPLINK_GATEWAY_CONFIG: '/y/b.yaml' }), '/y/b.yaml');
    assert.ok(configPathFrom(undefined, {}).endsWith('/config/gateway.yaml'));
  });
});

describe('configuration — values that would fail later instead of at start', () => {
  it('refuses a listen port above 65535, naming the key', () => {
    const problems = refusal(deepMerge(testConfigObject(t), { server: { listen: '0.0.0.0:65536' }, admin: { listen: '[::1]:99999' } }));
    assert.ok(problems.some((p) => p.startsWith('server.listen: ')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('admin.listen: ')), problems.join('\n'));
    assert.equal(runtimeConfig(t, deepMerge(testConfigObject(t), { server: { listen: '0.0.0.0:65535' } })).config.server.listen, '0.0.0.0:65535');
  });

  it('refuses a query or a fragment (even an empty one) in the base URLs', () => {
    // upstream-session appends sessionCheckPath to upstream.url, and the realm is publicBaseUrl: both would carry it.
    for (const [key, patch] of [
      ['server.publicBaseUrl', { server: { publicBaseUrl: 'https://jira.example.com/#' } }],
      ['server.publicBaseUrl', { server: { publicBaseUrl: 'https://jira.example.com/?x=1' } }],
      ['upstream.url', { upstream: { url: 'http://127.0.0.1:8081/?' } }],
      ['upstream.signatureBaseUrl', { upstream: { signatureBaseUrl: 'https://jira.example.com/jira#top' } }],
    ] as const) {
      const problems = refusal(deepMerge(testConfigObject(t), patch));
      assert.ok(problems.some((p) => p.startsWith(`${key}: `)), `${JSON.stringify(patch)}: ${problems.join('\n')}`);
    }
    const ok = runtimeConfig(t, deepMerge(testConfigObject(t), { server: { publicBaseUrl: 'https://jira.example.com/jira' } }));
    assert.equal(ok.publicBaseUrl.pathname, '/jira');
  });

  it('refuses a registered callback URL that the callback rule could never match, naming the entry', () => {
    // Such an entry used to load fine and then silently match nothing.
    const bad = [
      'http://app_a:8080/plugins/servlet/applinks/oauth/login-dance/access',
      'https://appa.example.com/a/../access',
      'https://appa.example.com/access#',
      'https://appa.example.com/a%2Faccess',
      'https://appa.example.com/access?oauth_token=x',
      'https://appa.example.com\\evil.example/access',
    ];
    for (const url of bad) {
      const obj = testConfigObject(t);
      (obj.links as Array<Record<string, unknown>>)[0]!.callbackUrls = ['oob', url];
      const problems = refusal(obj);
      assert.equal(problems.length, 1, `${url}: ${problems.join('\n')}`);
      assert.ok(problems[0]!.startsWith('links[0].callbackUrls[1]: '), `${url}: ${problems[0]}`);
    }
  });

  it('accepts callback URLs in any case and with default ports (the rule normalizes them)', () => {
    const obj = testConfigObject(t);
    (obj.links as Array<Record<string, unknown>>)[0]!.callbackUrls = ['HTTPS://AppA.Example.com:443/Access', 'http://127.0.0.1:8090/cb?applicationLinkID=x'];
    assert.equal(runtimeConfig(t, obj).links[0]?.callbackUrls.length, 2);
  });

  it('refuses token lifetimes whose expiry dates cannot be shown (the token pages would fail)', () => {
    for (const key of ['accessTokenTtlSeconds', 'authorizationTtlSeconds'] as const) {
      const problems = refusal(deepMerge(testConfigObject(t), { oauth: { [key]: 10_000_000_000_000 } }));
      assert.ok(problems.some((p) => p.startsWith(`oauth.${key}: `)), problems.join('\n'));
    }
  });

  it('refuses an authorization shorter than the access token it must cover', () => {
    const problems = refusal(deepMerge(testConfigObject(t), { oauth: { accessTokenTtlSeconds: 7200, authorizationTtlSeconds: 3600 } }));
    assert.ok(problems.some((p) => p.startsWith('oauth.authorizationTtlSeconds: ')), problems.join('\n'));
    const ok = runtimeConfig(t, deepMerge(testConfigObject(t), { oauth: { accessTokenTtlSeconds: 3600, authorizationTtlSeconds: 7200 } }));
    assert.equal(ok.config.oauth.authorizationTtlSeconds, 7200);
  });

  it('refuses configured user names a request could never carry (control characters, surrounding spaces)', () => {
    // A denyUsers entry " admin" would deny nobody; an executeAs with a control character breaks every 2LO request.
    const obj = testConfigObject(t);
    const links = obj.links as Array<Record<string, unknown>>;
    links[0]!.twoLegged = { enabled: true, executeAs: 'svc\u0007' };
    links[0]!.impersonation = { enabled: true, denyUsers: [' admin'], allowUsers: ['alice\n'] };
    const problems = refusal(obj);
    for (const key of ['links[0].twoLegged.executeAs', 'links[0].impersonation.denyUsers[0]', 'links[0].impersonation.allowUsers[0]']) {
      assert.ok(problems.some((p) => p.startsWith(`${key}: `)), `${key}: ${problems.join('\n')}`);
    }
    links[0]!.impersonation = { enabled: true, denyUsers: ['Jürgen Müller'], allowUsers: null };
    links[0]!.twoLegged = { enabled: true, executeAs: 'svc-appa' };
    // Folded (case and accents) as requestor names are compared.
    assert.ok(runtimeConfig(t, obj).links[0]?.denyUsersLower.has('jurgen muller'));
  });

  it('refuses an address list entry with more than one "/"', () => {
    const problems = refusal(deepMerge(testConfigObject(t), { server: { trustedProxies: ['10.0.0.0/8/16'] } }));
    assert.ok(problems.some((p) => p.startsWith('server.trustedProxies: ')), problems.join('\n'));
  });
});


describe('configuration — server.timeouts', () => {
  it('defaults: head 60 s, whole request off, keep-alive 65 s, body 30 s idle and 2 minutes in all', () => {
    const t0 = runtimeConfig(t, testConfigObject(t)).config.server.timeouts;
    assert.deepEqual(t0, { headersMs: 60_000, requestMs: 0, keepAliveMs: 65_000, bodyIdleMs: 30_000, bodyTotalMs: 120_000 });
  });

  it('bodyTotalMs follows bodyIdleMs unless set; server.bodyIdleTimeoutMs still sets the idle timeout', () => {
    const idle = runtimeConfig(t, deepMerge(testConfigObject(t), { server: { timeouts: { bodyIdleMs: 5000 } } })).config.server.timeouts;
    assert.equal(idle.bodyTotalMs, 20_000);
    const legacy = runtimeConfig(t, deepMerge(testConfigObject(t), { server: { bodyIdleTimeoutMs: 4000 } })).config.server.timeouts;
    assert.equal(legacy.bodyIdleMs, 4000);
    assert.equal(legacy.bodyTotalMs, 16_000);
    const both = runtimeConfig(t, deepMerge(testConfigObject(t), { server: { timeouts: { bodyIdleMs: 1000, bodyTotalMs: 9000 } } })).config.server.timeouts;
    assert.equal(both.bodyTotalMs, 9000);
  });

  it('refuses the old and the new idle key together, a total shorter than the idle timeout, and a request timeout shorter than the head one', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ bodyIdleTimeoutMs: 1000, timeouts: { bodyIdleMs: 2000 } }, 'server.bodyIdleTimeoutMs: '],
      [{ timeouts: { bodyIdleMs: 5000, bodyTotalMs: 1000 } }, 'server.timeouts.bodyTotalMs: '],
      [{ timeouts: { headersMs: 10_000, requestMs: 5000 } }, 'server.timeouts.requestMs: '],
      [{ timeouts: { headersMs: 50 } }, 'server.timeouts.headersMs: '],
      [{ timeouts: { idleMs: 50 } }, 'server.timeouts.idleMs: unknown key'],
    ];
    for (const [server, expected] of cases) {
      const problems = refusal(deepMerge(testConfigObject(t), { server }));
      assert.ok(problems.some((p) => p.startsWith(expected)), `${JSON.stringify(server)}: ${problems.join('\n')}`);
    }
  });
});
