// A gateway in front of the test AppB, in one identity mode, plus the AppA side: access tokens
// made through the store, requests signed by src/oauth1, by the oauth-1.0a package and by
// Python's requests-oauthlib, sent over raw sockets so the request-target stays byte-exact.
import { createHmac, createPrivateKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import OAuth from 'oauth-1.0a';
import { signRequest, type SignatureMethod } from '../../src/oauth1/index.js';
import { startGateway, type RunningGateway } from '../../src/server/serve.js';
import { createStore } from '../../src/store/index.js';
import { createLogger } from '../../src/ops/logger.js';
import type { RuntimeConfig } from '../../src/config/load.js';
import { LINK_ID, deepMerge, rsaPair, runtimeConfig, tempDir, testConfigObject } from '../helpers/fixtures.js';
import { testRedisUrl } from '../helpers/redis.js';
import { startedAll, type Resources } from '../helpers/cleanup.js';
import { PYTHON, startTestAppB, type AppBRequest, type TestAppB, type TestAppBOptions } from '../helpers/appb.js';

export type IdentityKind = 'oauth1-rsa' | 'oauth1-hmac' | 'header' | 'jwt' | 'jwt-eddsa';

export const PUBLIC_BASE = 'http://gateway.test';
export const GATEWAY_HMAC_SECRET = 'gateway-consumer-secret-for-appb';
export const APP_H_SECRET = 'hmac-secret-of-app-h';
export const APP_A_KEY: KeyObject = createPrivateKey(rsaPair(0).privatePem);

/** The two AppA links of the fixtures: app-a signs RSA-SHA1, app-h HMAC-SHA1. */
export const LINKS = {
  rsa: { consumerKey: 'app-a', linkId: LINK_ID, method: 'RSA-SHA1' as const },
  hmac: { consumerKey: 'app-h', linkId: 'link-hmac', method: 'HMAC-SHA1' as const },
};
export type LinkKind = keyof typeof LINKS;

let eddsa: { privatePem: string; publicPem: string } | null = null;
function eddsaPair() {
  if (!eddsa) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    eddsa = { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
  }
  return eddsa;
}

export interface HarnessOptions {
  identity: IdentityKind;
  /** Redis (default) or the memory store. */
  store?: 'redis' | 'memory';
  /** Deep-merged into the gateway configuration. */
  patch?: Record<string, unknown>;
  /** upstream.url path (e.g. '/jira'), appended to AppB's loopback URL. */
  upstreamPath?: string;
  /** What AppB knows of the gateway is wrong (it refuses the gateway's signatures). */
  appbDistrustsGateway?: boolean;
  /** Extra consumers AppB knows (its own application links). */
  appbConsumers?: TestAppBOptions['consumers'];
  /** Gateway upstream.url override (e.g. a closed port). */
  upstreamUrl?: string;
  /** The token store's clock (expiry tests move it forward). */
  storeNow?: () => number;
  /** Merged into the app-a (rsa) and app-h (hmac) links. */
  linkPatch?: Partial<Record<LinkKind, Record<string, unknown>>>;
  /** Use this Redis instead of the shared test Redis. */
  redisUrl?: string;
}

export interface Harness {
  appb: TestAppB;
  running: RunningGateway;
  cfg: RuntimeConfig;
  url: string;
  adminUrl: string;
  headerSecret: string;
  /** Every log line the gateway wrote (JSON objects). */
  logs: Array<Record<string, unknown>>;
  /** A 3LO access token for `user` of the link, made through the store (request → approve → exchange). */
  accessToken(link: LinkKind, user: string): Promise<{ token: string; secret: string; handle: string }>;
  close(): Promise<void>;
}

export function startHarness(opts: HarnessOptions): Promise<Harness> {
  // A failure half-way closes what was started: a test AppB left running would hang the test process.
  return startedAll((res) => startHarnessWith(res, opts));
}

async function startHarnessWith(res: Resources, opts: HarnessOptions): Promise<Harness> {
  const t = tempDir('applink-proxy-');
  res.defer(() => t.cleanup());
  const gatewayKey = rsaPair(1);
  t.write('gateway-hmac.secret', `${GATEWAY_HMAC_SECRET}\n`);
  t.write('jwt-eddsa.pem', eddsaPair().privatePem);
  const identity: Record<IdentityKind, Record<string, unknown>> = {
    'oauth1-rsa': { mode: 'oauth1', consumerKey: 'applink-gateway', signatureMethod: 'RSA-SHA1', privateKeyFile: 'gateway.pem' },
    'oauth1-hmac': { mode: 'oauth1', consumerKey: 'applink-gateway', signatureMethod: 'HMAC-SHA1', sharedSecretFile: 'gateway-hmac.secret' },
    header: { mode: 'header', sharedSecretFile: 'header.secret' },
    jwt: { mode: 'jwt', privateKeyFile: 'gateway.pem', audience: 'https://appb.internal', issuer: 'https://gateway.test' },
    'jwt-eddsa': { mode: 'jwt', privateKeyFile: 'jwt-eddsa.pem', audience: 'https://appb.internal', issuer: 'https://gateway.test' },
  };
  const redisUrl = opts.store === 'memory' ? undefined : (opts.redisUrl ?? (await testRedisUrl()));
  // testConfigObject writes the key files (header.secret among them) into t.
  const base = testConfigObject(t, { redisUrl, publicBaseUrl: PUBLIC_BASE });
  const headerSecret = readFileSync(path.join(t.dir, 'header.secret'), 'utf8').trim();

  const distrust = opts.appbDistrustsGateway ?? false;
  const appb = res.add(await startTestAppB({
    consumers: {
      'applink-gateway': distrust
        ? { rsaPublicKeyPem: rsaPair(0).publicPem, hmacSecret: 'not-the-gateway-secret', impersonation: true }
        : { rsaPublicKeyPem: gatewayKey.publicPem, hmacSecret: GATEWAY_HMAC_SECRET, impersonation: true },
      ...opts.appbConsumers,
    },
    header: { secret: distrust ? 'not-the-header-secret-at-all' : headerSecret },
    jwt: {
      publicKeyPem: opts.identity === 'jwt-eddsa' ? eddsaPair().publicPem : distrust ? rsaPair(0).publicPem : gatewayKey.publicPem,
      algorithm: opts.identity === 'jwt-eddsa' ? 'EdDSA' : 'RS256',
      audience: 'https://appb.internal',
      issuer: 'https://gateway.test',
    },
  }), (a) => a.stop());

  const cfgObject = deepMerge(base, {
    upstream: { url: opts.upstreamUrl ?? `${appb.url}${opts.upstreamPath ?? ''}`, identity: identity[opts.identity], timeoutMs: 5000 },
    logging: { level: 'silent' },
    links: [
      deepMerge({ ...(base.links as Array<Record<string, unknown>>)[0] }, opts.linkPatch?.rsa ?? {}),
      deepMerge({ ...(base.links as Array<Record<string, unknown>>)[1], twoLegged: { enabled: true, executeAs: 'svc-apph' } }, opts.linkPatch?.hmac ?? {}),
    ],
  });
  // Replaced, not merged: the fixture's oauth1 keys would not belong in another mode.
  (cfgObject.upstream as Record<string, unknown>).identity = identity[opts.identity];
  const cfg = runtimeConfig(t, deepMerge(cfgObject, opts.patch ?? {}), { REDIS_URL: redisUrl ?? '' });
  const logs: Array<Record<string, unknown>> = [];
  const destination = { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) };
  const log = createLogger({ level: 'info', destination });
  const redisCfg = cfg.config.store.redis;
  const store = opts.storeNow
    ? res.add(
        createStore({
          redis: redisCfg ? { url: redisCfg.url, keyPrefix: redisCfg.keyPrefix, encryptionKeys: cfg.encryptionKeys ?? [], commandTimeoutMs: redisCfg.commandTimeoutMs, waitTimeoutMs: redisCfg.waitTimeoutMs } : null,
          now: opts.storeNow,
        }),
        (st) => st.close(),
      )
    : undefined;
  const running = res.add(await startGateway({ cfg, log, defaultMetrics: false, ...(store && { store }) }), (r) => r.close());

  return {
    appb,
    running,
    cfg,
    url: running.publicUrl,
    adminUrl: running.adminUrl,
    headerSecret,
    logs,
    async accessToken(link, user) {
      const { consumerKey, linkId } = LINKS[link];
      const store = running.gw.store;
      const rt = await store.createRequestToken({ linkId, consumerKey, callback: 'oob', version: '1.0a', ttlSeconds: 600 });
      const approved = await store.approveRequestToken(rt.token, user);
      if (!approved.ok) throw new Error(`approve failed: ${approved.reason}`);
      const ex = await store.exchangeRequestToken(rt.token, { consumerKey, verifier: approved.token.verifier, accessTtlSeconds: 3600 });
      if (!ex.ok) throw new Error(`exchange failed: ${ex.reason}`);
      return { token: ex.access.token, secret: ex.access.secret, handle: ex.access.handle };
    },
    // Gateway, store, test AppB, temporary directory: each closed even when one fails.
    close: () => res.close(),
  };
}

export interface Sent {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  text: string;
  /** AppB's JSON answer (what it received and the user it ran as). */
  appb(): AppBRequest;
}

export interface SendOptions {
  method?: string;
  /** Raw request-target: sent byte for byte. */
  target: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string | AsyncIterable<Buffer>;
}

/** Sends one request over a fresh socket with the request-target exactly as given. */
export function send(baseUrl: string, o: SendOptions): Promise<Sent> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method: o.method ?? 'GET', path: o.target, headers: o.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body,
          text,
          appb() {
            return JSON.parse(text) as AppBRequest;
          },
        });
      });
    });
    req.on('error', reject);
    const body = o.body;
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else {
      void (async () => {
        for await (const chunk of body) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        req.end();
      })().catch(reject);
    }
  });
}

export interface SignOptions {
  link: LinkKind;
  method: string;
  /** Path and query as the client requests them (the public URL is PUBLIC_BASE + this). */
  target: string;
  token?: { token: string; secret: string };
  /** Send oauth_token="" (Atlassian 2LO); default: omit it when there is no token (oauthlib 2LO). */
  emptyToken?: boolean;
  formPairs?: Array<[string, string]>;
  timestamp?: number;
  nonce?: string;
  extraOAuth?: Record<string, string>;
}

/** Authorization header signed by the gateway's own src/oauth1 signer (AppA's side). */
export async function signWithGatewaySigner(o: SignOptions): Promise<string> {
  const l = LINKS[o.link];
  const signed = await signRequest({
    method: o.method,
    url: `${PUBLIC_BASE}${o.target}`,
    bodyPairs: o.formPairs,
    consumerKey: l.consumerKey,
    signatureMethod: l.method as SignatureMethod,
    ...(l.method === 'RSA-SHA1' ? { privateKey: APP_A_KEY } : { consumerSecret: APP_H_SECRET }),
    ...(o.token ? { token: o.token.token, tokenSecret: o.token.secret } : o.emptyToken ? { token: '' } : {}),
    ...(o.timestamp !== undefined && { timestamp: o.timestamp }),
    ...(o.nonce !== undefined && { nonce: o.nonce }),
    ...(o.extraOAuth && { extraOAuth: o.extraOAuth }),
  });
  return signed.authorization;
}

/** Authorization header signed by the oauth-1.0a npm package (an independent implementation). */
export function signWithOAuth10a(o: SignOptions): string {
  const l = LINKS[o.link];
  const oauth = new OAuth({
    consumer: { key: l.consumerKey, secret: l.method === 'HMAC-SHA1' ? APP_H_SECRET : '' },
    signature_method: l.method,
    hash_function(base, key) {
      if (l.method === 'HMAC-SHA1') return createHmac('sha1', key).update(base).digest('base64');
      return cryptoSign('sha1', Buffer.from(base), APP_A_KEY).toString('base64');
    },
  });
  const data: Record<string, string> = {};
  for (const [k, v] of o.formPairs ?? []) data[k] = v;
  const token = o.token ? { key: o.token.token, secret: o.token.secret } : o.emptyToken ? { key: '', secret: '' } : undefined;
  const authorized = oauth.authorize({ url: `${PUBLIC_BASE}${o.target}`, method: o.method, data }, token);
  return oauth.toHeader(authorized).Authorization;
}

export interface PythonClientRequest {
  link: LinkKind;
  method: string;
  target: string;
  token?: { token: string; secret: string };
  /** Form body pairs (sent application/x-www-form-urlencoded, signed). */
  formPairs?: Array<[string, string]>;
  /** Where oauthlib puts the OAuth parameters. */
  signatureType?: 'AUTH_HEADER' | 'QUERY' | 'BODY';
}

/**
 * Signs and sends a request with Python's requests-oauthlib, through the gateway used as an
 * HTTP proxy (so the client signs the public URL and sends it in absolute-form).
 */
export function sendWithRequestsOAuthlib(gatewayUrl: string, r: PythonClientRequest): Promise<{ status: number; text: string; wwwAuthenticate: string | null }> {
  const l = LINKS[r.link];
  const script = `
import json, sys, requests
from requests_oauthlib import OAuth1
from oauthlib.oauth1 import SIGNATURE_RSA, SIGNATURE_HMAC, SIGNATURE_TYPE_AUTH_HEADER, SIGNATURE_TYPE_QUERY, SIGNATURE_TYPE_BODY
a = json.load(sys.stdin)
kw = dict(client_key=a['consumerKey'], signature_type={'AUTH_HEADER': SIGNATURE_TYPE_AUTH_HEADER, 'QUERY': SIGNATURE_TYPE_QUERY, 'BODY': SIGNATURE_TYPE_BODY}[a['signatureType']])
if a['method'] == 'RSA-SHA1':
    kw.update(signature_method=SIGNATURE_RSA, rsa_key=a['rsaKey'])
else:
    kw.update(signature_method=SIGNATURE_HMAC, client_secret=a['secret'])
if a.get('token'):
    kw.update(resource_owner_key=a['token'], resource_owner_secret=a['tokenSecret'])
auth = OAuth1(**kw)
data = a.get('form')
headers = {'Content-Type': 'application/x-www-form-urlencoded'} if data is not None else {}
resp = requests.request(a['httpMethod'], a['url'], data=data, headers=headers, auth=auth, proxies={'http': a['proxy']}, timeout=20)
print(json.dumps({'status': resp.status_code, 'text': resp.text, 'wwwAuthenticate': resp.headers.get('WWW-Authenticate')}))
`;
  const input = JSON.stringify({
    consumerKey: l.consumerKey,
    method: l.method,
    rsaKey: rsaPair(0).privatePem,
    secret: APP_H_SECRET,
    token: r.token?.token,
    tokenSecret: r.token?.secret,
    httpMethod: r.method,
    url: `${PUBLIC_BASE}${r.target}`,
    form: r.formPairs ?? null,
    signatureType: r.signatureType ?? 'AUTH_HEADER',
    proxy: gatewayUrl,
  });
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`requests-oauthlib client failed (${code}): ${err}`));
      else resolve(JSON.parse(out) as { status: number; text: string; wwwAuthenticate: string | null });
    });
    child.stdin.end(input);
  });
}

/** The form-encoded OAuth problem of a refusal: {oauth_problem, ...}. */
export function problemOf(s: Sent): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(s.text));
}

/** Sends raw bytes over one socket and resolves with everything read until the server closes it. */
export function rawExchange(baseUrl: string, data: string): Promise<string> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port), u.hostname);
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(out));
    socket.write(data);
  });
}

/**
 * A slow client: sends `head`, then one byte of `drip` (cycled) every `gapMs`, at most `maxBytes`,
 * until the server answers or closes. `stillSending`: it had not run out of bytes when the answer came.
 */
export function trickle(baseUrl: string, head: string, drip: string, gapMs: number, maxBytes: number): Promise<{ answer: string; sent: number; stillSending: boolean }> {
  const u = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(u.port), u.hostname);
    let answer = '';
    let sent = 0;
    let stillSendingAtAnswer: boolean | null = null;
    let timer: NodeJS.Timeout | undefined;
    const next = () => {
      if (answer !== '' || socket.destroyed || sent >= maxBytes) return;
      socket.write(drip[sent % drip.length] as string);
      sent++;
      timer = setTimeout(next, gapMs);
    };
    socket.on('data', (d: Buffer) => {
      if (stillSendingAtAnswer === null) stillSendingAtAnswer = sent < maxBytes;
      answer += d.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, sent, stillSending: stillSendingAtAnswer ?? false });
    });
    socket.write(head);
    timer = setTimeout(next, gapMs);
  });
}
