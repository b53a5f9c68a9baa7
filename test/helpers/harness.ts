// The one gateway harness: the real startGateway on port 0, with the fixture's configuration
// (test/helpers/fixtures.ts), the token store on the test Redis (REDIS_URL) or in memory, and
// what the test needs around it: the test AppB (Python, verifying) as the upstream in one identity
// mode, a callback server standing in for AppA, a store clock the test can move, and the log.
// Proxy tests take the defaults; the dance tests pass DANCE. The clients: ./clients.ts.
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startGateway, type RunningGateway } from '../../src/server/serve.js';
import { createStore } from '../../src/store/index.js';
import type { TokenStore } from '../../src/store/types.js';
import { createLogger } from '../../src/ops/logger.js';
import type { RuntimeConfig } from '../../src/config/load.js';
import { ACCESS_PATH, GATEWAY_HMAC_SECRET, JWT_AUDIENCE, JWT_ISSUER, LINKS, PUBLIC_BASE, deepMerge, rsaPair, runtimeConfig, tempDir, testConfigObject, type LinkKind } from './fixtures.js';
import { testRedisUrl } from './redis.js';
import { startedAll, type Resources } from './cleanup.js';
import { startTestAppB, type TestAppB, type TestAppBOptions } from './appb.js';

export type IdentityKind = 'oauth1-rsa' | 'oauth1-hmac' | 'header' | 'jwt' | 'jwt-eddsa';

let eddsa: { privatePem: string; publicPem: string } | null = null;
function eddsaPair() {
  if (!eddsa) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    eddsa = { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  }
  return eddsa;
}

export interface HarnessOptions {
  /** The upstream identity mode (default oauth1-rsa, the fixture's). */
  identity?: IdentityKind;
  /** Redis (default) or the memory store. */
  store?: 'redis' | 'memory';
  /** Use this Redis instead of the shared test Redis. */
  redisUrl?: string;
  /** Start the test AppB (Python, verifying) as the upstream (default true). */
  appb?: boolean;
  /** What AppB knows of the gateway is wrong (it refuses the gateway's signatures). */
  appbDistrustsGateway?: boolean;
  /** Extra consumers AppB knows (its own application links). */
  appbConsumers?: TestAppBOptions['consumers'];
  /** upstream.url path (e.g. '/jira'), appended to AppB's loopback URL. */
  upstreamPath?: string;
  /** Gateway upstream.url override (e.g. a closed port, or another AppB). */
  upstreamUrl?: string;
  /** Start a server standing in for AppA's callback endpoint; app-a's and app-h's callbacks point at it. */
  callbackServer?: boolean;
  /**
   * server.publicBaseUrl: PUBLIC_BASE (default, clients sign http://gateway.test/…), or the address
   * the gateway listens on (clients that sign the URL they connect to).
   */
  publicBaseUrl?: 'fixture' | 'listening';
  /** The harness builds the token store, with a clock advance() moves (default: the gateway builds it). */
  movableClock?: boolean;
  /** Level of the captured log (default info). */
  logLevel?: 'info' | 'debug';
  /** Merged into the app-a (rsa) and app-h (hmac) links. */
  linkPatch?: Partial<Record<LinkKind, Record<string, unknown>>>;
  /** Deep-merged into the gateway configuration (arrays and objects below a non-object replaced). */
  patch?: Record<string, unknown>;
  /** Edits the configuration object last (links[0] = app-a RSA, links[1] = app-h HMAC); also on reconfigure. */
  edit?: (obj: Record<string, unknown>, ctx: { callbackUrl: string }) => void;
}

/** The dance tests' harness: no AppB, a callback server, the listening address as public URL, a movable clock, debug logs. */
export const DANCE = { appb: false, callbackServer: true, publicBaseUrl: 'listening', movableClock: true, logLevel: 'debug' } as const satisfies HarnessOptions;

export interface CallbackServer {
  url: string;
  hits: URL[];
  close(): Promise<void>;
}

export interface Harness {
  /** The test AppB (throws when the harness started none). */
  appb: TestAppB;
  running: RunningGateway;
  /** The live configuration. */
  cfg: RuntimeConfig;
  store: TokenStore;
  url: string;
  adminUrl: string;
  headerSecret: string;
  /** Every log line the gateway wrote (JSON objects), as it writes them. */
  logs: Array<Record<string, unknown>>;
  /** Every log line written, as text (to check that no secret is ever logged). */
  logText(): string;
  /** The callback server (throws when the harness started none). */
  callback: CallbackServer;
  /** app-a's registered callback (on the callback server). */
  appACallback: string;
  /** app-h's registered callback. */
  appHCallback: string;
  /** Moves the store's clock (movableClock) forward, or back with a negative `ms`. */
  advance(ms: number): void;
  /** Replaces the configuration, as a live reload would (built afresh, `edit` applied after the options'). */
  reconfigure(edit: (obj: Record<string, unknown>) => void): void;
  /** A 3LO access token for `user` of the link, made through the store (request → approve → exchange). */
  accessToken(link: LinkKind, user: string): Promise<{ token: string; secret: string; handle: string }>;
  close(): Promise<void>;
}

type LinkObj = Record<string, unknown>;
export function linksOf(obj: Record<string, unknown>): LinkObj[] {
  return obj.links as LinkObj[];
}

/** A server standing in for AppA's callback endpoint: records every request it gets. */
export async function startCallbackServer(): Promise<CallbackServer> {
  const hits: URL[] = [];
  const server = http.createServer((req, res) => {
    hits.push(new URL(req.url ?? '/', 'http://callback.invalid'));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>AppA</title><h1>Back at AppA</h1>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  // A failure half-way closes what was started: a test AppB or server left running would hang the test process.
  return startedAll((res) => startHarnessWith(res, opts));
}

function missing(what: string): never {
  throw new Error(`this harness started no ${what}`);
}

async function startHarnessWith(res: Resources, opts: HarnessOptions): Promise<Harness> {
  const t = tempDir('applink-harness-');
  res.defer(() => t.cleanup());
  const identityKind = opts.identity ?? 'oauth1-rsa';
  const gatewayKey = rsaPair(1);
  t.write('gateway-hmac.secret', `${GATEWAY_HMAC_SECRET}\n`);
  t.write('jwt-eddsa.pem', eddsaPair().privatePem);
  const identities: Record<IdentityKind, Record<string, unknown>> = {
    'oauth1-rsa': { mode: 'oauth1', consumerKey: 'applink-gateway', signatureMethod: 'RSA-SHA1', privateKeyFile: 'gateway.pem' },
    'oauth1-hmac': { mode: 'oauth1', consumerKey: 'applink-gateway', signatureMethod: 'HMAC-SHA1', sharedSecretFile: 'gateway-hmac.secret' },
    header: { mode: 'header', sharedSecretFile: 'header.secret' },
    jwt: { mode: 'jwt', privateKeyFile: 'gateway.pem', audience: JWT_AUDIENCE, issuer: JWT_ISSUER },
    'jwt-eddsa': { mode: 'jwt', privateKeyFile: 'jwt-eddsa.pem', audience: JWT_AUDIENCE, issuer: JWT_ISSUER },
  };
  const identity = identities[identityKind];
  const redisUrl = opts.store === 'memory' ? undefined : (opts.redisUrl ?? (await testRedisUrl()));
  const logLevel = opts.logLevel ?? 'info';
  // Written once (key files, header.secret among them, into t); every configuration is built from a copy.
  const base = testConfigObject(t, { redisUrl, publicBaseUrl: PUBLIC_BASE, patch: { logging: { level: logLevel } } });
  const headerSecret = readFileSync(path.join(t.dir, 'header.secret'), 'utf8').trim();

  let appb: TestAppB | undefined;
  if (opts.appb ?? true) {
    const distrust = opts.appbDistrustsGateway ?? false;
    appb = res.add(
      await startTestAppB({
        consumers: {
          'applink-gateway': distrust
            ? { rsaPublicKeyPem: rsaPair(0).publicPem, hmacSecret: 'not-the-gateway-secret', impersonation: true }
            : { rsaPublicKeyPem: gatewayKey.publicPem, hmacSecret: GATEWAY_HMAC_SECRET, impersonation: true },
          ...opts.appbConsumers,
        },
        header: { secret: distrust ? 'not-the-header-secret-at-all' : headerSecret },
        jwt: {
          publicKeyPem: identityKind === 'jwt-eddsa' ? eddsaPair().publicPem : distrust ? rsaPair(0).publicPem : gatewayKey.publicPem,
          algorithm: identityKind === 'jwt-eddsa' ? 'EdDSA' : 'RS256',
          audience: JWT_AUDIENCE,
          issuer: JWT_ISSUER,
        },
      }),
      (a) => a.stop(),
    );
  }
  const callback = opts.callbackServer ? res.add(await startCallbackServer(), (c) => c.close()) : undefined;
  const appACallback = callback ? `${callback.url}${ACCESS_PATH}` : 'https://appa.example.com' + ACCESS_PATH;
  const appHCallback = callback ? `${callback.url}/callback` : 'http://apph.example.com/callback';
  const upstreamUrl = opts.upstreamUrl ?? (appb ? `${appb.url}${opts.upstreamPath ?? ''}` : (base.upstream as { url: string }).url);

  const build = (publicBaseUrl: string, extra?: (obj: Record<string, unknown>) => void): RuntimeConfig => {
    const copy = structuredClone(base);
    const [a, h] = linksOf(copy) as [LinkObj, LinkObj];
    let obj = deepMerge(copy, {
      server: { publicBaseUrl },
      upstream: { url: upstreamUrl, timeoutMs: 5000 },
      links: [deepMerge(a, opts.linkPatch?.rsa ?? {}), deepMerge({ ...h, twoLegged: { enabled: true, executeAs: 'svc-apph' } }, opts.linkPatch?.hmac ?? {})],
    });
    // Replaced, not merged: the fixture's oauth1 keys would not belong in another mode.
    (obj.upstream as Record<string, unknown>).identity = identity;
    if (callback) {
      const [la, lh] = linksOf(obj);
      la!.callbackUrls = [appACallback, 'oob'];
      lh!.callbackUrls = [appHCallback];
    }
    obj = deepMerge(obj, opts.patch ?? {});
    opts.edit?.(obj, { callbackUrl: callback?.url ?? '' });
    extra?.(obj);
    return runtimeConfig(t, obj, { REDIS_URL: redisUrl ?? '' });
  };

  const listening = opts.publicBaseUrl === 'listening';
  const first = build(PUBLIC_BASE);
  const lines: string[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const destination = {
    write(s: string) {
      lines.push(s);
      for (const l of s.split('\n')) if (l.trim()) logs.push(JSON.parse(l) as Record<string, unknown>);
    },
  };
  const log = createLogger({ level: logLevel, destination });
  let offset = 0;
  const redisCfg = first.config.store.redis;
  const store = opts.movableClock
    ? res.add(
        createStore({
          redis: redisCfg ? { url: redisCfg.url, keyPrefix: redisCfg.keyPrefix, encryptionKeys: first.encryptionKeys ?? [], commandTimeoutMs: redisCfg.commandTimeoutMs, waitTimeoutMs: redisCfg.waitTimeoutMs } : null,
          now: () => Date.now() + offset,
        }),
        (st) => st.close(),
      )
    : undefined;
  const running = res.add(await startGateway({ cfg: first, log, defaultMetrics: false, ...(store && { store }) }), (r) => r.close());
  // Clients that sign the URL they connect to need the real one as the public base URL.
  const publicBaseUrl = listening ? running.publicUrl : PUBLIC_BASE;
  if (listening) running.gw.setCfg(build(publicBaseUrl));

  return {
    get appb() {
      return appb ?? missing('test AppB');
    },
    running,
    get cfg() {
      return running.gw.cfg();
    },
    get store() {
      return running.gw.store;
    },
    url: running.publicUrl,
    adminUrl: running.adminUrl,
    headerSecret,
    logs,
    logText: () => lines.join(''),
    get callback() {
      return callback ?? missing('callback server');
    },
    appACallback,
    appHCallback,
    advance(ms) {
      if (!store) missing('movable clock');
      offset += ms;
    },
    reconfigure(edit) {
      running.gw.setCfg(build(publicBaseUrl, edit));
    },
    async accessToken(link, user) {
      const { consumerKey, linkId } = LINKS[link];
      const st = running.gw.store;
      const rt = await st.createRequestToken({ linkId, consumerKey, callback: 'oob', version: '1.0a', ttlSeconds: 600 });
      const approved = await st.approveRequestToken(rt.token, user);
      if (!approved.ok) throw new Error(`approve failed: ${approved.reason}`);
      const ex = await st.exchangeRequestToken(rt.token, { consumerKey, verifier: approved.token.verifier, accessTtlSeconds: 3600 });
      if (!ex.ok) throw new Error(`exchange failed: ${ex.reason}`);
      return { token: ex.access.token, secret: ex.access.secret, handle: ex.access.handle };
    },
    // Gateway, store, test AppB, callback server, temporary directory: each closed even when one fails.
    close: () => res.close(),
  };
}
