// WebSocket upgrades to AppB: the same verification, stripping and identity as HTTP requests,
// then http-proxy joins the two sockets. Refusals are written to the raw socket.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Gateway } from '../gateway.js';
import { GatewayError, upgradeNotGet, upgradeUnsupported } from '../errors/index.js';
import { errorToAnswer, writeErrorToSocket } from '../http/answer.js';
import { requestIdOf } from '../http/request.js';
import { logRequest, type RequestFacts } from '../ops/request-facts.js';
import { compiledOf } from './compiled.js';
import { forwarderOf } from './index.js';
import { planForward } from './plan.js';

/**
 * An upgrade the gateway does not proxy: another protocol (e.g. h2c, which AppB's side would never
 * see as HTTP/1.1 again) → 501; a WebSocket handshake that is not a GET (RFC 6455 4.1) → 400.
 */
function unsupportedUpgrade(req: http.IncomingMessage): GatewayError | null {
  const protocol = (req.headers.upgrade ?? '').trim();
  if (protocol.toLowerCase() !== 'websocket') return upgradeUnsupported(protocol);
  if (req.method !== 'GET') return upgradeNotGet(req.method ?? '');
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
    // One configuration for the whole handshake, even if a reload lands meanwhile.
    const cfg = gw.cfg();
    const refuse = (e: GatewayError) => {
      status = e.status;
      writeErrorToSocket(socket, e, compiledOf(cfg).realm);
    };

    // Node hands every request with Upgrade here; only WebSocket is proxied. Anything else gets an
    // answer before any verification (no nonce spent) and the connection closes.
    const unsupported = unsupportedUpgrade(req);
    if (unsupported) {
      facts.outcome = 'refused';
      refuse(unsupported);
      return;
    }

    planForward(gw, cfg, req, facts, { upgrade: true }).then(
      (plan) =>
        forwarderOf(gw).ws(req, socket, head, plan, {
          refuse,
          answered: (s) => (status = s),
        }),
      (err: unknown) => {
        // No body is read on a handshake: nothing to find cut short.
        const e = errorToAnswer(err, null, facts, gw, 'unhandled error in upgrade');
        if (e !== null) refuse(e);
      },
    );
  });
}
