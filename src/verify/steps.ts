// The checks every signed request goes through, as small steps that each throw one
// OAuthProblem (DESIGN.md section 8). The dance endpoints and the proxy compose them.
import type { RuntimeConfig, ResolvedLink } from '../config/load.js';
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
import { foldUserName, requestorNameProblem } from './user-name.js';

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

/** Collects the OAuth parameters; null when the request is not an OAuth request at all. */
export function readOAuthParams(view: OAuthRequestView): CollectedParams | null {
  return collectParams({ authorization: view.authorization, rawQuery: view.rawQuery, formBody: view.formBody, parameterLimit: view.parameterLimit });
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

/**
 * Reads the whole request body (at most `limitBytes`, else BodyTooLargeError) and keeps it with
 * the request, so that a second reader (bufferedBodyOf) gets the same bytes.
 */
/** The client stopped sending the body for longer than server.bodyIdleTimeoutMs: answered 408, connection closed. */
export class BodyTimeoutError extends Error {
  readonly status = 408;
  readonly expose = true;
  constructor(idleMs: number) {
    super(`Request body stalled for more than ${idleMs} ms`);
    this.name = 'BodyTimeoutError';
  }
}

/** Default of server.bodyIdleTimeoutMs. */
export const DEFAULT_BODY_IDLE_MS = 30_000;

export async function readBufferedBody(req: IncomingMessage, limitBytes: number, idleMs: number = DEFAULT_BODY_IDLE_MS): Promise<Buffer> {
  const cached = bufferedBodies.get(req);
  if (cached) return cached;
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limitBytes) throw new BodyTooLargeError(limitBytes);
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) {
        // Stop reading; the error answer closes the connection (the rest of the body is never read).
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks));
    };
    // A client that stops sending mid-body must not hold the socket and the buffer forever.
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new BodyTimeoutError(idleMs)), idleMs);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) return finish(new BodyTooLargeError(limitBytes));
      chunks.push(chunk);
      arm();
    };
    const onEnd = () => finish(null);
    const onError = (err: Error) => finish(err);
    const onAborted = () => finish(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
    arm();
  });
  bufferedBodies.set(req, body);
  return body;
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
export async function requestViewOf(req: IncomingMessage, limitBytes: number, parameterLimit?: number, idleMs?: number): Promise<OAuthRequestView> {
  checkSingleContentType(req);
  const target = requestTargetOf(req.url);
  const view: OAuthRequestView = {
    method: req.method ?? 'GET',
    rawPath: target.rawPath,
    rawQuery: target.rawQuery,
    authorization: req.headersDistinct.authorization,
    ...(parameterLimit !== undefined && { parameterLimit }),
  };
  if (isFormContentType(req.headers['content-type'])) {
    view.formBody = (await readBufferedBody(req, limitBytes, idleMs)).toString('utf8');
  }
  return view;
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
