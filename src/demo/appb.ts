// The demo's AppB: a small application with its own sign-in (as Jira has), that trusts the
// gateway the way Jira trusts an incoming application link: it verifies the gateway's RSA-SHA1
// two-legged signature and runs the request as the user in xoauth_requestor_id.
import { randomBytes, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  OAuthProblem,
  baseStringUri,
  collectParams,
  problemBody,
  rsaSha1Verify,
  signatureBaseString,
  wwwAuthenticate,
} from '../oauth1/index.js';

export interface SampleAppB {
  url: string;
  /** The URL AppB believes it has (the gateway's public URL): the base of the signatures it checks. */
  setBaseUrl(url: string): void;
  close(): Promise<void>;
}

export interface SampleAppBOptions {
  users: Record<string, string>;
  /** The consumer key and public key of the gateway's incoming link at AppB. */
  gatewayConsumerKey: string;
  gatewayPublicKey: KeyObject;
  /** Told of each request AppB ran and as whom. */
  onRequest?: (info: { method: string; path: string; user: string | null; via: string }) => void;
}

const SESSION = 'JSESSIONID';
const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><main><h1>${title}</h1>${body}</main></body></html>`;
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A same-site path to return to after signing in (never another site). */
function safeReturn(value: string | null): string {
  return value !== null && value.startsWith('/') && !value.startsWith('//') && !value.includes('\\') ? value : '/';
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 64 * 1024) throw new Error('body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startSampleAppB(opts: SampleAppBOptions): Promise<SampleAppB> {
  let baseUrl = 'http://127.0.0.1';
  const sessions = new Map<string, string>();
  const nonces = new Set<string>();

  function sessionUser(req: http.IncomingMessage): string | null {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const [name, value] = part.trim().split('=');
      if (name === SESSION && value) return sessions.get(value) ?? null;
    }
    return null;
  }

  /** The gateway's re-signed request: consumer key, RSA-SHA1 signature, fresh nonce, requestor. */
  function gatewayUser(req: http.IncomingMessage, rawPath: string, rawQuery: string, formBody: string | undefined): string {
    // AppB's own bound on parameters, as Tomcat's (a Jira's) 1000.
    const params = collectParams({ authorization: req.headersDistinct.authorization, rawQuery, formBody, parameterLimit: 1000 });
    if (!params) throw new OAuthProblem('parameter_absent', { detail: 'not an OAuth request' });
    const o = params.oauth;
    if (o.oauth_consumer_key !== opts.gatewayConsumerKey) throw new OAuthProblem('consumer_key_unknown');
    if (o.oauth_signature_method !== 'RSA-SHA1') throw new OAuthProblem('signature_method_rejected');
    if ((o.oauth_token ?? '') !== '') throw new OAuthProblem('token_rejected', { detail: 'the gateway signs two-legged' });
    const ts = Number(o.oauth_timestamp);
    if (!Number.isFinite(ts) || Math.abs(Date.now() / 1000 - ts) > 300) throw OAuthProblem.timestamp(0, 0);
    const nonceKey = `${o.oauth_timestamp}:${o.oauth_nonce}`;
    if (nonces.has(nonceKey)) throw new OAuthProblem('nonce_used');
    const base = signatureBaseString(req.method ?? 'GET', baseStringUri(baseUrl, rawPath), params.baseParams);
    if (!rsaSha1Verify(base, o.oauth_signature ?? '', [opts.gatewayPublicKey])) throw new OAuthProblem('signature_invalid');
    nonces.add(nonceKey);
    const user = params.extra.xoauth_requestor_id;
    if (!user || !(user in opts.users)) throw new OAuthProblem('permission_unknown', { detail: 'no such user' });
    return user;
  }

  const server = http.createServer((req, res) => {
    void (async () => {
      const target = req.url ?? '/';
      const q = target.indexOf('?');
      const rawPath = q < 0 ? target : target.slice(0, q);
      const rawQuery = q < 0 ? '' : target.slice(q + 1);
      const url = new URL(target, 'http://appb.invalid');
      const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
      const body = req.method === 'POST' || req.method === 'PUT' ? await readBody(req) : '';
      const send = (status: number, type: string, text: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
        res.end(text);
      };
      const json = (status: number, value: unknown, headers: Record<string, string> = {}) => send(status, 'application/json', JSON.stringify(value), headers);

      // Sign-in, as Jira's login page does it (reached through the gateway like any page).
      if (rawPath === '/login.jsp') {
        if (req.method === 'POST') {
          const form = new URLSearchParams(body);
          const user = form.get('os_username') ?? '';
          const back = safeReturn(form.get('os_destination'));
          if (opts.users[user] === undefined || opts.users[user] !== form.get('os_password')) {
            return send(401, 'text/html; charset=utf-8', page('Sign in to Sample AppB', '<p>Wrong user name or password.</p><p><a href="/login.jsp">Try again</a></p>'));
          }
          const sid = randomBytes(18).toString('base64url');
          sessions.set(sid, user);
          return send(302, 'text/plain', '', { Location: back, 'Set-Cookie': `${SESSION}=${sid}; Path=/; HttpOnly; SameSite=Lax` });
        }
        const back = safeReturn(url.searchParams.get('os_destination'));
        const hint = Object.keys(opts.users).map((u) => `${esc(u)} / ${esc(opts.users[u] ?? '')}`).join(', ');
        return send(
          200,
          'text/html; charset=utf-8',
          page(
            'Sign in to Sample AppB',
            `<form method="post" action="/login.jsp"><input type="hidden" name="os_destination" value="${esc(back)}">` +
              `<p><label>User name <input type="text" name="os_username"></label></p><p><label>Password <input type="password" name="os_password"></label></p>` +
              `<p><button type="submit">Sign in</button></p></form><p>Demo users: ${hint}</p>`,
          ),
        );
      }
      // Jira's "who is signed in" endpoint, which the gateway's upstream-session mode asks.
      if (rawPath === '/rest/auth/1/session') {
        const user = sessionUser(req);
        return user ? json(200, { self: `${baseUrl}/rest/api/2/user?username=${encodeURIComponent(user)}`, name: user }) : json(401, { errorMessages: ['You are not authenticated.'] });
      }

      // Everything else: as the gateway's user when signed by the gateway, else as the session's user.
      let user: string | null;
      let via = 'anonymous';
      if (req.headers.authorization?.startsWith('OAuth ') || /(?:^|&)oauth_/.test(rawQuery)) {
        try {
          user = gatewayUser(req, rawPath, rawQuery, isForm ? body : undefined);
          via = `two-legged OAuth with impersonation from ${opts.gatewayConsumerKey}`;
        } catch (err) {
          const p = err instanceof OAuthProblem ? err : new OAuthProblem('signature_invalid');
          return send(p.status, 'application/x-www-form-urlencoded', problemBody(p), { 'WWW-Authenticate': wwwAuthenticate(baseUrl, p) });
        }
      } else {
        user = sessionUser(req);
        if (user) via = 'session cookie';
      }
      opts.onRequest?.({ method: req.method ?? 'GET', path: rawPath, user, via });
      if (rawPath === '/') {
        const who = user ? `<p>Signed in as <strong>${esc(user)}</strong>.</p>` : '<p>Not signed in. <a href="/login.jsp">Sign in</a></p>';
        return send(200, 'text/html; charset=utf-8', page('Sample AppB', who));
      }
      if (!user) return json(401, { errorMessages: ['You are not authenticated.'] });
      return json(200, { name: user, path: rawPath, method: req.method, via });
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`sample AppB error: ${(err as Error).message}\n`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setBaseUrl(u) {
      baseUrl = u.replace(/\/+$/, '');
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
