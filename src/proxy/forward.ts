// Forwarding to AppB with http-proxy over keep-alive agents: the exact request-target, bodies
// streamed (or a rewritten form body), AppB down → 502, slower than upstream.timeoutMs → 504,
// AppB's own OAuth refusal of an identity request → 502 (DESIGN.md sections 2 and 3).
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Gateway } from '../gateway.js';
import type { Flow } from '../ops/metrics.js';
import type { RequestFacts } from '../ops/request-context.js';
import type { UpstreamTarget } from './compiled.js';
import { downstreamHeaderList } from './headers.js';

// http-proxy rebuilds the path with url.parse and collapses '//' (it would send '/a/b' for
// '/a//b', and '\' as '/'); the agent puts back the exact request-target the gateway signed,
// before the request line is written. The per-request value travels in the `ssl` base object,
// which http-proxy hands to http.request as its options.
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

/** AppB did not answer within upstream.timeoutMs (socket idle that long). */
class UpstreamTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer from AppB within ${ms} ms`);
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
  /** The gateway set an identity: AppB's OAuth refusal must not reach AppA as such. */
  identity: boolean;
  /** upstream.url (compiled as http-proxy's target) and upstream.timeoutMs of the configuration the request was verified with. */
  upstream: UpstreamTarget;
  timeoutMs: number;
  linkId?: string;
  facts: RequestFacts;
}

interface Inflight {
  onProxyReq(proxyReq: http.ClientRequest): void;
  onProxyRes(proxyRes: http.IncomingMessage): void;
}

export interface Forwarder {
  web(req: http.IncomingMessage, res: http.ServerResponse, plan: ForwardPlan): Promise<void>;
  ws(req: http.IncomingMessage, socket: Duplex, head: Buffer, plan: ForwardPlan, onError: (status: number, message: string) => void): void;
  close(): void;
}

// Free sockets are closed before a typical upstream keep-alive timeout (Node: 5 s) would close them under us.
const FREE_SOCKET_TIMEOUT_MS = 4000;

// Visible ASCII, space and tab: what a reason phrase may be when passed on (RFC 9112 4 allows obs-text; Node and clients vary).
const SAFE_REASON = /^[\t\x20-\x7e]*$/;

function plainError(res: http.ServerResponse, status: number, message: string, closing: boolean, requestId: string): void {
  res.statusCode = status;
  res.setHeader('X-Request-Id', requestId);
  if (closing) res.setHeader('Connection', 'close');
  res.setHeader('Content-Length', Buffer.byteLength(message) + 1);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`${message}\n`);
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
 * AppB's response body to the client. A body cut short on either side ends the other: the client
 * gets a truncated response (never a hang), and AppB's connection is dropped rather than pooled
 * with unread bytes. (stream.pipeline does the same at the price of an AbortController per call.)
 */
function relay(proxyRes: http.IncomingMessage, res: http.ServerResponse): void {
  proxyRes.on('error', () => undefined);
  proxyRes.once('close', () => {
    if (!proxyRes.complete) res.destroy();
  });
  res.once('close', () => {
    if (!proxyRes.complete) proxyRes.destroy();
  });
  proxyRes.pipe(res);
}

export function createForwarder(gw: Gateway): Forwarder {
  const agents = {
    http: withExactPath(new http.Agent({ keepAlive: true, scheduling: 'lifo', timeout: FREE_SOCKET_TIMEOUT_MS })),
    https: withExactPath(new https.Agent({ keepAlive: true, scheduling: 'lifo', timeout: FREE_SOCKET_TIMEOUT_MS })),
    // Upgraded sockets leave the pool anyway: no keep-alive.
    wsHttp: withExactPath(new http.Agent({ keepAlive: false })),
    wsHttps: withExactPath(new https.Agent({ keepAlive: false })),
  };
  const proxy = httpProxy.createProxyServer({ xfwd: false, prependPath: false, selfHandleResponse: true });
  const inflight = new WeakMap<http.IncomingMessage, Inflight>();
  proxy.on('proxyReq', (proxyReq, req) => inflight.get(req)?.onProxyReq(proxyReq));
  proxy.on('proxyRes', (proxyRes, req) => inflight.get(req)?.onProxyRes(proxyRes));
  // http-proxy ends AppB's socket only when the client's ends cleanly: a destroyed one (grace period
  // over, network gone) must take AppB's side with it, and the other way round.
  proxy.on('proxyReqWs', (proxyReq: http.ClientRequest, _req: http.IncomingMessage, socket: Duplex) => {
    proxyReq.once('upgrade', (_res: http.IncomingMessage, proxySocket: Duplex) => {
      socket.once('close', () => proxySocket.destroy());
      proxySocket.once('close', () => socket.destroy());
    });
  });
  // The client went away mid-request: http-proxy aborts the upstream request; nothing to answer.
  proxy.on('econnreset', () => undefined);
  proxy.on('error', (err) => gw.log.debug({ err: err.message }, 'proxy error without a handler'));

  function web(req: http.IncomingMessage, res: http.ServerResponse, plan: ForwardPlan): Promise<void> {
    const { facts, timeoutMs, upstream } = plan;
    const started = process.hrtime.bigint();
    req.headers = plan.headers as http.IncomingHttpHeaders;

    return new Promise<void>((resolve) => {
      res.once('close', () => resolve());
      const observe = () => gw.metrics.observeUpstream(plan.flow, Number(process.hrtime.bigint() - started) / 1e9);

      inflight.set(req, {
        onProxyReq(proxyReq) {
          proxyReq.setTimeout(timeoutMs, () => proxyReq.destroy(new UpstreamTimeoutError(timeoutMs)));
        },
        onProxyRes(proxyRes) {
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
            plainError(res, 502, "AppB refused the gateway's credentials for this request. The request was verified by the gateway; this is a configuration problem between the gateway and AppB, not a problem with your token.", gw.shuttingDown, facts.requestId);
            return;
          }
          const bad = (why: string) => {
            proxyRes.resume();
            for (const name of res.getHeaderNames()) if (name !== 'x-request-id') res.removeHeader(name);
            gw.log.warn({ requestId: facts.requestId, upstreamStatus: status, reason: why }, 'AppB sent a response the gateway cannot pass on');
            facts.outcome = 'upstream_error';
            plainError(res, 502, `AppB sent a response the gateway cannot pass on (${why}).`, gw.shuttingDown, facts.requestId);
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
        },
      });

      const onError = (err: Error) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        facts.outcome = 'upstream_error';
        // An unread rest of the request body would stall this connection: answer and close it.
        if (!req.complete) res.setHeader('Connection', 'close');
        if (err instanceof UpstreamTimeoutError) {
          observe();
          gw.log.warn({ requestId: facts.requestId, timeoutMs }, 'AppB timed out');
          plainError(res, 504, `AppB did not answer within ${timeoutMs} ms.`, gw.shuttingDown, facts.requestId);
        } else {
          gw.log.warn({ requestId: facts.requestId, err: (err as NodeJS.ErrnoException).code ?? err.message }, 'AppB unreachable');
          plainError(res, 502, `AppB could not be reached (${(err as NodeJS.ErrnoException).code ?? 'connection failed'}).`, gw.shuttingDown, facts.requestId);
        }
      };
      try {
        proxy.web(
          req,
          res,
          {
            target: upstream as unknown as httpProxy.ProxyTargetUrl,
            agent: upstream.protocol === 'https:' ? agents.https : agents.http,
            ssl: { [EXACT_PATH]: plan.path },
            ...(plan.body && { buffer: Readable.from([plan.body]) }),
          },
          onError,
        );
      } catch (err) {
        // http.request refused the request synchronously (a header value it will not send): answer, never hang.
        gw.log.error({ requestId: facts.requestId, err }, 'could not start the upstream request');
        onError(err as Error);
      }
    });
  }

  function ws(req: http.IncomingMessage, socket: Duplex, head: Buffer, plan: ForwardPlan, onError: (status: number, message: string) => void): void {
    const { upstream } = plan;
    req.headers = plan.headers as http.IncomingHttpHeaders;
    const failed = (err: Error) => {
      plan.facts.outcome = 'upstream_error';
      onError(502, `AppB could not be reached (${(err as NodeJS.ErrnoException).code ?? 'connection failed'}).`);
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
