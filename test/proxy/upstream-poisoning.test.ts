// Response-queue poisoning (RFC 9112 6.3): an AppB that sends bytes answering no request — a
// body on a HEAD, bytes after a 204 or 304, a whole extra response — must never have them read
// as the answer to the next request on that keep-alive connection, another user's. The AppB here
// is a raw TCP server that misbehaves on purpose; the gateway is the real one.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { startHarness, type Harness } from '../helpers/harness.js';
import { send, signWithGatewaySigner, type Sent } from '../helpers/clients.js';

/** A whole response AppB should never have sent; read as an answer, it would be someone else's. */
const PLANTED = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\nX-Answer-For: planted\r\nX-Answer-Target: planted\r\n\r\nplanted';

interface RawUpstream {
  url: string;
  /** Per connection: the targets it carried, in order. */
  connections: Array<{ targets: string[]; closed: Promise<unknown> }>;
  close(): Promise<void>;
}

/**
 * Answers every GET/HEAD with `X-Answer-For: <X-Forwarded-User or anonymous>` and
 * `X-Answer-Target: <target>` (the body says the same), and misbehaves by path:
 * /head-body: a HEAD gets its body anyway, in the same write; /head-late: after a HEAD answer,
 * a whole response a moment later; /no-content, /not-modified: 204/304, then a whole response
 * a moment later; /trailing: a complete 200 with a whole response glued to it; /idle-bytes: a
 * complete 200, then a whole response once the connection has gone back to the pool.
 */
async function startRawUpstream(): Promise<RawUpstream> {
  const connections: RawUpstream['connections'] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    // Not events.once: it rejects when the socket emits 'error' (a reset), unhandled for connections no test awaits.
    const conn = { targets: [] as string[], closed: new Promise<unknown>((resolve) => socket.once('close', resolve)) };
    connections.push(conn);
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (d: Buffer) => {
      buffered += d.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const [method = '', target = ''] = head.split(' ', 2);
        conn.targets.push(target);
        const user = /\r\nx-forwarded-user: ([^\r]*)/i.exec(head)?.[1] ?? 'anonymous';
        const path = target.split('?', 1)[0] ?? '';
        const body = `answer for ${user} to ${target}`;
        const status = path === '/no-content' ? '204 No Content' : path === '/not-modified' ? '304 Not Modified' : '200 OK';
        const length = status.startsWith('200') ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : '';
        const answer = `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\n${length}X-Answer-For: ${user}\r\nX-Answer-Target: ${target}\r\n\r\n`;
        const late = (ms: number) => setTimeout(() => socket.writable && socket.write(PLANTED), ms);
        if (method === 'HEAD' && path === '/head-body') socket.write(answer + body);
        else if (method === 'HEAD' && path === '/head-late') {
          socket.write(answer);
          late(1);
        } else if (method === 'HEAD') socket.write(answer);
        else if (status !== '200 OK') {
          socket.write(answer);
          late(1);
        } else if (path === '/trailing') socket.write(answer + body + PLANTED);
        else if (path === '/idle-bytes') {
          socket.write(answer + body);
          late(150);
        } else socket.write(answer + body);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function assertOwnAnswer(r: Sent, who: string, target: string, what: string): void {
  assert.notEqual(r.status, 502, `${what}: a 502 caused by planted bytes: ${r.text}`);
  assert.equal(r.headers['x-answer-for'], who, `${what}: answered with ${String(r.headers['x-answer-for'])}'s answer`);
  assert.equal(r.headers['x-answer-target'], target, `${what}: answered with the answer to ${String(r.headers['x-answer-target'])}`);
}

describe('response-queue poisoning: bytes AppB sends outside of a response never answer another client', () => {
  let upstream: RawUpstream;
  let h: Harness;
  before(async () => {
    upstream = await startRawUpstream();
    try {
      h = await startHarness({ identity: 'header', store: 'memory', upstreamUrl: upstream.url });
    } catch (err) {
      await upstream.close();
      throw err;
    }
  });
  after(async () => {
    await h?.close();
    await upstream.close();
  });

  it('an anonymous client sending HEADs (and 204/304 requests) to a misbehaving AppB, concurrent with signed users: everyone gets their own answer, never a 502', async () => {
    const tokens = { alice: await h.accessToken('rsa', 'alice'), bob: await h.accessToken('rsa', 'bob') };
    const failures: string[] = [];
    const check = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        failures.push((err as Error).message);
      }
    };

    async function user(name: 'alice' | 'bob'): Promise<void> {
      for (let i = 0; i < 30; i++) {
        const target = `/rest/api/2/issue/${name}-${i}`;
        const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token: tokens[name] });
        const r = await send(h.url, { target, headers: { authorization } });
        check(target, () => {
          assertOwnAnswer(r, name, target, `${name} GET ${target}`);
          assert.equal(r.status, 200);
          assert.equal(r.text, `answer for ${name} to ${target}`);
        });
      }
    }
    async function attacker(): Promise<void> {
      const kinds = [
        { method: 'HEAD', path: '/head-body', status: 200 },
        { method: 'HEAD', path: '/head-late', status: 200 },
        { method: 'GET', path: '/no-content', status: 204 },
        { method: 'GET', path: '/not-modified', status: 304 },
        { method: 'GET', path: '/trailing', status: 200 },
      ];
      for (let i = 0; i < 30; i++) {
        const k = kinds[i % kinds.length] as (typeof kinds)[number];
        const target = `${k.path}?n=${i}`;
        const r = await send(h.url, { method: k.method, target }).catch((err: Error) => err);
        check(target, () => {
          assert.ok(!(r instanceof Error), `anonymous ${k.method} ${target}: ${String(r)}`);
          assertOwnAnswer(r as Sent, 'anonymous', target, `anonymous ${k.method} ${target}`);
          assert.equal((r as Sent).status, k.status);
        });
      }
    }

    await Promise.all([user('alice'), user('bob'), attacker()]);
    assert.deepEqual(failures, [], `${failures.length} wrong answers`);
  });

  it('bytes AppB sends on an idle keep-alive connection close it: the next request goes out on a fresh connection', async () => {
    // Alone on its upstream: the pool holds only this connection.
    const own = await startRawUpstream();
    const g = await startHarness({ identity: 'header', store: 'memory', upstreamUrl: own.url });
    try {
      const first = await send(g.url, { target: '/idle-bytes' });
      assertOwnAnswer(first, 'anonymous', '/idle-bytes', 'GET /idle-bytes');
      const conn = own.connections.find((c) => c.targets.includes('/idle-bytes'));
      assert.ok(conn);
      // The planted response arrives while the connection sits in the pool (idle for up to 4 s):
      // the gateway notices and closes it. The bound only keeps a failing run from hanging.
      const STRAY = 'AppB sent bytes outside of any response; its connection was closed';
      for (let waited = 0; waited < 3000 && !g.logs.some((l) => l.msg === STRAY); waited += 20) await new Promise((r) => setTimeout(r, 20));
      assert.ok(g.logs.some((l) => l.msg === STRAY), 'the gateway saw the bytes that arrived on its idle connection');
      await conn.closed;

      const token = await g.accessToken('rsa', 'alice');
      const target = '/rest/api/2/myself';
      const r = await send(g.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token }) } });
      assertOwnAnswer(r, 'alice', target, 'alice after the idle bytes');
      assert.deepEqual(conn.targets, ['/idle-bytes'], 'the poisoned connection carried nothing else');
    } finally {
      await g.close();
      await own.close();
    }
  });
});
