// WebSocket upgrades to AppB: the same verification, stripping and identity as HTTP requests,
// then http-proxy joins the two sockets. Refusals are written to the raw socket.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Gateway } from '../gateway.js';
import { isOAuthProblem, problemBody, wwwAuthenticate } from '../oauth1/index.js';
import { logRequest, requestIdOf, type RequestFacts } from '../ops/request-context.js';
import { StoreUnavailableError } from '../store/types.js';
import { forwarderOf } from './index.js';
import { planForward } from './plan.js';

function writeResponse(socket: Duplex, status: number, headers: Record<string, string>, body: string): void {
  if (!socket.writable) return;
  const lines = [`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}`];
  const all: Record<string, string> = { ...headers, 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close', 'Cache-Control': 'no-store' };
  for (const [name, value] of Object.entries(all)) lines.push(`${name}: ${value}`);
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
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

    const cfg = gw.cfg();
    planForward(gw, cfg, req, facts, { upgrade: true }).then(
      (plan) => forwarderOf(gw).ws(req, socket, head, plan, (s, message) => refuse(s, { 'Content-Type': 'text/plain; charset=utf-8' }, `${message}\n`)),
      (err: unknown) => {
        if (isOAuthProblem(err)) {
          facts.problem = err.problem;
          facts.outcome = 'refused';
          refuse(
            err.status,
            { 'WWW-Authenticate': wwwAuthenticate(cfg.publicBaseUrl.href.replace(/\/$/, ''), err), 'Content-Type': 'application/x-www-form-urlencoded' },
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
