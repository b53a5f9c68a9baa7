// A tiny AppB for userAuth upstream-session: Jira's session endpoint answered from a cookie,
// and a login page that starts a session. Counts session checks to show the gateway's cache.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface TestAppB {
  url: string;
  /** Starts a session for `user` (as AppB's own login would) and returns the Cookie header value. */
  login(user: string): string;
  logout(cookie: string): void;
  sessionChecks: number;
  /** Makes the session endpoint fail (status) or hang (-1) until reset with 0. */
  failWith: number;
  close(): Promise<void>;
}

export async function startAppB(): Promise<TestAppB> {
  const sessions = new Map<string, string>();
  const state = { sessionChecks: 0, failWith: 0 };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://appb.invalid');
    if (url.pathname === '/rest/auth/1/session') {
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
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
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
