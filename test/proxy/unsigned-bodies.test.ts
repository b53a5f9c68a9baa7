// An unsigned form body beyond server.formBodyLimitBytes is ordinary browser traffic for AppB:
// it streams through untouched. Only a body that turns out to carry OAuth or requestor parameters
// is held to the limit: refused before AppB sees a byte when they come early, and when they come
// late (past the limit, or split across the chunks the client sends) AppB's request is cut short,
// never completed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { startHarness, type Harness } from '../helpers/harness.js';
import { send, signWithGatewaySigner } from '../helpers/clients.js';
import { startStubAppB, type StubRequest } from '../helpers/stub-appb.js';

const FORM = 'application/x-www-form-urlencoded';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A form body of about `bytes` bytes of ordinary fields (no OAuth or requestor names). */
function bigForm(bytes: number): Buffer {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const part = `field${i}=${randomBytes(48).toString('base64url')}%2B${i}+x`;
    parts.push(part);
    size += part.length + 1;
  }
  return Buffer.from(parts.join('&'));
}

/** The stub AppB as a recording upstream: `/answer-early` answers before it has read the body. */
const startRecordingUpstream = () => startStubAppB({ answer: (r) => (r.url.startsWith('/answer-early') ? { body: 'early', early: true } : { body: 'ok' }) });

/**
 * Sends a request head and then body parts over one socket, `gapMs` apart (so they arrive as
 * separate chunks), and resolves with what the gateway answered before the socket closed.
 */
function sendInParts(baseUrl: string, head: string, parts: Buffer[], gapMs = 60): Promise<string> {
  const u = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = net.connect(Number(u.port), u.hostname);
    let out = '';
    let open = true;
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      open = false;
      resolve(out);
    });
    void (async () => {
      socket.write(head);
      for (const part of parts) {
        await new Promise((r) => setTimeout(r, gapMs));
        if (!open) return;
        socket.write(part);
      }
    })();
  });
}

const formHead = (path: string, length: number | 'chunked') =>
  `POST ${path} HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\nContent-Type: ${FORM}\r\n${length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`}\r\n\r\n`;

/** One chunk of chunked framing. */
const chunk = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);

/** The gateway's log line of the request to `path` (its status, or none when the client was gone). */
async function requestLog(h: Harness, path: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const line = h.logs.find((l) => l.msg === 'request' && l.path === path);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no request log line for ${path}`);
}

describe('unsigned form bodies beyond server.formBodyLimitBytes stream to AppB (test AppB)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header', store: 'memory' });
  });
  after(() => h.close());

  it('an unsigned 5 MB form body reaches AppB byte-identical, with Content-Length and chunked', async () => {
    const body = bigForm(5 * 1024 * 1024);
    assert.ok(body.length > h.cfg.config.server.formBodyLimitBytes * 4);
    const declared = await send(h.url, { method: 'POST', target: '/secure/BigForm.jspa', body, headers: { 'content-type': FORM } });
    assert.equal(declared.status, 200, declared.text.slice(0, 300));
    assert.equal(declared.appb().bodyLength, body.length);
    assert.equal(declared.appb().bodySha256, sha256(body));
    assert.equal(declared.appb().user, null);

    async function* inChunks() {
      for (let i = 0; i < body.length; i += 100_000) yield body.subarray(i, i + 100_000);
    }
    const chunked = await send(h.url, { method: 'POST', target: '/secure/BigForm.jspa', body: inChunks(), headers: { 'content-type': FORM } });
    assert.equal(chunked.status, 200, chunked.text.slice(0, 300));
    assert.equal(chunked.appb().bodySha256, sha256(body));
  });

  it('a signed request keeps the limit: its form body is needed whole for the signature (413)', async () => {
    const target = '/secure/SignedBigForm.jspa';
    const before = h.appb.requests.length;
    const authorization = await signWithGatewaySigner({ link: 'hmac', method: 'POST', target });
    const r = await send(h.url, { method: 'POST', target, body: bigForm(2 * 1024 * 1024), headers: { 'content-type': FORM, authorization } }).catch((e: Error) => e);
    if (!(r instanceof Error)) assert.equal(r.status, 413);
    assert.equal((await requestLog(h, target)).status, 413);
    assert.equal(h.appb.requests.length, before, 'nothing reached AppB');
  });
});

describe('unsigned form bodies that carry OAuth parameters beyond the limit never reach AppB complete (recording upstream)', () => {
  let h: Harness;
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  const LIMIT = 64 * 1024;
  before(async () => {
    upstream = await startRecordingUpstream();
    try {
      h = await startHarness({ identity: 'header', store: 'memory', upstreamUrl: upstream.url, patch: { server: { formBodyLimitBytes: LIMIT } } });
    } catch (err) {
      await upstream.close();
      throw err;
    }
  });
  after(async () => {
    await h?.close();
    await upstream.close();
  });

  it('a large body with oauth_signature early → 413, AppB never received a request', async () => {
    const connectionsBefore = upstream.connections();
    const seenBefore = upstream.requests.length;
    const body = Buffer.concat([Buffer.from('a=1&oauth_signature=forged&'), bigForm(4 * LIMIT)]);
    const r = await send(h.url, { method: 'POST', target: '/early', body, headers: { 'content-type': FORM } }).catch((e: Error) => e);
    if (!(r instanceof Error)) assert.equal(r.status, 413);
    assert.equal((await requestLog(h, '/early')).status, 413);
    assert.equal(upstream.requests.length, seenBefore, 'AppB received no request');
    assert.equal(upstream.connections(), connectionsBefore, 'AppB was not even connected to');
  });

  it('a smuggled xoauth_requestor_id within the first limit bytes of a large body → 413, nothing sent', async () => {
    const seenBefore = upstream.requests.length;
    const body = Buffer.concat([bigForm(LIMIT / 2), Buffer.from('&xoauth_requestor_id=admin&'), bigForm(3 * LIMIT)]);
    const r = await send(h.url, { method: 'POST', target: '/early-requestor', body, headers: { 'content-type': FORM } }).catch((e: Error) => e);
    if (!(r instanceof Error)) assert.equal(r.status, 413);
    assert.equal(upstream.requests.length, seenBefore);
  });

  async function lateCase(path: string, framing: number | 'chunked', parts: Buffer[]): Promise<{ answer: string; seen: StubRequest; total: number }> {
    const total = parts.reduce((n, p) => n + p.length, 0);
    const seenBefore = upstream.requests.length;
    const wire = framing === 'chunked' ? [...parts.map(chunk), Buffer.from('0\r\n\r\n')] : parts;
    const answer = await sendInParts(h.url, formHead(path, framing), wire);
    assert.equal(upstream.requests.length, seenBefore + 1, 'the request had started streaming to AppB');
    const seen = upstream.requests[seenBefore] as StubRequest;
    await seen.closed;
    return { answer, seen, total };
  }

  it('an OAuth parameter past the limit → AppB never sees a complete request, the client is refused', { timeout: 30_000 }, async () => {
    const first = bigForm(3 * LIMIT);
    const late = Buffer.from('&oauth_token=stolen&oauth_signature=x&z=1');
    const { answer, seen, total } = await lateCase('/late', first.length + late.length, [first, late]);
    assert.equal(seen.complete, false, 'AppB got the whole body');
    assert.ok(seen.bytes < total, `AppB got ${seen.bytes} of ${total} bytes`);
    assert.ok(seen.bytes >= LIMIT, 'the harmless part had streamed on');
    // The refusal, when the socket still carried it (the client may still be sending).
    if (answer !== '') assert.match(answer, /^HTTP\/1\.1 413 /);
  });

  for (const [what, tail] of [
    ['xoauth_requestor_id split across chunk boundaries', ['&xoauth_req', 'uestor_i', 'd=admin&z=1']],
    ['oauth%5Fsignature split inside its escape', ['&oauth%', '5Fsignatu', 're=forged']],
    ['an oauth_token name that is the last bytes of the body (no =), its last byte alone', ['&oauth_toke', 'n']],
  ] as const) {
    for (const framing of ['length', 'chunked'] as const) {
      it(`${what} (${framing === 'length' ? 'Content-Length' : 'chunked'}) → AppB never sees a complete request`, { timeout: 30_000 }, async () => {
        const first = bigForm(2 * LIMIT);
        const parts = [first, ...tail.map((t) => Buffer.from(t))];
        const length = parts.reduce((n, p) => n + p.length, 0);
        const { answer, seen, total } = await lateCase(`/split-${framing}`, framing === 'length' ? length : 'chunked', parts);
        assert.equal(seen.complete, false, 'AppB got the whole body');
        assert.ok(seen.bytes < total, `AppB got ${seen.bytes} of ${total} bytes`);
        // Refused by the gateway (or the socket closed under the refusal), not left to AppB's timeout.
        if (answer !== '') assert.match(answer, /^HTTP\/1\.1 413 /);
      });
    }
  }

  it('an OAuth parameter past the limit after AppB already answered: AppB still never gets the body complete', { timeout: 30_000 }, async () => {
    const parts = [bigForm(3 * LIMIT), Buffer.from('&oauth_token=stolen&z=1')];
    const { answer, seen, total } = await lateCase('/answer-early', parts.reduce((n, p) => n + p.length, 0), parts);
    assert.equal(seen.complete, false, 'AppB got the whole body');
    assert.ok(seen.bytes < total);
    // AppB's own answer, when it reached the gateway first, or the gateway's refusal; the connection ends with it.
    if (answer !== '') assert.match(answer, /^HTTP\/1\.1 (200|413) /);
  });

  it('a harmless body beyond the limit sent in parts reaches the recording upstream whole', { timeout: 30_000 }, async () => {
    const parts = [bigForm(2 * LIMIT), Buffer.from('&user_id=7&oauthx=1&xoauth_requestor_idx=2&last')];
    const { seen, total, answer } = await lateCase('/harmless', parts.reduce((n, p) => n + p.length, 0), parts);
    assert.equal(seen.complete, true);
    assert.equal(seen.bytes, total);
    assert.match(answer, /^HTTP\/1\.1 200 /);
  });
});
