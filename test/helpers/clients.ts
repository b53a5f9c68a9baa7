// The gateway's clients in tests. AppA's side of the proxy: requests signed by src/oauth1, by the
// oauth-1.0a package and by Python's requests-oauthlib, sent over raw sockets so the
// request-target stays byte-exact. The dance: a cookie-keeping HTTP "browser" for the pages, and
// two independent consumer implementations (oauth-1.0a and the `oauth` package).
import { createHmac, createPrivateKey, createSign, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { promisify } from 'node:util';
import OAuth from 'oauth-1.0a';
import { OAuth as NpmOAuth } from 'oauth';
import { signRequest, type SignatureMethod } from '../../src/oauth1/index.js';
import { APP_H_SECRET, LINKS, PUBLIC_BASE, rsaPair, type LinkKind } from './fixtures.js';
import { PYTHON, type AppBRequest } from './appb.js';

/** app-a's private key (RSA-SHA1). */
export const APP_A_KEY: KeyObject = createPrivateKey(rsaPair(0).privatePem);

/** What a gateway client needs of a harness: where the gateway listens. */
export interface GatewayAt {
  url: string;
}

// ---------------------------------------------------------------------------------------------
// AppA's side of the proxy.

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
  return pythonJson(script, input, 'requests-oauthlib client');
}

/** Runs a Python script with `input` on stdin and resolves with the JSON it prints. */
export function pythonJson<T>(script: string, input: string, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${what} failed (${code}): ${err}`));
      else resolve(JSON.parse(out) as T);
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

export function npmConsumer(h: GatewayAt, which: 'rsa' | 'hmac', callback: string | null) {
  const key = which === 'rsa' ? 'app-a' : 'app-h';
  const secret = which === 'rsa' ? rsaPair(0).privatePem : APP_H_SECRET;
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

export function oauth10aClient(which: 'rsa' | 'hmac', opts: { consumerKey?: string } = {}): OAuth {
  if (which === 'hmac') {
    return new OAuth({
      consumer: { key: opts.consumerKey ?? 'app-h', secret: APP_H_SECRET },
      signature_method: 'HMAC-SHA1',
      hash_function: (base, key) => createHmac('sha1', key).update(base).digest('base64'),
    });
  }
  const pem = rsaPair(0).privatePem;
  return new OAuth({
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
  h: GatewayAt,
  client: OAuth,
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
    const { Authorization } = client.toHeader(signed as unknown as OAuth.Authorization);
    res = await fetch(url, { method: 'POST', headers: { authorization: Authorization } });
  } else {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(signed).toString() });
  }
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, form: new URLSearchParams(text) };
}
