// Forwarding to AppB over keep-alive agents: the exact request-target, bodies streamed (or a
// rewritten form body), AppB down → 502, slower than upstream.timeoutMs → 504, AppB's own OAuth
// refusal of an identity request → 502 (DESIGN.md sections 2 and 3). HTTP requests go out with
// one http.request each (README "Performance": http-proxy's per-request set-up was measured and
// is not needed); WebSocket handshakes still go through http-proxy, which joins the two sockets.
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Readable, pipeline } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Gateway } from '../gateway.js';
import type { Flow } from '../ops/metrics.js';
import type { RequestFacts } from '../ops/request-facts.js';
import type { UpstreamTarget } from './compiled.js';
import { downstreamHeaderList } from './headers.js';
import { LateOAuthParameterError, type FormNameGuard } from './form-guard.js';
import { GatewayError, gatewayFields, upstreamBadResponse, upstreamRefusedGateway, upstreamUnreachable } from '../errors/index.js';
import { writeErrorResponse } from '../http/answer.js';

// http-proxy rebuilds the path with url.parse and collapses '//' (it would send '/a/b' for
// '/a//b', and '\' as '/'); for WebSocket handshakes the agent puts back the exact request-target
// the gateway signed, before the request line is written. The per-request value travels in the
// `ssl` base object, which http-proxy hands to http.request as its options.
const EXACT_PATH = 'applinkExactPath';

interface AgentInternals {
  addRequest(req: http.ClientRequest, options: Record<string, unknown>): void;
}

function withExactPath<T extends http.Agent>(agent: T): T {
  const internals = agent as unknown as AgentInternals;
  const addRequest = internals.addRequest.bind(agent);
  internals.addRequest = (req, options) => {
    const exact = options[EXACT_PATH];
    if (typeof exact === 'string') {
      // Headers already stored would carry the rewritten path: never the case without Expect (stripped).
      if ((req as unknown as { _header: unknown })._header) throw new Error('request line already written');
      req.path = exact;
    }
    addRequest(req, options);
  };
  return agent;
}

// Response-queue poisoning (RFC 9112 6.3): on a keep-alive connection, bytes AppB sends that
// answer no request in flight (a body on a HEAD, 204 or 304, bytes after a complete response)
// would be read as the answer to the next request on that connection, another user's. So a
// connection goes back to the pool only after a response that cannot have left bytes behind,
// and one that receives bytes while no response is being read is closed. Both hooks are per
// agent and per socket: nothing is added to the per-request path.

interface PooledSocket extends Socket {
  /** Node's HTTP client parser while a response is being read; null between responses. */
  parser?: unknown;
  /** The request the socket serves (Node's ClientRequest), null while pooled. */
  _httpMessage?: (http.ClientRequest & { res?: http.IncomingMessage | null }) | null;
}

/** After this answer, AppB may still send bytes nobody asked for: the connection is not reused. */
function mayHoldUnreadBytes(socket: PooledSocket): boolean {
  const req = socket._httpMessage;
  const res = req?.res;
  if (!req || !res || !res.complete) return true;
  const status = res.statusCode ?? 0;
  return (
    req.method === 'HEAD' ||
    status < 200 ||
    status === 204 ||
    status === 304 ||
    // Bytes already read but not parsed, or a paused socket (its bytes wait in the kernel, unseen).
    socket.readableLength > 0 ||
    socket.readableFlowing === false
  );
}

function noReuseOfUnsafeSockets<T extends http.Agent>(agent: T, onStray: (socket: PooledSocket) => void): T {
  // Runs before the agent's own 'free' handler, which then finds the socket destroyed and drops it
  // (also on the path that hands a freed socket straight to a queued request, skipping keepSocketAlive).
  agent.prependListener('free', (socket: PooledSocket) => {
    if (mayHoldUnreadBytes(socket)) socket.destroy();
  });
  // Node's client reads a socket only while a response parser is attached; between responses
  // (after a complete response, while pooled) bytes are silently dropped, or wait for the next
  // request's parser. Seen here first: the connection is closed instead.
  const strayData = function (this: PooledSocket) {
    if (this.parser == null) onStray(this);
  };
  const internals = agent as unknown as { createConnection(options: unknown, cb: unknown): Socket | undefined };
  const createConnection = internals.createConnection.bind(agent);
  internals.createConnection = (options, cb) => {
    const socket = createConnection(options, cb);
    socket?.on('data', strayData);
    return socket;
  };
  return agent;
}

/** AppB did not answer within upstream.timeoutMs (socket idle that long): 504, upstream_timeout. */
class UpstreamTimeoutError extends GatewayError {
  constructor(ms: number) {
    super(`AppB did not answer within ${ms} ms.`);
    gatewayFields(this, 504, 'upstream_timeout', { expose: true });
    this.name = 'UpstreamTimeoutError';
  }
}

export interface ForwardPlan {
  flow: Flow;
  /** The exact request-target for AppB (path + ?query). */
  path: string;
  /** Replaces req.headers for the outgoing request (framing headers included). */
  headers: http.OutgoingHttpHeaders;
  /** The body to send instead of streaming the request (a form body already read). */
  body?: Buffer;
  /** An unsigned form body beyond the limit: `first` (read already), then the rest of the request, through `guard`. */
  streamedBody?: { first: Buffer; guard: FormNameGuard };
  /** The gateway set an identity: AppB's OAuth refusal must not reach AppA as such. */
  identity: boolean;
  /** upstream.url (compiled as the request target) and upstream.timeoutMs of the configuration the request was verified with. */
  upstream: UpstreamTarget;
  timeoutMs: number;
  linkId?: string;
  facts: RequestFacts;
}

/** How a WebSocket handshake ended, for the caller's answer and request log. */
export interface UpgradeAnswers {
  /** The gateway answers itself (AppB unreachable, or refusing the gateway's credentials) and closes. */
  refuse(err: GatewayError): void;
  /** AppB's answer was passed on with this status (101: upgraded). */
  answered(status: number): void;
}

export interface Forwarder {
  web(req: http.IncomingMessage, res: http.ServerResponse, plan: ForwardPlan): Promise<void>;
  ws(req: http.IncomingMessage, socket: Duplex, head: Buffer, plan: ForwardPlan, upgrade: UpgradeAnswers): void;
  close(): void;
}

// Free sockets are closed before a typical upstream keep-alive timeout (Node: 5 s) would close them under us.
const FREE_SOCKET_TIMEOUT_MS = 4000;

// Visible ASCII, space and tab: what a reason phrase may be when passed on (RFC 9112 4 allows obs-text; Node and clients vary).
const SAFE_REASON = /^[\t\x20-\x7e]*$/;

/** The gateway's own answer about AppB (never cached), by the one renderer (src/http/answer.ts). */
function plainError(res: http.ServerResponse, err: GatewayError, closing: boolean, requestId: string): void {
  res.setHeader('Cache-Control', 'no-store');
  // No OAuth problem comes this way: the realm is never used.
  writeErrorResponse(res, err, '', closing, requestId);
}

/** One OAuth problem name from AppB's WWW-Authenticate, for the log (no secrets in it). */
function upstreamProblem(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header.join(', ') : header;
  return value ? /oauth_problem="([^"]*)"/.exec(value)?.[1] : undefined;
}

function isOAuthChallenge(header: string | string[] | undefined): boolean {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  return values.some((v) => /^\s*oauth(\s|$)/i.test(v));
}

/**
 * The body of plan.streamedBody to send: `first`, then the request's own chunks as
 * the guard lets them pass. At a guarded name `refuse` is called and nothing more is sent (the
 * request stays paused, so the client can still be answered).
 */
function guardedBody(req: http.IncomingMessage, s: NonNullable<ForwardPlan['streamedBody']>, refuse: (err: Error) => void): Readable {
  const out = new Readable({ read: () => void req.resume() });
  const stop = (err: unknown) => {
    req.pause();
    req.off('data', onData);
    req.off('end', onEnd);
    refuse(err as Error);
  };
  const onData = (chunk: Buffer) => {
    let pass: Buffer;
    try {
      pass = s.guard.push(chunk);
    } catch (err) {
      return stop(err);
    }
    if (pass.length > 0 && !out.push(pass)) req.pause();
  };
  const onEnd = () => {
    try {
      const rest = s.guard.end();
      if (rest.length > 0) out.push(rest);
    } catch (err) {
      return stop(err);
    }
    out.push(null);
  };
  if (s.first.length > 0) out.push(s.first);
  // The request is paused (readBodyPrefix): a 'data' listener does not start it, out.read() does.
  req.on('data', onData);
  req.on('end', onEnd);
  // The client went away: the forwarder aborts the upstream request; this stream is simply dropped.
  req.once('close', () => {
    if (!req.complete) out.destroy();
  });
  return out;
}

/**
 * AppB's response body to the client. A body cut short on either side ends the other: the client
 * gets a truncated response (never a hang), and AppB's connection is dropped rather than pooled
 * with unread bytes. (stream.pipeline does the same at the price of an AbortController per call.)
 */
function relay(proxyRes: http.IncomingMessage, res: http.ServerResponse): void {
  proxyRes.on('error', () => undefined);
  proxyRes.once('close', () => {
    if (!proxyRes.complete) res.destroy();
  });
  // (The other way round, the client gone, is the forwarder's close handler: it destroys AppB's request.)
  proxyRes.pipe(res);
}

export function createForwarder(gw: Gateway): Forwarder {
  const onStray = (socket: PooledSocket) => {
    gw.log.warn({ upstream: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}` }, 'AppB sent bytes outside of any response; its connection was closed');
    socket.destroy();
  };
  const agents = {
    http: noReuseOfUnsafeSockets(new http.Agent({ keepAlive: true, scheduling: 'lifo', timeout: FREE_SOCKET_TIMEOUT_MS }), onStray),
    https: noReuseOfUnsafeSockets(new https.Agent({ keepAlive: true, scheduling: 'lifo', timeout: FREE_SOCKET_TIMEOUT_MS }), onStray),
    // Upgraded sockets leave the pool anyway: no keep-alive.
    wsHttp: withExactPath(new http.Agent({ keepAlive: false })),
    wsHttps: withExactPath(new https.Agent({ keepAlive: false })),
  };
  const proxy = httpProxy.createProxyServer({ xfwd: false, prependPath: false, selfHandleResponse: true });
  const inflightWs = new WeakMap<http.IncomingMessage, { plan: ForwardPlan } & UpgradeAnswers>();
  // http-proxy ends AppB's socket only when the client's ends cleanly: a destroyed one (grace period
  // over, network gone) must take AppB's side with it, and the other way round.
  proxy.on('proxyReqWs', (proxyReq: http.ClientRequest, req: http.IncomingMessage, socket: Duplex) => {
    proxyReq.once('upgrade', (_res: http.IncomingMessage, proxySocket: Duplex) => {
      inflightWs.get(req)?.answered(101);
      socket.once('close', () => proxySocket.destroy());
      proxySocket.once('close', () => socket.destroy());
    });
    // http-proxy writes a non-101 answer to the client's socket as it came (hop-by-hop headers,
    // AppB's OAuth refusal and all). Its 'response' listener is added right after this event,
    // before the request is sent, so it is replaced on the next tick, before any answer can arrive.
    process.nextTick(() => {
      proxyReq.removeAllListeners('response');
      proxyReq.on('response', (proxyRes: http.IncomingMessage) => upgradeRefused(proxyReq, proxyRes, req, socket));
    });
  });
  // The client went away mid-request: http-proxy aborts the upstream request; nothing to answer.
  proxy.on('econnreset', () => undefined);
  proxy.on('error', (err) => gw.log.debug({ err: err.message }, 'proxy error without a handler'));

  function web(req: http.IncomingMessage, res: http.ServerResponse, plan: ForwardPlan): Promise<void> {
    const { facts, timeoutMs, upstream } = plan;
    const started = process.hrtime.bigint();

    return new Promise<void>((resolve) => {
      // The client left while the request was being verified: its 'close' has passed, and AppB gets
      // nothing. (Not req.destroyed: a request whose body was read is destroyed once consumed.)
      if (res.destroyed) {
        resolve();
        return;
      }
      let upstreamReq: http.ClientRequest | undefined;
      let upstreamRes: http.IncomingMessage | undefined;
      // The client went away (or the answer is done): an upstream exchange still running goes with it.
      res.once('close', () => {
        if (upstreamReq !== undefined && upstreamRes?.complete !== true) upstreamReq.destroy();
        resolve();
      });
      const observe = () => gw.metrics.observeUpstream(plan.flow, Number(process.hrtime.bigint() - started) / 1e9);

      const onResponse = (proxyRes: http.IncomingMessage) => {
        upstreamRes = proxyRes;
        observe();
        const status = proxyRes.statusCode ?? 502;
        facts.upstreamStatus = status;
        // Passing AppB's refusal through would make AppA delete a good token.
        if (plan.identity && status === 401 && isOAuthChallenge(proxyRes.headers['www-authenticate'])) {
          proxyRes.resume();
          gw.metrics.upstreamOAuthRefusals.inc({ link: plan.linkId ?? '' });
          gw.log.warn(
            { requestId: facts.requestId, link: plan.linkId, upstreamProblem: upstreamProblem(proxyRes.headers['www-authenticate']) },
            "AppB refused the gateway's re-signed request (check AppB's incoming link for the gateway)",
          );
          facts.outcome = 'upstream_error';
          // The rest of the client's body will not be read: its connection ends with this answer.
          if (!req.complete) res.setHeader('Connection', 'close');
          plainError(res, upstreamRefusedGateway(), gw.shuttingDown, facts.requestId);
          return;
        }
        const bad = (why: string) => {
          proxyRes.resume();
          for (const name of res.getHeaderNames()) if (name !== 'x-request-id') res.removeHeader(name);
          gw.log.warn({ requestId: facts.requestId, upstreamStatus: status, reason: why }, 'AppB sent a response the gateway cannot pass on');
          facts.outcome = 'upstream_error';
          if (!req.complete) res.setHeader('Connection', 'close');
          plainError(res, upstreamBadResponse(why), gw.shuttingDown, facts.requestId);
        };
        // Node's client parser takes any three digits; writeHead throws on some, and a throw here is uncaught (an event handler).
        if (!Number.isInteger(status) || status < 100 || status > 599) {
          bad(`status ${status} outside 100-599`);
          return;
        }
        try {
          // One flat [name, value, ...] list: writeHead takes it as is, with no per-header setHeader.
          const head = downstreamHeaderList(proxyRes.rawHeaders, proxyRes.headers.connection);
          // AppB's own X-Request-Id wins, as any response header it sets would.
          if (proxyRes.headers['x-request-id'] === undefined) head.push('X-Request-Id', facts.requestId);
          // While shutting down, answers end their connection: keep-alive clients reconnect to a
          // replica that is still in the Service instead of reusing a socket that is about to close.
          if (gw.shuttingDown) head.push('Connection', 'close');
          // A reason phrase Node would refuse (e.g. DEL) is replaced by the standard one.
          const reason = proxyRes.statusMessage;
          if (reason !== undefined && SAFE_REASON.test(reason)) res.writeHead(status, reason, head);
          else res.writeHead(status, head);
        } catch (err) {
          bad((err as NodeJS.ErrnoException).code ?? 'invalid response head');
          return;
        }
        relay(proxyRes, res);
      };

      const onError = (err: Error) => {
        if (err instanceof LateOAuthParameterError) {
          facts.outcome = 'refused';
          gw.log.info({ requestId: facts.requestId, param: err.paramName }, 'unsigned form body beyond the limit named an OAuth parameter: upstream request aborted');
          // AppB answered without the rest of the body: a complete answer goes on, a partial one is cut.
          if (res.headersSent) {
            if (!upstreamRes?.complete) res.destroy();
            // The rest of the client's body is never read: the connection ends with this answer.
            else if (res.writableFinished) req.destroy();
            else res.once('finish', () => req.destroy());
            return;
          }
          plainError(res, err, gw.shuttingDown, facts.requestId);
          return;
        }
        if (res.headersSent) {
          // Bytes after a complete answer (e.g. a body on a HEAD) fail AppB's connection, not this
          // answer: it is passed on whole, and the connection is gone (never reused).
          if (upstreamRes?.complete) {
            gw.log.warn({ requestId: facts.requestId, err: (err as NodeJS.ErrnoException).code ?? err.message }, 'AppB sent bytes after a complete response; its connection was closed');
            return;
          }
          res.destroy();
          return;
        }
        facts.outcome = 'upstream_error';
        // An unread rest of the request body would stall this connection: answer and close it.
        if (!req.complete) res.setHeader('Connection', 'close');
        if (err instanceof UpstreamTimeoutError) {
          observe();
          gw.log.warn({ requestId: facts.requestId, timeoutMs }, 'AppB timed out');
          plainError(res, err, gw.shuttingDown, facts.requestId);
        } else {
          gw.log.warn({ requestId: facts.requestId, err: (err as NodeJS.ErrnoException).code ?? err.message }, 'AppB unreachable');
          plainError(res, upstreamUnreachable((err as NodeJS.ErrnoException).code, err), gw.shuttingDown, facts.requestId);
        }
      };
      // An error of either side: a client that went away needs no answer (its socket is gone), anything else does.
      const onExchangeError = (err: Error) => {
        if (req.socket.destroyed && (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
          upstreamReq?.destroy();
          return;
        }
        onError(err);
      };

      try {
        // The exact request-target the gateway signed, as is: no URL parsing, no '//' collapsing.
        const tls = upstream.protocol === 'https:';
        upstreamReq = (tls ? https : http).request({
          protocol: upstream.protocol,
          hostname: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: plan.path,
          headers: plan.headers,
          agent: tls ? agents.https : agents.http,
          // Certificates are checked whatever NODE_TLS_REJECT_UNAUTHORIZED says, as http-proxy did (plain http ignores it).
          rejectUnauthorized: true,
        });
      } catch (err) {
        // http.request refused the request synchronously (a header value it will not send): answer, never hang.
        gw.log.error({ requestId: facts.requestId, err }, 'could not start the upstream request');
        onError(err as Error);
        return;
      }
      const proxyReq = upstreamReq;
      // Idle that long (the socket's own timer, re-armed by traffic): 504.
      proxyReq.setTimeout(timeoutMs, () => proxyReq.destroy(new UpstreamTimeoutError(timeoutMs)));
      proxyReq.on('error', onExchangeError);
      proxyReq.on('response', onResponse);
      // A pipelined request whose answer still waits its turn gets no 'close' of its own when the
      // client leaves; Node aborts the request itself.
      req.once('aborted', () => {
        if (upstreamRes?.complete !== true) proxyReq.destroy();
      });

      if (plan.body !== undefined) {
        proxyReq.end(plan.body);
      } else if (plan.streamedBody) {
        // AppB must never get all of a body naming an OAuth parameter: its request is destroyed mid-body.
        guardedBody(req, plan.streamedBody, (err) => proxyReq.destroy(err)).pipe(proxyReq);
        // AppB answered before the streamed body ended: the rest is not sent (nor read), the connection ends.
        res.once('finish', () => {
          if (req.complete) return;
          proxyReq.destroy();
          req.destroy();
        });
        req.on('error', onExchangeError);
      } else if (plan.headers['content-length'] !== undefined || plan.headers['transfer-encoding'] !== undefined) {
        // A body the gateway does not read: streamed as it comes, with the client's own framing.
        req.on('error', onExchangeError);
        req.pipe(proxyReq);
      } else {
        // A DELETE or OPTIONS without a body says so with a zero length, as it always reached AppB (http-proxy set it).
        if ((req.method === 'DELETE' || req.method === 'OPTIONS') && !proxyReq.hasHeader('content-length')) proxyReq.setHeader('Content-Length', '0');
        proxyReq.end();
      }
    });
  }

  /**
   * AppB answered a WebSocket handshake without upgrading: the rules of an HTTP answer (AppB's
   * OAuth refusal of an identity request → 502, hop-by-hop headers removed), then the
   * connection is closed, which also delimits the body.
   */
  function upgradeRefused(proxyReq: http.ClientRequest, proxyRes: http.IncomingMessage, req: http.IncomingMessage, socket: Duplex): void {
    const pending = inflightWs.get(req);
    if (!pending) {
      proxyReq.destroy();
      socket.destroy();
      return;
    }
    const { plan } = pending;
    const { facts } = plan;
    const status = proxyRes.statusCode ?? 502;
    facts.upstreamStatus = status;
    const drop = () => {
      proxyRes.resume();
      proxyRes.once('end', () => proxyReq.destroy());
    };
    if (plan.identity && status === 401 && isOAuthChallenge(proxyRes.headers['www-authenticate'])) {
      drop();
      gw.metrics.upstreamOAuthRefusals.inc({ link: plan.linkId ?? '' });
      gw.log.warn(
        { requestId: facts.requestId, link: plan.linkId, upstreamProblem: upstreamProblem(proxyRes.headers['www-authenticate']), upgrade: true },
        "AppB refused the gateway's re-signed request (check AppB's incoming link for the gateway)",
      );
      facts.outcome = 'upstream_error';
      pending.refuse(upstreamRefusedGateway());
      return;
    }
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      drop();
      gw.log.warn({ requestId: facts.requestId, upstreamStatus: status, reason: `status ${status}`, upgrade: true }, 'AppB sent a response the gateway cannot pass on');
      facts.outcome = 'upstream_error';
      pending.refuse(upstreamBadResponse(`status ${status}`));
      return;
    }
    if (!socket.writable) {
      proxyReq.destroy();
      return;
    }
    const reason = proxyRes.statusMessage !== undefined && SAFE_REASON.test(proxyRes.statusMessage) ? proxyRes.statusMessage : (http.STATUS_CODES[status] ?? '');
    const lines = [`HTTP/1.1 ${status} ${reason}`];
    const kept = downstreamHeaderList(proxyRes.rawHeaders, proxyRes.headers.connection);
    for (let i = 0; i + 1 < kept.length; i += 2) lines.push(`${kept[i]}: ${kept[i + 1]}`);
    // Transfer-Encoding went with the hop-by-hop headers: the body (de-chunked) ends with the connection.
    lines.push('Connection: close');
    pending.answered(status);
    // Header values as Node read them (latin1), byte for byte.
    socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    pipeline(proxyRes, socket, () => proxyReq.destroy());
  }

  function ws(req: http.IncomingMessage, socket: Duplex, head: Buffer, plan: ForwardPlan, upgrade: UpgradeAnswers): void {
    const { upstream } = plan;
    req.headers = plan.headers as http.IncomingHttpHeaders;
    let answered = false;
    socket.once('close', () => inflightWs.delete(req));
    inflightWs.set(req, {
      plan,
      refuse: upgrade.refuse,
      answered(status) {
        answered = true;
        upgrade.answered(status);
      },
    });
    const failed = (err: Error) => {
      // After AppB's answer began (or the upgrade), an HTTP refusal would land inside it: the connection just goes.
      if (answered) {
        socket.destroy();
        return;
      }
      plan.facts.outcome = 'upstream_error';
      upgrade.refuse(upstreamUnreachable((err as NodeJS.ErrnoException).code, err));
    };
    try {
      proxy.ws(req, socket, head, { target: upstream as unknown as httpProxy.ProxyTargetUrl, agent: upstream.protocol === 'https:' ? agents.wsHttps : agents.wsHttp, ssl: { [EXACT_PATH]: plan.path } }, failed);
    } catch (err) {
      failed(err as Error);
    }
  }

  return {
    web,
    ws,
    close() {
      for (const a of Object.values(agents)) a.destroy();
      proxy.close();
    },
  };
}
