// The public port's hot path: every request that is not a dance or page route is verified and
// forwarded by this one plain handler, without Koa (DESIGN.md sections 1d, 2, 3). It does what
// the Koa stack does for the dance routes — request id, one log line, one error answer — with
// nothing else on the way.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '../gateway.js';
import { errorToAnswer, writeErrorResponse } from '../http/answer.js';
import { clientAborted, requestIdOf } from '../http/request.js';
import { logRequest, type RequestFacts } from '../ops/request-facts.js';
import { compiledOf } from './compiled.js';
import { forwarderOf } from './index.js';
import { planForward } from './plan.js';

/** The path of a request-target without query or fragment; null for a target that is not origin-form. */
export function originFormPath(url: string | undefined): string | null {
  if (url === undefined || url.charCodeAt(0) !== 0x2f /* / */) return null;
  for (let i = 1; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x3f /* ? */ || c === 0x23 /* # */) return url.slice(0, i);
  }
  return url;
}

/**
 * Answers an error of the proxy path with the one renderer (src/http/answer.ts): an OAuth problem
 * in the Problem Reporting format, the store down as 503, an exposed client error as plain text,
 * anything else as a generic 500 (logged) — the same answers the Koa error handler gives.
 */
export function answerProxyError(gw: Gateway, req: IncomingMessage, res: ServerResponse, facts: RequestFacts, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const e = errorToAnswer(err, req, facts, gw);
  if (e !== null) writeErrorResponse(res, e, compiledOf(gw.cfg()).realm, gw.shuttingDown, facts.requestId);
}

/** The plain request handler of the proxy path: verify, re-sign, forward; one log line when the socket is done. */
export function createProxyHandler(gw: Gateway): (req: IncomingMessage, res: ServerResponse) => void {
  const forwarder = forwarderOf(gw);

  async function run(req: IncomingMessage, res: ServerResponse, facts: RequestFacts): Promise<void> {
    // Read once: a reload during this request must not mix two configurations.
    const cfg = gw.cfg();
    const plan = await planForward(gw, cfg, req, facts, { upgrade: false });
    await forwarder.web(req, res, plan);
  }

  return function proxyRequest(req: IncomingMessage, res: ServerResponse): void {
    const startedNs = process.hrtime.bigint();
    const facts: RequestFacts = { requestId: requestIdOf(req) };
    // Logged when the socket is done with the response, proxied or refused.
    res.once('close', () => {
      if (facts.outcome === undefined && clientAborted(req)) facts.outcome = 'aborted';
      logRequest(gw, facts, {
        method: req.method,
        path: originFormPath(req.url) ?? req.url ?? '/',
        status: res.headersSent ? res.statusCode : undefined,
        startedNs,
        remote: req.socket?.remoteAddress,
        aborted: !res.writableFinished,
      });
    });
    run(req, res, facts).catch((err: unknown) => answerProxyError(gw, req, res, facts, err));
  };
}
