// Test harness for the dance: a real gateway on port 0 (Redis or memory store, a clock the test
// can move), a callback server standing in for AppA, a cookie-keeping HTTP "browser", and two
// independent consumer implementations (oauth-1.0a and the `oauth` package).
import { startedAll, type Resources } from '../helpers/cleanup.js';
import http from 'node:http';
import { createHmac, createSign } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import OAuth10a from 'oauth-1.0a';
import { OAuth as NpmOAuth } from 'oauth';
import { startGateway, type RunningGateway } from '../../src/server/serve.js';
import { createLogger } from '../../src/ops/logger.js';
import { createStore } from '../../src/store/index.js';
import type { TokenStore } from '../../src/store/types.js';
import type { RuntimeConfig } from '../../src/config/load.js';
import { rsaPair, runtimeConfig, tempDir, testConfigObject, LINK_ID } from '../helpers/fixtures.js';
import { TEST_REDIS_TIMINGS, testKeyPrefix, testRedisUrl } from '../helpers/redis.js';

export { LINK_ID };
export const HMAC_LINK_ID = 'link-hmac';
export const HMAC_SECRET = 'hmac-secret-of-app-h';
export const ACCESS_PATH = '/plugins/servlet/applinks/oauth/login-dance/access';

// ---------------------------------------------------------------------------------------------
// A server standing in for AppA's callback endpoint: records every request it gets.

export interface CallbackServer {
  url: string;
  hits: URL[];
  close(): Promise<void>;
}

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

// ---------------------------------------------------------------------------------------------
// The gateway under test.

export interface Harness {
  url: string;
  running: RunningGateway;
  store: TokenStore;
  cfg(): RuntimeConfig;
  callback: CallbackServer;
  /** app-a's registered callback (on the callback server). */
  appACallback: string;
  /** app-h's registered callback. */
  appHCallback: string;
  /** Moves the gateway's and the store's clock forward. */
  advance(ms: number): void;
  /** Every log line written, as text (to check that no secret is ever logged). */
  logText(): string;
  logLines(): Array<Record<string, unknown>>;
  /** Replaces the configuration, as a live reload would (the patch is applied to a fresh copy). */
  reconfigure(patch: (obj: Record<string, unknown>) => void): void;
  close(): Promise<void>;
}

export interface HarnessOptions {
  store: 'redis' | 'memory';
  /** Edits the configuration object (links[0] = app-a RSA, links[1] = app-h HMAC). */
  patch?: (obj: Record<string, unknown>, ctx: { callbackUrl: string }) => void;
}

type LinkObj = Record<string, unknown>;
export function linksOf(obj: Record<string, unknown>): LinkObj[] {
  return obj.links as LinkObj[];
}

export function startHarness(opts: HarnessOptions): Promise<Harness> {
  // A failure half-way closes what was started: a callback server left open would hang the test process.
  return startedAll((res) => startHarnessWith(res, opts));
}

async function startHarnessWith(res: Resources, opts: HarnessOptions): Promise<Harness> {
  const t = tempDir('applink-dance-');
  res.defer(() => t.cleanup());
  const callback = res.add(await startCallbackServer(), (c) => c.close());
  const redisUrl = opts.store === 'redis' ? await testRedisUrl() : undefined;
  const appACallback = `${callback.url}${ACCESS_PATH}`;
  const appHCallback = `${callback.url}/callback`;
  const build = (publicBaseUrl: string, extra?: (obj: Record<string, unknown>) => void): RuntimeConfig => {
    const obj = testConfigObject(t, { redisUrl, publicBaseUrl, patch: { logging: { level: 'debug' } } }) as Record<string, unknown>;
    const [a, h] = linksOf(obj);
    a!.callbackUrls = [appACallback, 'oob'];
    h!.callbackUrls = [appHCallback];
    opts.patch?.(obj, { callbackUrl: callback.url });
    extra?.(obj);
    return runtimeConfig(t, obj, {});
  };
  const first = build('http://gateway.test');
  let offset = 0;
  const now = () => Date.now() + offset;
  const store = res.add(
    createStore({
      redis: redisUrl ? { url: redisUrl, keyPrefix: testKeyPrefix(), encryptionKeys: first.encryptionKeys ?? [], ...TEST_REDIS_TIMINGS } : null,
      now,
    }),
    (st) => st.close(),
  );
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } });
  const running = res.add(await startGateway({ cfg: first, store, log, listen: '127.0.0.1:0', adminListen: '127.0.0.1:0', defaultMetrics: false }), (r) => r.close());
  // Clients sign the URL they connect to, so the public base URL must be the real one.
  let publicBaseUrl = running.publicUrl;
  running.gw.setCfg(build(publicBaseUrl));
  return {
    url: running.publicUrl,
    running,
    store,
    cfg: () => running.gw.cfg(),
    callback,
    appACallback,
    appHCallback,
    advance(ms) {
      offset += ms;
    },
    logText: () => lines.join(''),
    logLines: () => lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    reconfigure(patch) {
      publicBaseUrl = running.publicUrl;
      running.gw.setCfg(build(publicBaseUrl, patch));
    },
    // Gateway, store, callback server, temporary directory: each closed even when one fails.
    close: () => res.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// A cookie-keeping HTTP client that behaves like a browser for forms and redirects.

export interface Page {
  status: number;
  headers: Headers;
  text: string;
  location: string | null;
}

export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  private remember(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(method: string, pathOrUrl: string, form?: Record<string, string> | Array<[string, string]>, headers: Record<string, string> = {}): Promise<Page> {
    const url = pathOrUrl.startsWith('http') ? pathOrUrl : this.base + pathOrUrl;
    const h: Record<string, string> = { ...headers };
    if (this.cookies.size > 0) h.cookie = this.cookieHeader();
    let body: string | undefined;
    if (form) {
      body = new URLSearchParams(Array.isArray(form) ? form : Object.entries(form)).toString();
      h['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(url, { method, headers: h, body, redirect: 'manual' });
    this.remember(res);
    return { status: res.status, headers: res.headers, text: await res.text(), location: res.headers.get('location') };
  }

  get(path: string): Promise<Page> {
    return this.request('GET', path);
  }

  post(path: string, form: Record<string, string> | Array<[string, string]>): Promise<Page> {
    return this.request('POST', path, form);
  }
}

/** The value of the hidden/visible input `name` in an HTML page (first match). */
export function inputValue(htmlText: string, name: string): string | undefined {
  const re = new RegExp(`<input[^>]*name="${name}"[^>]*>`);
  const tag = re.exec(htmlText)?.[0];
  const value = tag && /value="([^"]*)"/.exec(tag)?.[1];
  return value === undefined ? undefined : value.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>');
}

/** Signs in on the demo sign-in page, as a person would. */
export async function demoLogin(browser: Browser, user = 'alice', password = `${user}-pw`, returnPath = '/plugins/servlet/oauth/users/access-tokens'): Promise<Page> {
  const form = await browser.get(`/plugins/servlet/applink-gateway/login?return=${encodeURIComponent(returnPath)}`);
  if (form.status !== 200) throw new Error(`login page answered ${form.status}`);
  return browser.post('/plugins/servlet/applink-gateway/login', {
    return: inputValue(form.text, 'return') ?? '',
    atl_token: inputValue(form.text, 'atl_token') ?? '',
    username: user,
    password,
  });
}

/** Opens the approval page of `token` and presses Allow or Deny; returns the POST's answer. */
export async function decide(browser: Browser, token: string, choice: 'approve' | 'deny' = 'approve', tamper?: (fields: Array<[string, string]>) => Array<[string, string]>): Promise<Page> {
  const page = await browser.get(`/plugins/servlet/oauth/authorize?oauth_token=${encodeURIComponent(token)}`);
  if (page.status !== 200) throw new Error(`approval page answered ${page.status}: ${page.text}`);
  let fields: Array<[string, string]> = [
    ['oauth_token', inputValue(page.text, 'oauth_token') ?? ''],
    ['oauth_callback', inputValue(page.text, 'oauth_callback') ?? ''],
    ['atl_token', inputValue(page.text, 'atl_token') ?? ''],
    [choice, choice === 'approve' ? 'Allow' : 'Deny'],
  ];
  if (tamper) fields = tamper(fields);
  return browser.post('/plugins/servlet/oauth/authorize', fields);
}

// ---------------------------------------------------------------------------------------------
// Consumer 1: the `oauth` npm package (an independent implementation), header placement.

export interface TokenPair {
  token: string;
  secret: string;
  extra: Record<string, string>;
}

export interface NpmError {
  statusCode: number;
  data?: string;
}

export function npmConsumer(h: Harness, which: 'rsa' | 'hmac', callback: string | null) {
  const key = which === 'rsa' ? 'app-a' : 'app-h';
  const secret = which === 'rsa' ? rsaPair(0).privatePem : HMAC_SECRET;
  const client = new NpmOAuth(
    `${h.url}/plugins/servlet/oauth/request-token`,
    `${h.url}/plugins/servlet/oauth/access-token`,
    key,
    secret,
    // '1.0': the package would send its version string as oauth_version, and DESIGN.md section 3 refuses "1.0A".
    '1.0',
    callback,
    which === 'rsa' ? 'RSA-SHA1' : 'HMAC-SHA1',
  );
  const requestToken = (): Promise<TokenPair> =>
    new Promise((resolve, reject) =>
      client.getOAuthRequestToken((err, token, tokenSecret, extra) => (err ? reject(err) : resolve({ token, secret: tokenSecret, extra: extra as Record<string, string> }))),
    );
  const accessToken = (token: string, tokenSecret: string, verifier?: string): Promise<TokenPair> =>
    new Promise((resolve, reject) => {
      const done = (err: unknown, t: string, s: string, extra: unknown) => (err ? reject(err) : resolve({ token: t, secret: s, extra: extra as Record<string, string> }));
      if (verifier === undefined) client.getOAuthAccessToken(token, tokenSecret, done);
      else client.getOAuthAccessToken(token, tokenSecret, verifier, done);
    });
  const get = promisify(client.get.bind(client));
  return { client, requestToken, accessToken, get };
}

// ---------------------------------------------------------------------------------------------
// Consumer 2: oauth-1.0a, with the parameters in the Authorization header or the form body.

export interface SignedCall {
  status: number;
  headers: Headers;
  text: string;
  form: URLSearchParams;
}

export function oauth10aClient(which: 'rsa' | 'hmac', opts: { consumerKey?: string } = {}): OAuth10a {
  if (which === 'hmac') {
    return new OAuth10a({
      consumer: { key: opts.consumerKey ?? 'app-h', secret: HMAC_SECRET },
      signature_method: 'HMAC-SHA1',
      hash_function: (base, key) => createHmac('sha1', key).update(base).digest('base64'),
    });
  }
  const pem = rsaPair(0).privatePem;
  return new OAuth10a({
    consumer: { key: opts.consumerKey ?? 'app-a', secret: '' },
    signature_method: 'RSA-SHA1',
    hash_function: (base) => createSign('RSA-SHA1').update(base).sign(pem, 'base64'),
  });
}

/**
 * POSTs to `path` signed by `client`: `oauth` holds extra protocol parameters (oauth_callback,
 * oauth_verifier, oauth_session_handle), sent with the others in `placement`.
 */
export async function signedPost(
  h: Harness,
  client: OAuth10a,
  path: string,
  opts: { token?: { key: string; secret: string }; oauth?: Record<string, string>; placement?: 'header' | 'body'; timestampOffset?: number } = {},
): Promise<SignedCall> {
  const url = h.url + path;
  const extra = opts.oauth ?? {};
  const request = { url, method: 'POST', data: { ...extra } };
  const original = client.getTimeStamp.bind(client);
  if (opts.timestampOffset) client.getTimeStamp = () => original() + (opts.timestampOffset ?? 0);
  const signed = { ...client.authorize(request, opts.token), ...extra } as unknown as Record<string, string>;
  client.getTimeStamp = original;
  let res: Response;
  if ((opts.placement ?? 'header') === 'header') {
    const { Authorization } = client.toHeader(signed as unknown as OAuth10a.Authorization);
    res = await fetch(url, { method: 'POST', headers: { authorization: Authorization } });
  } else {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(signed).toString() });
  }
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, form: new URLSearchParams(text) };
}
