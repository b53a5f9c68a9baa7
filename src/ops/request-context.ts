// Per-request facts gathered by the routes and written as one log line when the response ends.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import type { Gateway } from '../gateway.js';
import type { Flow } from './metrics.js';
import { flagField, numberField, scrubText, textField, writeInfoLine } from './logger.js';

export interface RequestFacts {
  requestId: string;
  flow?: Flow;
  link?: string;
  consumerKey?: string;
  /** The user the request ran as at AppB, or the user of a dance step. */
  user?: string;
  /** oauth_problem of a refusal. */
  problem?: string;
  /** aborted: the client went away before it had sent the whole request. */
  outcome?: 'ok' | 'refused' | 'upstream_error' | 'store_unavailable' | 'error' | 'aborted';
  upstreamStatus?: number;
  /** Non-secret token handle. */
  tokenHandle?: string;
  /**
   * Set when the request runs at AppB as a user (3LO, 2LO, 2LOi): the request line then carries the
   * impersonation audit event (audit: true, event: impersonation), so the trail costs no extra line.
   */
  impersonation?: { identityMode: string };
}

declare module 'koa' {
  interface DefaultState {
    facts: RequestFacts;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A well-formed X-Request-Id as sent (one value), else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** The connection closed before the whole request had arrived (an upload cut short): nobody is left to answer. */
export function clientAborted(req: IncomingMessage): boolean {
  // Node detaches the socket (null) from a request destroyed mid-body.
  return !req.complete && ((req.socket as IncomingMessage['socket'] | null)?.destroyed ?? true);
}

/** What the caller knows of a finished request besides its facts. */
export interface FinishedRequest {
  method: string | undefined;
  /** Path without the query (which may carry OAuth parameters). */
  path: string;
  /** Status sent, undefined when none was (the client left first). */
  status: number | undefined;
  startedNs: bigint;
  remote: string | undefined;
  /** The response was not completed. */
  aborted: boolean;
  upgrade?: true;
}

/** Counts a finished request and writes its one log line: HTTP requests and WebSocket upgrades alike. */
export function logRequest(gw: Gateway, facts: RequestFacts, r: FinishedRequest): void {
  const durationMs = Number(process.hrtime.bigint() - r.startedNs) / 1e6;
  const flow = facts.flow ?? 'unsigned';
  const outcome = facts.outcome ?? ((r.status ?? 0) >= 500 ? 'error' : 'ok');
  gw.metrics.countRequest(flow, outcome);
  if (facts.problem) gw.metrics.countRefusal(facts.problem, facts.link ?? '');
  if (!gw.log.isLevelEnabled('info')) return;
  // Built from fields that are safe by construction (ids, names, numbers; the path is masked as text)
  // and written without pino's per-call work: the same bytes pino would print for this object.
  const imp = facts.impersonation;
  writeInfoLine(
    gw.log,
    textField('requestId', facts.requestId) +
      textField('method', r.method) +
      textField('path', scrubText(r.path)) +
      flagField('upgrade', r.upgrade) +
      numberField('status', r.status) +
      numberField('durationMs', Math.round(durationMs * 100) / 100) +
      textField('flow', flow) +
      textField('link', facts.link) +
      textField('consumerKey', facts.consumerKey) +
      textField('user', facts.user) +
      textField('outcome', outcome) +
      textField('problem', facts.problem) +
      numberField('upstreamStatus', facts.upstreamStatus) +
      textField('tokenHandle', facts.tokenHandle) +
      textField('remote', r.remote) +
      flagField('aborted', r.aborted) +
      (imp ? `,"audit":true,"event":"impersonation"${textField('identityMode', imp.identityMode)}` : ''),
    'request',
  );
}

/** Honours a well-formed X-Request-Id, else makes one; returns it and logs one line per request. */
export function requestContext(gw: Gateway) {
  return async function requestLog(ctx: Context, next: Next): Promise<void> {
    const startedNs = process.hrtime.bigint();
    const facts: RequestFacts = { requestId: requestIdOf(ctx.req) };
    ctx.state.facts = facts;
    ctx.set('X-Request-Id', facts.requestId);
    // Logged when the socket is done with the response, which also covers proxied responses (ctx.respond = false).
    ctx.res.once('close', () => {
      // An upload cut short closes the socket before any route has had a say.
      if (facts.outcome === undefined && clientAborted(ctx.req)) facts.outcome = 'aborted';
      logRequest(gw, facts, {
        method: ctx.method,
        path: ctx.path,
        status: ctx.res.headersSent ? ctx.res.statusCode : undefined,
        startedNs,
        // The socket is gone once a request was destroyed (e.g. a body over the limit).
        remote: ctx.req.socket?.remoteAddress,
        aborted: !ctx.res.writableFinished,
      });
    });
    await next();
  };
}
