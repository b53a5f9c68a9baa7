// The stub AppB: a plain Node server on port 0 that records every request and answers with JSON
// about it (the path and the user header it got), after an optional delay, or with a scripted
// answer; plus Jira's session endpoint (/rest/auth/1/session) answered from its own sessions, for
// userAuth upstream-session. It verifies nothing: the test AppB that checks what the gateway signs
// with other implementations is test/helpers/appb.ts (Python).
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export const SESSION_PATH = '/rest/auth/1/session';

/** What the stub saw of one request. */
export interface StubRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Body bytes received so far. */
  bytes: number;
  /** The body received so far, as UTF-8 text. */
  body(): string;
  /** The whole body arrived. */
  complete: boolean;
  /** Resolves when the stub's side of the request is over (completed or cut short). */
  closed: Promise<void>;
}

/** A scripted answer; `early`: sent at once, before the body has arrived. */
export interface StubAnswer {
  status?: number;
  headers?: http.OutgoingHttpHeaders;
  body?: string;
  early?: boolean;
}

export interface StubAppBOptions {
  /** Answer after this many milliseconds from the request's arrival (and once its body is in). */
  delayMs?: number | ((req: StubRequest) => number);
  /** The answer to a request; default (or undefined): JSON { path, user } (user: X-Forwarded-User). */
  answer?: (req: StubRequest) => StubAnswer | undefined;
}

export interface StubAppB {
  url: string;
  /** The listening server (to attach a WebSocket server to, say). */
  server: http.Server;
  /** Every request received, in order. */
  requests: StubRequest[];
  /** Connections accepted so far. */
  connections(): number;
  /** Starts a session for `user` (as AppB's own login would) and returns the Cookie header value. */
  login(user: string): string;
  logout(cookie: string): void;
  /** Requests to the session endpoint so far (settable, to count from a point). */
  sessionChecks: number;
  /** Makes the session endpoint fail (status) or hang (-1) until reset with 0. */
  failWith: number;
  close(): Promise<void>;
}

export async function startStubAppB(opts: StubAppBOptions = {}): Promise<StubAppB> {
  const requests: StubRequest[] = [];
  const sessions = new Map<string, string>();
  const state = { sessionChecks: 0, failWith: 0, connections: 0 };

  function session(req: http.IncomingMessage, res: http.ServerResponse): void {
    state.sessionChecks++;
    if (state.failWith === -1) return; // never answers
    if (state.failWith > 0) {
      res.writeHead(state.failWith, { 'content-type': 'text/plain' });
      res.end('broken');
      return;
    }
    const sid = /(?:^|;\s*)JSESSIONID=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const user = sid === undefined ? undefined : sessions.get(sid);
    if (user === undefined) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errorMessages: ['You are not authenticated. Authentication required to perform this operation.'] }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ self: 'http://appb/rest/api/latest/user?username=' + user, name: user, loginInfo: { loginCount: 1 } }));
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let closed!: () => void;
    const r: StubRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      bytes: 0,
      body: () => Buffer.concat(chunks).toString('utf8'),
      complete: false,
      closed: new Promise((resolve) => (closed = resolve)),
    };
    requests.push(r);
    req.on('data', (c: Buffer) => {
      r.bytes += c.length;
      chunks.push(c);
    });
    // After an early answer Node's server no longer reports the request's close: its connection's.
    // (Taken off again when the request does close: a keep-alive connection would gather one per request.)
    const onConnectionClose = () => closed();
    req.socket.once('close', onConnectionClose);
    req.once('close', () => {
      req.socket?.off('close', onConnectionClose);
      closed();
    });
    if (new URL(r.url, 'http://appb.invalid').pathname === SESSION_PATH) {
      req.resume();
      session(req, res);
      return;
    }
    const answer = opts.answer?.(r) ?? { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: r.url, user: req.headers['x-forwarded-user'] ?? null }) };
    const respond = () => {
      if (res.writableEnded) return;
      res.writeHead(answer.status ?? 200, answer.headers ?? {});
      res.end(answer.body ?? '');
    };
    if (answer.early) respond();
    const delay = typeof opts.delayMs === 'function' ? opts.delayMs(r) : (opts.delayMs ?? 0);
    let bodyIn = false;
    let waited = delay <= 0;
    const timer = waited ? undefined : setTimeout(() => ((waited = true), bodyIn && respond()), delay);
    req.on('end', () => {
      r.complete = true;
      bodyIn = true;
      if (waited) respond();
    });
    res.on('close', () => clearTimeout(timer));
  });
  server.on('connection', () => state.connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    requests,
    connections: () => state.connections,
    login(user) {
      const sid = randomBytes(16).toString('hex');
      sessions.set(sid, user);
      return `JSESSIONID=${sid}`;
    },
    logout(cookie) {
      sessions.delete(cookie.replace(/^JSESSIONID=/, ''));
    },
    get sessionChecks() {
      return state.sessionChecks;
    },
    set sessionChecks(n: number) {
      state.sessionChecks = n;
    },
    get failWith() {
      return state.failWith;
    },
    set failWith(n: number) {
      state.failWith = n;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
