// WebSocket upgrades to AppB: the same verification, stripping and identity as HTTP requests,
// then http-proxy joins the two sockets. Refusals are written to the raw socket.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Gateway } from '../gateway.js';
import { isOAuthProblem, problemBody, wwwAuthenticate } from '../oauth1/index.js';
import { requestIdOf } from '../http/request.js';
import { logRequest, type RequestFacts } from '../ops/request-facts.js';
import { StoreUnavailableError } from '../store/types.js';
import { compiledOf } from './compiled.js';
import { forwarderOf } from './index.js';
import { planForward } from './plan.js';

function writeResponse(socket: Duplex, status: number, headers: Record<string, string>, body: string): void {
  if (!socket.writable) return;
  const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`];
  const all: Record<string, string> = { ...headers, 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close', 'Cache-Control': 'no-store' };
  for (const [name, value] of Object.entries(all)) lines.push(`${name}: ${value}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/**
 * An upgrade the gateway does not proxy: another protocol (e.g. h2c, which AppB's side would never
 * see as HTTP/1.1 again) → 501; a WebSocket handshake that is not a GET (RFC 6455 4.1) → 400.
 */
function unsupportedUpgrade(req: http.IncomingMessage): { status: number; message: string } | null {
  const protocol = (req.headers.upgrade ?? '').trim();
  if (protocol.toLowerCase() !== 'websocket') {
    return {
      status: 501,
      message: `Upgrade ${JSON.stringify(protocol.slice(0, 100))} is not supported: the gateway upgrades only to WebSocket. Send the request without Upgrade (HTTP/1.1).`,
    };
  }
  if (req.method !== 'GET') return { status: 400, message: `A WebSocket handshake must be a GET request, not ${JSON.stringify((req.method ?? '').slice(0, 20))}.` };
  return null;
}

export function attachUpgradeHandler(server: http.Server, gw: Gateway): void {
  // The keep-alive sockets to AppB go with the public listener.
  server.once('close', () => forwarderOf(gw).close());
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const facts: RequestFacts = { requestId: requestIdOf(req) };
    const startedNs = process.hrtime.bigint();
    let status = 101;
    socket.once('close', () => {
      logRequest(gw, facts, {
        method: req.method,
        path: (req.url ?? '/').split('?', 1)[0] ?? '/',
        upgrade: true,
        status,
        startedNs,
        remote: req.socket.remoteAddress,
        aborted: false,
      });
    });
    const refuse = (s: number, headers: Record<string, string>, body: string) => {
      status = s;
      writeResponse(socket, s, headers, body);
    };

    // Node hands every request with Upgrade here; only WebSocket is proxied. Anything else gets an
    // answer before any verification (no nonce spent) and the connection closes.
    const unsupported = unsupportedUpgrade(req);
    if (unsupported) {
      facts.outcome = 'refused';
      refuse(unsupported.status, { 'Content-Type': 'text/plain; charset=utf-8' }, `${unsupported.message}\n`);
      return;
    }

    const cfg = gw.cfg();
    planForward(gw, cfg, req, facts, { upgrade: true }).then(
      (plan) =>
        forwarderOf(gw).ws(req, socket, head, plan, {
          refuse: (s, message) => refuse(s, { 'Content-Type': 'text/plain; charset=utf-8' }, `${message}\n`),
          answered: (s) => (status = s),
        }),
      (err: unknown) => {
        if (isOAuthProblem(err)) {
          facts.problem = err.problem;
          facts.outcome = 'refused';
          refuse(
            err.status,
            {
              'WWW-Authenticate': wwwAuthenticate(compiledOf(cfg).realm, err),
              'Content-Type': 'application/x-www-form-urlencoded',
              ...(err.retryAfterSeconds !== undefined && { 'Retry-After': String(err.retryAfterSeconds) }),
            },
            problemBody(err),
          );
        } else if (err instanceof StoreUnavailableError) {
          facts.outcome = 'store_unavailable';
          gw.metrics.storeErrors.inc();
          refuse(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '2' }, 'The gateway cannot reach its token store right now; try again shortly.\n');
        } else {
          const e = err as { status?: number; expose?: boolean; message?: string };
          if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) {
            facts.outcome = 'refused';
            refuse(e.status, { 'Content-Type': 'text/plain; charset=utf-8' }, `${e.message ?? 'Bad request'}\n`);
            return;
          }
          facts.outcome = 'error';
          gw.log.error({ requestId: facts.requestId, err }, 'unhandled error in upgrade');
          refuse(500, { 'Content-Type': 'text/plain; charset=utf-8' }, 'Internal error\n');
        }
      },
    );
  });
}
