// Every status a browser page can meet is answered with a readable page (the renderer's page
// form, src/http/answer.ts) with the right status — 404, 405, 408 (a form body that stalls),
// 503 (the store down), 500 (something unexpected) — while the token endpoints, which are for
// programs, keep their plain-text and OAuth problem answers. (400, 401, 403, 413, 415 and the
// 502/504 of userAuth are in pages.test.ts; 429 is the token endpoints' alone.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { StoreUnavailableError, type TokenStore } from '../../src/store/types.js';
import { DANCE, startHarness, type Harness } from '../helpers/harness.js';
import { Browser, demoLogin } from '../helpers/clients.js';

const LOGIN = '/plugins/servlet/applink-gateway/login';
const LOGIN_DANCE = '/plugins/servlet/applinks/oauth/login-dance/authorize';
const USER_TOKENS = '/plugins/servlet/oauth/users/access-tokens';
const REQUEST_TOKEN = '/plugins/servlet/oauth/request-token';

/** A readable page: HTML with the page security headers and the title as its heading. */
function assertPage(page: { status: number; headers: Headers; text: string }, status: number, title: RegExp): void {
  assert.equal(page.status, status);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
  assert.equal(page.headers.get('x-frame-options'), 'DENY');
  assert.equal(page.headers.get('cache-control'), 'no-store');
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.match(page.text, /<html lang="en">/);
  const h1 = /<h1>([^<]*)<\/h1>/.exec(page.text)?.[1] ?? '';
  assert.match(h1, title);
  assert.doesNotMatch(page.text, /oauth_problem=/);
}

/** Sends `head` and part of a body, then waits until the gateway answers and closes the connection. */
function stalledPost(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(text));
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (out += d));
    socket.on('error', reject);
    socket.on('close', () => resolve(out));
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer: ${out.slice(0, 200)}`)));
  });
}

/** Replaces one store method for the duration of a test. */
function failing<K extends keyof TokenStore>(store: TokenStore, name: K, err: () => Error): () => void {
  const original = store[name];
  (store as unknown as Record<string, unknown>)[name] = () => Promise.reject(err());
  return () => {
    (store as unknown as Record<string, unknown>)[name] = original;
  };
}

describe('error pages: every status a dance page can meet', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ ...DANCE, store: 'memory', patch: { server: { timeouts: { bodyIdleMs: 300 } } } });
  });
  after(() => h?.close());

  it('404: an unknown application link on the login dance', async () => {
    const page = await new Browser(h.url).get(`${LOGIN_DANCE}?applicationLinkID=no-such-link`);
    assertPage(page, 404, /^Unknown application link$/);
  });

  it('405: a wrong method on a page is a page (with Allow); on a token endpoint it stays plain text', async () => {
    const put = await new Browser(h.url).request('PUT', USER_TOKENS);
    assertPage(put, 405, /^Method Not Allowed$/);
    assert.equal(put.headers.get('allow'), 'GET, POST, HEAD');
    assert.match(put.text, /PUT is not allowed here; use GET or POST\./);

    const get = await fetch(h.url + REQUEST_TOKEN);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    assert.equal(get.headers.get('cache-control'), 'no-store');
    assert.match(get.headers.get('content-type') ?? '', /^text\/plain; charset=utf-8/);
    assert.equal(await get.text(), 'GET is not allowed here; use POST.\n');
  });

  it('408: a sign-in form whose body stalls gets a page, and the connection closes', async () => {
    const body = 'username=alice&password=';
    const out = await stalledPost(
      h.url,
      `POST ${LOGIN} HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length + 50}\r\n\r\n${body}`,
    );
    assert.match(out, /^HTTP\/1\.1 408 /, out.slice(0, 200));
    assert.match(out, /\r\nconnection: close\r\n/i);
    assert.match(out, /\r\ncontent-type: text\/html; charset=utf-8\r\n/i);
    assert.match(out, /<h1>Form not received in time<\/h1>/);
    const timeouts = (await h.running.gw.metrics.clientTimeouts.get()).values.find((v) => v.labels.phase === 'body_idle')?.value ?? 0;
    assert.ok(timeouts >= 1, 'counted as a slow client');
  });

  it('503: the store unreachable gives a page with Retry-After', async (t) => {
    const browser = new Browser(h.url);
    await demoLogin(browser);
    t.after(failing(h.store, 'listAccessTokens', () => new StoreUnavailableError('Redis is unreachable')));
    const page = await browser.get(USER_TOKENS);
    assertPage(page, 503, /^Temporarily unavailable$/);
    assert.equal(page.headers.get('retry-after'), '2');
    assert.doesNotMatch(page.text, /Redis is unreachable/);
  });

  it('500: something unexpected gives a page, logged, its message never shown', async (t) => {
    const browser = new Browser(h.url);
    await demoLogin(browser);
    t.after(failing(h.store, 'listAccessTokens', () => new Error('secret internals')));
    const page = await browser.get(USER_TOKENS);
    assertPage(page, 500, /^Something went wrong$/);
    assert.doesNotMatch(page.text, /secret internals/);
    assert.ok(h.logs.some((l) => l.msg === 'unhandled error' && l.level === 'error'), 'logged as an unhandled error');
  });

  it('the token endpoints keep the OAuth problem format (never a page)', async () => {
    const res = await fetch(h.url + REQUEST_TOKEN, { method: 'POST', headers: { authorization: 'OAuth oauth_consumer_key="app-h", oauth_version="2.0"' } });
    assert.equal(res.status, 400);
    assert.match(res.headers.get('content-type') ?? '', /^application\/x-www-form-urlencoded/);
    assert.match(res.headers.get('www-authenticate') ?? '', /^OAuth realm="[^"]+", oauth_problem="version_rejected"/);
    assert.equal(new URLSearchParams(await res.text()).get('oauth_problem'), 'version_rejected');
  });
});
