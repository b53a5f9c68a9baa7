// Per-request facts gathered by the routes and written as one log line when the response ends.
import type { Logger } from './logger.js';
import type { Flow, Metrics } from './metrics.js';
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

/** Where a finished request is counted and logged (the Gateway is one). */
export interface RequestLogSink {
  readonly log: Logger;
  readonly metrics: Metrics;
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
export function logRequest(sink: RequestLogSink, facts: RequestFacts, r: FinishedRequest): void {
  const durationMs = Number(process.hrtime.bigint() - r.startedNs) / 1e6;
  const flow = facts.flow ?? 'unsigned';
  const outcome = facts.outcome ?? ((r.status ?? 0) >= 500 ? 'error' : 'ok');
  sink.metrics.countRequest(flow, outcome);
  if (facts.problem) sink.metrics.countRefusal(facts.problem, facts.link ?? '');
  if (!sink.log.isLevelEnabled('info')) return;
  // Built from fields that are safe by construction (ids, names, numbers; the path is masked as text)
  // and written without pino's per-call work: the same bytes pino would print for this object.
  const imp = facts.impersonation;
  writeInfoLine(
    sink.log,
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
