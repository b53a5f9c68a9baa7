// The demo's AppA: a linked application with a "Trust" button that starts the gateway-initiated
// dance (DESIGN.md 1c), a callback that checks its own `state`, exchanges the request token and
// calls AppB through the gateway as the user; and two-legged calls with impersonation (2LOi).
import { randomBytes, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseForm, safeEqual, signRequest } from '../oauth1/index.js';

export const LOGIN_DANCE_ENTRY = '/plugins/servlet/applinks/oauth/login-dance/authorize';
export const LOGIN_DANCE_ACCESS = '/plugins/servlet/applinks/oauth/login-dance/access';
const ACCESS_TOKEN = '/plugins/servlet/oauth/access-token';

export interface AccessCredentials {
  token: string;
  secret: string;
  expiresIn: number;
}

export interface CallResult {
  status: number;
  /** AppB's JSON answer, when it gave one. */
  json: { name?: string; via?: string } | null;
  /** oauth_problem of a refusal. */
  problem: string | null;
  text: string;
}

/** What the last callback did, for the demo's narration. */
export interface Connection {
  state: 'connected' | 'denied' | 'failed';
  access?: AccessCredentials;
  call?: CallResult;
  error?: string;
}

export interface SampleAppA {
  url: string;
  callbackUrl: string;
  setGatewayUrl(url: string): void;
  /** POST access-token signed with the request token (empty secret: gateway-initiated). */
  exchange(requestToken: string, verifier: string): Promise<AccessCredentials>;
  /** A signed GET through the gateway: with an access token (3LO), or as `requestor` (2LOi). */
  call(path: string, as: { access: AccessCredentials } | { requestor: string }): Promise<CallResult>;
  lastConnection(): Connection | null;
  close(): Promise<void>;
}

export interface SampleAppAOptions {
  linkId: string;
  consumerKey: string;
  privateKey: KeyObject;
  /** The AppB path AppA calls to learn who it runs as. */
  whoAmIPath: string;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;

function cookie(req: http.IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

export async function startSampleAppA(opts: SampleAppAOptions): Promise<SampleAppA> {
  let gatewayUrl = 'http://127.0.0.1';
  let last: Connection | null = null;
  // AppA's own record of who connected (by its session), as an Atlassian AppA keeps tokens per user.
  const connections = new Map<string, AccessCredentials>();

  async function signedFetch(method: string, path: string, sign: { token: string; tokenSecret: string; extraOAuth?: Record<string, string> }): Promise<Response> {
    const url = `${gatewayUrl}${path}`;
    const signed = await signRequest({
      method,
      url,
      consumerKey: opts.consumerKey,
      signatureMethod: 'RSA-SHA1',
      privateKey: opts.privateKey,
      token: sign.token,
      tokenSecret: sign.tokenSecret,
      extraOAuth: sign.extraOAuth,
    });
    return fetch(url, { method, headers: { Authorization: signed.authorization, Accept: 'application/json' }, redirect: 'manual' });
  }

  async function exchange(requestToken: string, verifier: string): Promise<AccessCredentials> {
    const res = await signedFetch('POST', ACCESS_TOKEN, { token: requestToken, tokenSecret: '', extraOAuth: { oauth_verifier: verifier } });
    const text = await res.text();
    if (res.status !== 200) {
      const problem = /oauth_problem="([^"]+)"/.exec(res.headers.get('www-authenticate') ?? '')?.[1];
      throw new Error(`access-token answered ${res.status}${problem ? ` (${problem})` : ''}`);
    }
    const fields = Object.fromEntries(parseForm(text));
    if (!fields.oauth_token || fields.oauth_token_secret === undefined) throw new Error('access-token answer lacks oauth_token / oauth_token_secret');
    return { token: fields.oauth_token, secret: fields.oauth_token_secret, expiresIn: Number(fields.oauth_expires_in ?? 0) };
  }

  async function call(path: string, as: { access: AccessCredentials } | { requestor: string }): Promise<CallResult> {
    const res =
      'access' in as
        ? await signedFetch('GET', path, { token: as.access.token, tokenSecret: as.access.secret })
        : await signedFetch('GET', `${path}${path.includes('?') ? '&' : '?'}xoauth_requestor_id=${encodeURIComponent(as.requestor)}`, { token: '', tokenSecret: '' });
    const text = await res.text();
    let json: CallResult['json'];
    try {
      json = JSON.parse(text) as CallResult['json'];
    } catch {
      json = null;
    }
    const problem = /oauth_problem="([^"]+)"/.exec(res.headers.get('www-authenticate') ?? '')?.[1] ?? null;
    return { status: res.status, json, problem, text };
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://appa.invalid');
      const html = (status: number, title: string, body: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
        res.end(page(title, body));
      };
      const session = cookie(req, 'appa_session');
      const mine = session ? connections.get(session) : undefined;

      if (url.pathname === '/') {
        const status = mine ? '<p>Connected to Sample AppB.</p><p><a href="/whoami">Call AppB as me</a> · <a href="/impersonate?user=bob">2LOi call as bob</a></p>' : '<p>Not connected to Sample AppB yet.</p>';
        return html(200, 'Sample AppA', `${status}<p><a id="trust" href="/trust">Trust Sample AppB</a></p>`);
      }
      // The Trust button: a fresh state, remembered in this browser, travels through the dance.
      if (url.pathname === '/trust') {
        const state = randomBytes(16).toString('base64url');
        const entry = `${gatewayUrl}${LOGIN_DANCE_ENTRY}?applicationLinkID=${encodeURIComponent(opts.linkId)}&state=${state}`;
        res.writeHead(302, { Location: entry, 'Set-Cookie': `appa_state=${state}; Path=/; HttpOnly; SameSite=Lax`, 'Cache-Control': 'no-store' });
        return res.end();
      }
      if (url.pathname === LOGIN_DANCE_ACCESS) {
        const expected = cookie(req, 'appa_state');
        const state = url.searchParams.get('state') ?? '';
        // Login CSRF: only a dance this browser started may bind a token to it.
        if (!expected || !safeEqual(expected, state) || url.searchParams.get('applicationLinkID') !== opts.linkId) {
          last = { state: 'failed', error: 'state does not match a dance started in this browser' };
          return html(400, 'Not started here', '<p>This connection was not started from this browser. Nothing was stored.</p>');
        }
        const verifier = url.searchParams.get('oauth_verifier') ?? '';
        const requestToken = url.searchParams.get('oauth_token') ?? '';
        if (verifier === 'denied') {
          last = { state: 'denied' };
          return html(200, 'Access denied', '<p>You denied Sample AppA access to Sample AppB.</p><p><a href="/">Back</a></p>');
        }
        try {
          const access = await exchange(requestToken, verifier);
          const result = await call(opts.whoAmIPath, { access });
          const sid = session ?? randomBytes(16).toString('base64url');
          connections.set(sid, access);
          last = { state: 'connected', access, call: result };
          const who = result.json?.name ? `<p id="result" data-user="${esc(result.json.name)}">AppB ran a signed request as <strong>${esc(result.json.name)}</strong> (${esc(result.json.via ?? '')}).</p>` : `<p id="result">AppB answered ${result.status}.</p>`;
          return html(200, 'Connected to Sample AppB', `${who}<p><a href="/">Back to Sample AppA</a></p>`, { 'Set-Cookie': `appa_session=${sid}; Path=/; HttpOnly; SameSite=Lax` });
        } catch (err) {
          last = { state: 'failed', error: (err as Error).message };
          return html(502, 'Connection failed', `<p>${esc((err as Error).message)}</p>`);
        }
      }
      if (url.pathname === '/whoami' && mine) {
        const r = await call(opts.whoAmIPath, { access: mine });
        return html(200, 'Call AppB as me', `<p>AppB answered ${r.status}: <code>${esc(r.text)}</code></p><p><a href="/">Back</a></p>`);
      }
      if (url.pathname === '/impersonate') {
        const user = url.searchParams.get('user') ?? '';
        const r = await call(opts.whoAmIPath, { requestor: user });
        return html(200, `2LOi call as ${user}`, `<p>AppB answered ${r.status}${r.problem ? ` (${esc(r.problem)})` : ''}: <code>${esc(r.text)}</code></p><p><a href="/">Back</a></p>`);
      }
      html(404, 'Not found', '<p><a href="/">Sample AppA</a></p>');
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`sample AppA error: ${(err as Error).message}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    callbackUrl: `${url}${LOGIN_DANCE_ACCESS}`,
    setGatewayUrl(u) {
      gatewayUrl = u.replace(/\/+$/, '');
    },
    exchange,
    call,
    lastConnection: () => last,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
