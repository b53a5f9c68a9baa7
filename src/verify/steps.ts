// The checks every signed request goes through, as small steps that each throw one
// OAuthProblem (DESIGN.md section 8). The dance endpoints and the proxy compose them.
import type { RuntimeConfig } from '../config/load.js';
import type { ResolvedLink } from '../config/links.js';
import { BODY_TOTAL_PER_IDLE, DEFAULT_BODY_IDLE_MS } from '../config/schema.js';
import {
  OAuthProblem,
  collectParams,
  baseStringUri,
  signatureBaseString,
  verifySignature,
  safeEqual,
  bodyHash,
  type CollectedParams,
  type SignatureMethod,
} from '../oauth1/index.js';
import type { IncomingMessage } from 'node:http';
import { checkSingleContentType } from '../proxy/headers.js';
import { requestTargetOf } from '../proxy/target.js';
import type { NonceKey } from '../store/types.js';
import { foldUserName, requestorNameProblem } from '../config/user-name.js';

/** What the verifier needs to know of an HTTP request. */
export interface OAuthRequestView {
  method: string;
  /** Raw request-target path, as received (no query). */
  rawPath: string;
  /** Raw query without '?', '' when none. */
  rawQuery: string;
  authorization?: string | string[];
  /** Raw body, only when Content-Type is application/x-www-form-urlencoded. */
  formBody?: string;
  /** server.formParameterLimit: an OAuth request with more parameters is refused unparsed (collectParams' default when unset). */
  parameterLimit?: number;
  /** Parts whose raw bytes are not UTF-8 (decoded leniently above): an OAuth request with any is refused. */
  notUtf8?: Array<'query' | 'form body'>;
}

/** A request whose OAuth parameters passed the stateless checks. */
export interface SignedRequest {
  view: OAuthRequestView;
  params: CollectedParams;
  consumerKey: string;
  signatureMethod: SignatureMethod;
  /** undefined = no oauth_token parameter at all (oauthlib 2LO); '' = empty (Atlassian 2LO). */
  token: string | undefined;
  timestamp: number;
  nonce: string;
}

// RFC 5849 3.1 lets PLAINTEXT omit timestamp and nonce; net.oauth (Atlassian) does not, and without
// them every such request of a consumer would share one nonce key.
const REQUIRED = ['oauth_consumer_key', 'oauth_signature_method', 'oauth_signature', 'oauth_timestamp', 'oauth_nonce'] as const;

/**
 * Collects the OAuth parameters; null when the request is not an OAuth request at all. Raw bytes
 * that are not UTF-8 would be signed as U+FFFD, so many bodies would share one signature and AppB
 * would get bytes nobody signed: an OAuth request with any is parameter_rejected, as `%FF` is.
 */
export function readOAuthParams(view: OAuthRequestView): CollectedParams | null {
  const params = collectParams({ authorization: view.authorization, rawQuery: view.rawQuery, formBody: view.formBody, parameterLimit: view.parameterLimit });
  if (params !== null && view.notUtf8 !== undefined && view.notUtf8.length > 0) {
    throw new OAuthProblem('parameter_rejected', { detail: `the ${view.notUtf8.join(' and ')} of an OAuth request is not valid UTF-8` });
  }
  return params;
}

// fatal: raw bytes that are not UTF-8 are found, not replaced; ignoreBOM: a leading U+FEFF is kept, as Buffer#toString keeps it.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Raw request bytes as text: strict UTF-8, else (utf8: false) the lenient decoding, for deciding whether the request is OAuth at all. */
export function requestText(bytes: Buffer): { text: string; utf8: boolean } {
  try {
    return { text: strictUtf8.decode(bytes), utf8: true };
  } catch {
    return { text: bytes.toString('utf8'), utf8: false };
  }
}

/**
 * The view of a request's parts. The query arrives as a latin1 string of its raw bytes (Node
 * itself refuses bytes beyond ASCII in a request-target); the form body as its raw bytes.
 */
export function oauthViewOf(parts: {
  method: string;
  target: { rawPath: string; rawQuery: string };
  authorization: string | string[] | undefined;
  formBody?: Buffer;
  parameterLimit?: number;
}): OAuthRequestView {
  const notUtf8: Array<'query' | 'form body'> = [];
  let rawQuery = parts.target.rawQuery;
  if (/[\u0080-\uffff]/.test(rawQuery)) {
    const q = requestText(Buffer.from(rawQuery, 'latin1'));
    rawQuery = q.text;
    if (!q.utf8) notUtf8.push('query');
  }
  let formBody: string | undefined;
  if (parts.formBody !== undefined) {
    const b = requestText(parts.formBody);
    formBody = b.text;
    if (!b.utf8) notUtf8.push('form body');
  }
  return {
    method: parts.method,
    rawPath: parts.target.rawPath,
    rawQuery,
    authorization: parts.authorization,
    ...(formBody !== undefined && { formBody }),
    ...(parts.parameterLimit !== undefined && { parameterLimit: parts.parameterLimit }),
    ...(notUtf8.length > 0 && { notUtf8 }),
  };
}

/** Version, presence and shape of the protocol parameters. */
export function checkProtocolParams(view: OAuthRequestView, params: CollectedParams): SignedRequest {
  const o = params.oauth;
  if (o.oauth_version !== undefined && o.oauth_version !== '1.0') {
    throw new OAuthProblem('version_rejected', { detail: `oauth_version ${JSON.stringify(o.oauth_version)}` });
  }
  const method = o.oauth_signature_method;
  const absent = REQUIRED.filter((n) => o[n] === undefined || o[n] === '');
  if (absent.length > 0) throw OAuthProblem.absent(absent);
  if (method !== 'HMAC-SHA1' && method !== 'RSA-SHA1' && method !== 'PLAINTEXT') {
    throw new OAuthProblem('signature_method_rejected', { detail: `method ${JSON.stringify(method)}` });
  }
  const tsText = o.oauth_timestamp ?? '';
  if (!/^\d{1,12}$/.test(tsText)) throw OAuthProblem.rejected(['oauth_timestamp']);
  const nonce = o.oauth_nonce ?? '';
  if (nonce.length > 255) throw OAuthProblem.rejected(['oauth_nonce']);
  return {
    view,
    params,
    consumerKey: o.oauth_consumer_key as string,
    signatureMethod: method,
    token: o.oauth_token,
    timestamp: Number(tsText),
    nonce,
  };
}

/** The consumer key names a configured link (null = unknown, for pass-through decisions). */
export function findLink(cfg: RuntimeConfig, req: SignedRequest): ResolvedLink | null {
  return cfg.linksByConsumerKey.get(req.consumerKey) ?? null;
}

export function requireLink(cfg: RuntimeConfig, req: SignedRequest): ResolvedLink {
  const link = findLink(cfg, req);
  if (!link) throw new OAuthProblem('consumer_key_unknown', { detail: 'consumer key is not a configured link' });
  return link;
}

/** The link allows this signature method; PLAINTEXT only over https. */
export function checkSignatureMethod(cfg: RuntimeConfig, link: ResolvedLink, req: SignedRequest): void {
  if (!link.signatureMethods.includes(req.signatureMethod)) {
    throw new OAuthProblem('signature_method_rejected', { detail: `${req.signatureMethod} not allowed for link ${link.id}` });
  }
  if (req.signatureMethod === 'PLAINTEXT' && cfg.publicBaseUrl.protocol !== 'https:') {
    throw new OAuthProblem('signature_method_rejected', { detail: 'PLAINTEXT needs https' });
  }
}

/** oauth_timestamp within the configured skew of now. */
export function checkTimestamp(cfg: RuntimeConfig, req: SignedRequest, nowMs: number = Date.now()): void {
  const now = Math.floor(nowMs / 1000);
  const skew = cfg.config.oauth.timestampSkewSeconds;
  if (Math.abs(now - req.timestamp) > skew) throw OAuthProblem.timestamp(now - skew, now + skew);
}

/** The signature over the public URL (never the Host header), with the token secret given. */
export function checkSignature(cfg: RuntimeConfig, link: ResolvedLink, req: SignedRequest, tokenSecret: string): void {
  const uri = baseStringUri(cfg.publicBaseUrl.href, req.view.rawPath);
  const base = signatureBaseString(req.view.method, uri, req.params.baseParams);
  const ok = verifySignature({
    method: req.signatureMethod,
    baseString: base,
    signature: req.params.oauth.oauth_signature ?? '',
    consumerSecret: link.sharedSecret ?? undefined,
    tokenSecret,
    publicKeys: link.publicKeys,
    secureTransport: cfg.publicBaseUrl.protocol === 'https:',
  });
  if (!ok) throw new OAuthProblem('signature_invalid', { detail: `signature does not verify for ${link.consumerKey}` });
}

/** The nonce key: consumer key, timestamp, nonce and token (DESIGN.md section 6). */
export function nonceKeyOf(req: SignedRequest): NonceKey {
  return { consumerKey: req.consumerKey, timestamp: String(req.timestamp), nonce: req.nonce, token: req.token ?? '' };
}

/**
 * Nonces are remembered for twice the skew plus one second: a replay outside that fails the
 * timestamp check. The extra second: the check compares whole seconds (now rounded down), so a
 * timestamp is accepted for up to 2 x skew + 1 s of real time.
 */
export function nonceTtlSeconds(cfg: RuntimeConfig): number {
  return cfg.config.oauth.timestampSkewSeconds * 2 + 1;
}

// ---------------------------------------------------------------------------------------------
// Request bodies, read once and shared: the dance routes read a form body for the signature
// check, and a call they pass on (upstream.passthroughUnknownConsumers) must still reach AppB whole.

const bufferedBodies = new WeakMap<IncomingMessage, Buffer>();

/** A body over server.formBodyLimitBytes: answered 413 (Koa's `expose` convention). */
export class BodyTooLargeError extends Error {
  readonly status = 413;
  readonly expose = true;
  constructor(limitBytes: number) {
    super(`Request body larger than ${limitBytes} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/** application/x-www-form-urlencoded, whatever the parameters (charset) say. */
export function isFormContentType(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

/** The client stopped sending the body (idle) or did not finish it in time (total): answered 408, connection closed. */
export class BodyTimeoutError extends Error {
  readonly status = 408;
  readonly expose = true;
  constructor(
    readonly kind: 'idle' | 'total',
    ms: number,
  ) {
    super(kind === 'idle' ? `Request body stalled for more than ${ms} ms` : `Request body not complete within ${ms} ms`);
    this.name = 'BodyTimeoutError';
  }
}

/** How long the gateway waits for a body it reads itself: per pause, and in all (server.timeouts). */
export interface BodyDeadlines {
  idleMs: number;
  totalMs: number;
}

export function bodyDeadlinesOf(cfg: RuntimeConfig): BodyDeadlines {
  return { idleMs: cfg.config.server.timeouts.bodyIdleMs, totalMs: cfg.config.server.timeouts.bodyTotalMs };
}

/** The schema defaults: 30 s per pause, 2 minutes in all. */
export const DEFAULT_BODY_DEADLINES: BodyDeadlines = { idleMs: DEFAULT_BODY_IDLE_MS, totalMs: BODY_TOTAL_PER_IDLE * DEFAULT_BODY_IDLE_MS };

export interface CollectOptions {
  limitBytes: number;
  deadlines: BodyDeadlines;
  /** 'reject': BodyTooLargeError past the limit (a declared larger length at once). 'stop': return what was read, the request paused. */
  overLimit: 'reject' | 'stop';
  /** The error for a client that went away mid-body. */
  onAbort: (err?: Error) => Error;
}

/**
 * Reads a request body up to `limitBytes`. `complete`: the body ended; otherwise (overLimit 'stop')
 * `bytes` is what was read so far (the limit plus at most one chunk) and the request is paused with
 * the rest unread. A body that stalls for idleMs, or is not over within totalMs however steadily
 * it trickles, is BodyTimeoutError: neither the socket nor the buffer is held longer.
 */
export function collectBody(req: IncomingMessage, o: CollectOptions): Promise<{ bytes: Buffer; complete: boolean }> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (o.overLimit === 'reject' && Number.isFinite(declared) && declared > o.limitBytes) return Promise.reject(new BodyTooLargeError(o.limitBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let idleTimer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null, complete = true) => {
      clearTimeout(idleTimer);
      clearTimeout(totalTimer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      // Stop reading: an error answer closes the connection, a prefix is read on by whoever streams the rest.
      if (err || !complete) req.pause();
      if (err) reject(err);
      else resolve({ bytes: Buffer.concat(chunks), complete });
    };
    const arm = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => finish(new BodyTimeoutError('idle', o.deadlines.idleMs)), o.deadlines.idleMs);
    };
    const totalTimer = setTimeout(() => finish(new BodyTimeoutError('total', o.deadlines.totalMs)), o.deadlines.totalMs);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > o.limitBytes && o.overLimit === 'reject') return finish(new BodyTooLargeError(o.limitBytes));
      chunks.push(chunk);
      if (size > o.limitBytes) return finish(null, false);
      arm();
    };
    const onEnd = () => finish(null);
    const onError = (err: Error) => finish(o.onAbort(err));
    const onAborted = () => finish(o.onAbort());
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
    arm();
  });
}

/**
 * Reads the whole request body (at most `limitBytes`, else BodyTooLargeError) and keeps it with
 * the request, so that a second reader (bufferedBodyOf) gets the same bytes.
 */
export async function readBufferedBody(req: IncomingMessage, limitBytes: number, deadlines: BodyDeadlines = DEFAULT_BODY_DEADLINES): Promise<Buffer> {
  const cached = bufferedBodies.get(req);
  if (cached) return cached;
  const { bytes } = await collectBody(req, {
    limitBytes,
    deadlines,
    overLimit: 'reject',
    onAbort: (err) => err ?? Object.assign(new Error('aborted'), { code: 'ECONNRESET' }),
  });
  bufferedBodies.set(req, bytes);
  return bytes;
}

/** The body readBufferedBody already consumed, or undefined when nobody read it. */
export function bufferedBodyOf(req: IncomingMessage): Buffer | undefined {
  return bufferedBodies.get(req);
}

/**
 * The OAuthRequestView of a Node request: raw path and query, every Authorization header, the
 * form body. The request-target is split as the proxy splits it, so an absolute-form target
 * (`POST http://host/p`, as a client using the gateway as its HTTP proxy sends) is verified over its path.
 * `parameterLimit`: server.formParameterLimit (collectParams' default of 1000 when omitted).
 */
export async function requestViewOf(req: IncomingMessage, limitBytes: number, parameterLimit?: number, deadlines?: BodyDeadlines): Promise<OAuthRequestView> {
  checkSingleContentType(req);
  return oauthViewOf({
    method: req.method ?? 'GET',
    target: requestTargetOf(req.url),
    authorization: req.headersDistinct.authorization,
    ...(isFormContentType(req.headers['content-type']) && { formBody: await readBufferedBody(req, limitBytes, deadlines) }),
    ...(parameterLimit !== undefined && { parameterLimit }),
  });
}

// ---------------------------------------------------------------------------------------------
// Resource requests (the proxy): which flow a signed request is, and who it may run as
// (DESIGN.md sections 1d, 3). Each step throws one OAuthProblem.

/** 3LO names its user with a token; 2LOi with xoauth_requestor_id; plain 2LO with neither. */
export type ResourceFlow = '3LO' | '2LO' | '2LOi';

const REQUESTOR_NAMES = ['xoauth_requestor_id', 'user_id'] as const;

/** The flow of a signed resource request, from its token and requestor parameters. */
export function resourceFlowOf(req: SignedRequest): ResourceFlow {
  if (req.token !== undefined && req.token !== '') return '3LO';
  return REQUESTOR_NAMES.some((n) => req.params.extra[n] !== undefined) ? '2LOi' : '2LO';
}

/**
 * The user a 2LOi request names (xoauth_requestor_id, or user_id as older clients send it);
 * null for 3LO and 2LO. A 3LO request naming a user as well is refused: the token alone names it.
 */
export function requestorOf(req: SignedRequest): string | null {
  // XOAUTH_REQUESTOR_ID & co.: a backend reading names case-insensitively would take it for the real one.
  const variants = req.params.baseParams.map(([n]) => n).filter((n) => n !== 'xoauth_requestor_id' && n.toLowerCase() === 'xoauth_requestor_id');
  if (variants.length > 0) throw OAuthProblem.rejected(variants, 'the requestor parameter is spelled xoauth_requestor_id (lower case)');
  const present = REQUESTOR_NAMES.filter((n) => req.params.extra[n] !== undefined);
  if (present.length === 0) return null;
  if (resourceFlowOf(req) === '3LO') {
    throw OAuthProblem.rejected([...present], `${present.join(', ')} not allowed with an access token: the token names the user`);
  }
  if (present.length > 1) throw OAuthProblem.rejected([...present], 'name the user once: xoauth_requestor_id or user_id');
  const name = present[0] as (typeof REQUESTOR_NAMES)[number];
  const user = req.params.extra[name] ?? '';
  const problem = requestorNameProblem(user);
  if (problem !== null) throw OAuthProblem.rejected([name], `${name} ${problem}`);
  return user;
}

/** The link takes three-legged requests. */
export function checkThreeLegged(link: ResolvedLink): void {
  if (!link.threeLegged) throw new OAuthProblem('permission_denied', { detail: `link ${link.id} does not allow three-legged requests` });
}

/**
 * 2LOi: the link impersonates, admits the user and does not deny them. denyUsers refuses every
 * name whose folded form (foldUserName: case, accents, compatibility forms) is an entry's, so a
 * look-alike of 'admin' is refused too; allowUsers admits only an entry itself up to letter case
 * (its folded form matching is not enough: 'alíce' may be another account at AppB than 'alice').
 */
export function checkImpersonation(link: ResolvedLink, user: string): void {
  if (!link.impersonation.enabled) throw new OAuthProblem('permission_denied', { detail: `link ${link.id} does not allow impersonation` });
  const folded = foldUserName(user);
  const lower = user.toLowerCase();
  if (link.allowUsersLower !== null && !(link.allowUsersLower.has(folded) && (link.impersonation.allowUsers ?? []).some((u) => u.toLowerCase() === lower))) {
    throw new OAuthProblem('permission_denied', { detail: `link ${link.id} may not impersonate this user (not in allowUsers)` });
  }
  if (link.denyUsersLower.has(folded)) {
    throw new OAuthProblem('permission_denied', { detail: `link ${link.id} may not impersonate this user (denyUsers)` });
  }
}

/** Plain 2LO: the link enables it; the request runs as its executeAs user. */
export function twoLeggedUser(link: ResolvedLink): string {
  if (!link.twoLegged.enabled || !link.twoLegged.executeAs) {
    throw new OAuthProblem('permission_denied', { detail: `link ${link.id} does not allow two-legged requests` });
  }
  return link.twoLegged.executeAs;
}

/** A live access token found for a request: it must be this link's (same consumer key and link id). */
export function checkAccessTokenOfLink(link: ResolvedLink, access: { consumerKey: string; linkId: string }): void {
  if (access.consumerKey !== link.consumerKey || access.linkId !== link.id) {
    throw new OAuthProblem('token_rejected', { detail: 'the access token was issued to another link' });
  }
}

/** The nonce was not seen before (claimed by the store in the same round trip as the token read). */
export function checkNonceFresh(nonceFresh: boolean): void {
  if (!nonceFresh) throw new OAuthProblem('nonce_used', { detail: 'nonce already used' });
}

/** oauth_body_hash, when sent: base64 SHA-1 of the raw body bytes (empty body when none). */
export function checkBodyHash(req: SignedRequest, rawBody: Buffer | undefined): void {
  const sent = req.params.oauth.oauth_body_hash;
  if (sent === undefined) return;
  if (!safeEqual(bodyHash(rawBody ?? Buffer.alloc(0)), sent)) {
    // The body is part of what was signed: a mismatch is a failed signature, not a malformed parameter.
    throw new OAuthProblem('signature_invalid', { detail: 'oauth_body_hash does not match the body' });
  }
}
