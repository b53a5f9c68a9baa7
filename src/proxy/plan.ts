// From an incoming request to what goes to AppB: read what a signature needs, decide who the
// request runs as, strip what AppA sent, set the gateway's identity (DESIGN.md section 2).
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { RuntimeConfig } from '../config/load.js';
import type { Gateway } from '../gateway.js';
import { BodyTooLargeError, bufferedBodyOf, isFormContentType, readBody, readBodyPrefix } from '../http/body.js';
import { checkSingleContentType, checkTransferEncoding, clientAddress } from '../http/headers.js';
import { oauthViewOf, type OAuthRequestView } from '../http/request-view.js';
import { isSignedRequestParam, isSmuggledRequestor, removeFormParams, removeQueryParams, requestTargetOf, type RequestTarget } from '../http/target.js';
import { OAuthProblem, type CollectedParams } from '../oauth1/index.js';
import type { RequestFacts } from '../ops/request-facts.js';
import { hasLoneSurrogate } from '../userauth/names.js';
import { readOAuthParams } from '../verify/steps.js';
import { FormNameGuard } from './form-guard.js';
import { authenticate, type Verdict } from './authenticate.js';
import { compiledOf } from './compiled.js';
import type { ForwardPlan } from './forward.js';
import { upstreamHeaders } from './headers.js';
import { applyIdentity } from './identity.js';

const UNSIGNED: Verdict = Object.freeze({ kind: 'unsigned' });

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? '0') > 0;
}

/**
 * A DELETE or OPTIONS without Content-Length: servers and proxies differ on whether such a method
 * has a body at all (http-proxy, for one, gives it a zero length and still streams the body, which
 * AppB then reads as a second request). Such a (chunked) body is read here and sent with its length.
 */
function lengthlessDeleteOrOptions(req: IncomingMessage): boolean {
  return (req.method === 'DELETE' || req.method === 'OPTIONS') && req.headers['content-length'] === undefined;
}

/**
 * A requestor name with an unpaired surrogate has no UTF-8 form (AppB would get U+FFFD, the user
 * index cannot key it): parameter_rejected. Strict percent-decoding already refuses an encoded
 * surrogate; this holds whatever decoded the name.
 */
export function checkRequestorEncoding(params: CollectedParams | null): void {
  for (const [name, value] of Object.entries(params?.extra ?? {})) {
    if (hasLoneSurrogate(value)) throw OAuthProblem.rejected([name], `${name} is not well-formed Unicode (an unpaired surrogate)`);
  }
}

/**
 * Verifies the request (throws the OAuthProblem that refuses it) and returns what to send to
 * AppB. `upgrade`: a WebSocket handshake (no body, Connection: upgrade kept).
 */
export async function planForward(
  gw: Gateway,
  cfg: RuntimeConfig,
  req: IncomingMessage,
  facts: RequestFacts,
  opts: { upgrade: boolean; handedOn?: boolean },
): Promise<ForwardPlan> {
  // Before any body is read or nonce spent: the gateway and AppB could act on different
  // Content-Types or framings. (The HTTP handlers, Koa's and the plain one, and upgrades all come here.)
  checkSingleContentType(req);
  checkTransferEncoding(req);
  const target = requestTargetOf(req.url);
  const method = req.method ?? 'GET';
  const limit = cfg.config.server.formBodyLimitBytes;
  const compiled = compiledOf(cfg);
  const deadlines = compiled.bodyDeadlines;
  const bodyPresent = !opts.upgrade && hasBody(req);
  const isForm = isFormContentType(req.headers['content-type']);

  // The dance routes handed on a call of AppB's own links (pass-through): forwarded as it came.
  if (opts.handedOn) {
    const body = bufferedBodyOf(req) ?? (bodyPresent && lengthlessDeleteOrOptions(req) ? await readBody(req, limit, deadlines) : undefined);
    return planPassthrough(cfg, req, facts, target, body, bodyPresent);
  }

  const viewParts = {
    method,
    target,
    authorization: req.headersDistinct.authorization,
    // Past it an OAuth request is refused and any other one passes unparsed (AppB's own big forms).
    parameterLimit: cfg.config.server.formParameterLimit,
  };
  // A form body may carry the OAuth parameters, so it is read up to the limit whether or not it is signed.
  let rawBody = bufferedBodyOf(req);
  let streamedBody: ForwardPlan['streamedBody'];
  if (rawBody === undefined && isForm && bodyPresent) {
    // A lengthless DELETE or OPTIONS body is not streamed (lengthlessDeleteOrOptions): read whole or 413.
    const read = lengthlessDeleteOrOptions(req) ? { bytes: await readBody(req, limit, deadlines), complete: true } : await readBodyPrefix(req, limit, deadlines);
    if (read.complete) rawBody = read.bytes;
    else streamedBody = unsignedFormBeyondLimit(oauthViewOf(viewParts), read.bytes, limit);
  }
  const view: OAuthRequestView = oauthViewOf({ ...viewParts, ...(isForm && rawBody !== undefined && { formBody: rawBody }) });
  const params = readOAuthParams(view);
  checkRequestorEncoding(params);
  // oauth_body_hash covers the body: it is checked before AppB sees a byte of it.
  if (rawBody === undefined && bodyPresent && params?.oauth.oauth_body_hash !== undefined) rawBody = await readBody(req, limit, deadlines);
  if (rawBody === undefined && bodyPresent && lengthlessDeleteOrOptions(req)) rawBody = await readBody(req, limit, deadlines);

  // The client's address matters only to an OAuth request (security.failureLimit): browser traffic skips it.
  const source = params === null ? '' : clientAddress(req, cfg.trustedProxies);
  // Browser traffic (no OAuth parameters) is decided here, without a promise to wait for.
  const verdict: Verdict = params === null ? UNSIGNED : await authenticate(gw, cfg, { view, params, rawBody, source }, facts);
  const identity = verdict.kind === 'signed';
  if (verdict.kind === 'unsigned') facts.flow = 'unsigned';

  const headers: OutgoingHttpHeaders = upstreamHeaders(req, {
    cfg,
    trustedPeer: cfg.trustedProxies.contains(req.socket.remoteAddress),
    withIdentity: identity,
    keepAuthorization: !identity,
    upgrade: opts.upgrade,
    requestId: facts.requestId,
  });

  // Signed: AppA's protocol and requestor parameters go. Unsigned: a smuggled requestor goes. Pass-through: untouched.
  const remove = verdict.kind === 'signed' ? isSignedRequestParam : verdict.kind === 'unsigned' ? isSmuggledRequestor : () => false;
  const query = removeQueryParams(target.rawQuery, remove);
  let body = rawBody;
  if (body !== undefined && isForm) body = removeFormParams(body, remove).body;

  setFraming(headers, req, body, bodyPresent);

  const prefix = compiled.upstreamPathPrefix;
  const keepBareQuestionMark = target.hasQuery && !query.changed;
  let path: string;
  if (verdict.kind === 'signed') {
    const { principal } = verdict;
    const identity = compiled.identity;
    const applied = applyIdentity(
      gw,
      identity,
      {
        method,
        rawPath: target.rawPath,
        upstreamPathPrefix: prefix,
        query: query.query,
        keepBareQuestionMark,
        ...(body !== undefined && isForm && { formBody: body }),
        // What AppA signed minus its protocol and requestor parameters: exactly the pairs forwarded.
        ...(params !== null && identity.needsPairs && { pairs: params.baseParams.filter(([name]) => !isSignedRequestParam(name)) }),
        headers,
      },
      principal.user,
      principal.link.id,
    );
    path = typeof applied === 'string' ? applied : await applied;
    // The request line written when it ends carries the impersonation audit event (flow, link, user, token handle).
    facts.impersonation = { identityMode: cfg.identity.mode };
  } else {
    path = prefix + target.rawPath + (query.query !== '' || keepBareQuestionMark ? `?${query.query}` : '');
  }

  return {
    flow: facts.flow ?? 'unsigned',
    path,
    headers,
    ...(body !== undefined && { body }),
    ...(streamedBody && { streamedBody }),
    identity,
    upstream: compiled.upstreamTarget,
    timeoutMs: cfg.config.upstream.timeoutMs,
    ...(verdict.kind === 'signed' && { linkId: verdict.principal.link.id }),
    facts,
  };
}

/**
 * A form body longer than server.formBodyLimitBytes: an OAuth request (by its Authorization header
 * or query) needs all of it for the signature, so 413; so does one whose first `limit` bytes name
 * an OAuth or requestor parameter (LateOAuthParameterError). Any other is ordinary traffic for AppB
 * and streams on, its bytes checked as they pass (FormNameGuard): what was read first, then the rest.
 */
function unsignedFormBeyondLimit(viewWithoutBody: OAuthRequestView, first: Buffer, limit: number): NonNullable<ForwardPlan['streamedBody']> {
  let signed: boolean;
  try {
    signed = readOAuthParams(viewWithoutBody) !== null;
  } catch {
    // Malformed OAuth parameters (two Authorization headers, …): an OAuth request all the same.
    signed = true;
  }
  if (signed) throw new BodyTooLargeError(limit);
  const guard = new FormNameGuard();
  return { first: guard.push(first), guard };
}

/** A request for AppB's own links: only the header rules apply; query, body and Authorization untouched. */
function planPassthrough(cfg: RuntimeConfig, req: IncomingMessage, facts: RequestFacts, target: RequestTarget, body: Buffer | undefined, bodyPresent: boolean): ForwardPlan {
  facts.flow = 'passthrough';
  const headers = upstreamHeaders(req, {
    cfg,
    trustedPeer: cfg.trustedProxies.contains(req.socket.remoteAddress),
    withIdentity: false,
    keepAuthorization: true,
    upgrade: false,
    requestId: facts.requestId,
  });
  setFraming(headers, req, body, bodyPresent);
  return {
    flow: 'passthrough',
    path: compiledOf(cfg).upstreamPathPrefix + target.rawPath + (target.hasQuery ? `?${target.rawQuery}` : ''),
    headers,
    ...(body !== undefined && { body }),
    identity: false,
    upstream: compiledOf(cfg).upstreamTarget,
    timeoutMs: cfg.config.upstream.timeoutMs,
    facts,
  };
}

/** Body framing towards AppB: the length of a body read here, else the client's own framing. */
function setFraming(headers: OutgoingHttpHeaders, req: IncomingMessage, body: Buffer | undefined, bodyPresent: boolean): void {
  if (body !== undefined) {
    headers['content-length'] = String(body.length);
  } else if (bodyPresent) {
    // Only plain chunked gets here (checkTransferEncoding); AppB is told exactly what it receives.
    if (req.headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = 'chunked';
    else headers['content-length'] = req.headers['content-length'];
  }
}
