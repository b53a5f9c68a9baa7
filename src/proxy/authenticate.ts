// Who a request runs as at AppB: the verification pipeline for signed resource requests
// (DESIGN.md sections 1d, 3, 6). Not Koa-specific: the WebSocket upgrade path uses it too.
//
//   parse params → consumer (or pass-through) → method → timestamp → requestor rules →
//   signature (when the token secret is not needed) → token shape → ONE store round trip (token,
//   and the nonce claimed only for a live token of this link) →
//   token checks → signature (HMAC/PLAINTEXT with the token secret) → nonce → body hash → permission
import type { RuntimeConfig } from '../config/load.js';
import type { ResolvedLink } from '../config/links.js';
import { OAuthProblem, type CollectedParams } from '../oauth1/index.js';
import type { OAuthRequestView } from '../http/request-view.js';
import type { RequestFacts } from '../ops/request-facts.js';
import { accessHandleOfToken } from '../store/tokens.js';
import type { AccessToken, TokenStore } from '../store/types.js';
import { underFailureLimit, type FailureLimit } from '../verify/failure-limit.js';
import {
  checkAccessTokenOfLink,
  checkBodyHash,
  checkImpersonation,
  checkNonceFresh,
  checkThreeLegged,
  requestorOf,
  resourceFlowOf,
  twoLeggedUser,
  type ResourceFlow,
} from '../verify/resource.js';
import { checkProtocolParams, checkSignature, checkSignatureMethod, checkTimestamp, nonceKeyOf, nonceTtlSeconds, requireLink } from '../verify/steps.js';

/** A verified request and the user it runs as. */
export interface Principal {
  flow: ResourceFlow;
  link: ResolvedLink;
  consumerKey: string;
  user: string;
  /** Non-secret handle of the access token (3LO only). */
  tokenHandle?: string;
}

export type Verdict =
  /** No OAuth parameters at all: browser traffic. */
  | { kind: 'unsigned' }
  /** A consumer key that is not a link, with upstream.passthroughUnknownConsumers on. */
  | { kind: 'passthrough'; consumerKey: string }
  | { kind: 'signed'; principal: Principal };

/** What verifying a request uses of the running gateway (the Gateway is one): the token store and the failure limit. */
export interface AuthDeps {
  readonly store: TokenStore;
  readonly failureLimit: FailureLimit;
}

export interface AuthInput {
  view: OAuthRequestView;
  /** readOAuthParams(view), computed by the caller (it decides whether to buffer a hashed body). */
  params: CollectedParams | null;
  /** The raw body when it was read (form bodies, and bodies with oauth_body_hash). */
  rawBody?: Buffer;
  /** The client's address (clientAddress: the peer, or X-Forwarded-For from a trusted proxy), for security.failureLimit. */
  source: string;
  nowMs?: number;
}

/** Decides who the request runs as, or throws the OAuthProblem that refuses it. Fills `facts` as it learns. */
export async function authenticate(deps: AuthDeps, cfg: RuntimeConfig, input: AuthInput, facts: RequestFacts): Promise<Verdict> {
  const { params } = input;
  if (params === null) return { kind: 'unsigned' };

  const consumerKey = params.oauth.oauth_consumer_key;
  if (consumerKey !== undefined && consumerKey !== '') facts.consumerKey = consumerKey;
  // AppB's own application links keep working behind the gateway, untouched, when allowed.
  if (consumerKey && !cfg.linksByConsumerKey.has(consumerKey) && cfg.config.upstream.passthroughUnknownConsumers) {
    facts.flow = 'passthrough';
    return { kind: 'passthrough', consumerKey };
  }

  // Verification failures count per source (security.failureLimit); a blocked source gets 429 before any work.
  const linkConsumerKey = consumerKey !== undefined && cfg.linksByConsumerKey.has(consumerKey) ? consumerKey : null;
  return underFailureLimit(deps.failureLimit, input.source, linkConsumerKey, () => verifySigned(deps.store, cfg, input, params, facts));
}

async function verifySigned(store: TokenStore, cfg: RuntimeConfig, input: AuthInput, params: CollectedParams, facts: RequestFacts): Promise<Verdict> {
  const { view } = input;
  const req = checkProtocolParams(view, params);
  const link = requireLink(cfg, req);
  facts.link = link.id;
  const flow = resourceFlowOf(req);
  facts.flow = flow;
  checkSignatureMethod(cfg, link, req);
  checkTimestamp(cfg, req, input.nowMs);
  const requestor = requestorOf(req);

  // RSA-SHA1 ignores the token secret, and 2LO has none: verify before touching the store, so
  // that no unverified 2LO request ever makes the store keep a nonce.
  const needsTokenSecret = flow === '3LO' && req.signatureMethod !== 'RSA-SHA1';
  if (!needsTokenSecret) checkSignature(cfg, link, req, '');
  // A value that can be neither a native nor an imported access token is refused without a store call.
  if (flow === '3LO' && accessHandleOfToken(req.token ?? '') === null) throw new OAuthProblem('token_rejected', { detail: 'not an access token of this gateway' });

  // The store claims the nonce only for a live access token of this link (or for 2LO, verified
  // above). HMAC-SHA1/PLAINTEXT 3LO is verified after the round trip (the token secret comes with
  // it), so a nonce may be kept for a request whose signature then fails: only by someone who
  // holds a real access token value, which is itself a secret.
  const lookup = await store.claimNonceAndGetAccessToken(nonceKeyOf(req), nonceTtlSeconds(cfg), link.id);

  let access: AccessToken | null = null;
  if (flow === '3LO') {
    access = lookup.access ?? (await refuseMissingAccessToken(store, req.token ?? '', link));
    checkAccessTokenOfLink(link, access);
    facts.tokenHandle = access.handle;
    if (needsTokenSecret) checkSignature(cfg, link, req, access.secret);
  }
  checkNonceFresh(lookup.nonceFresh);
  checkBodyHash(req, input.rawBody);

  let user: string;
  switch (flow) {
    case '3LO':
      checkThreeLegged(link);
      user = (access as AccessToken).user;
      break;
    case '2LOi':
      user = requestor as string;
      checkImpersonation(link, user);
      break;
    case '2LO':
      user = twoLeggedUser(link);
      break;
  }
  facts.user = user;
  return { kind: 'signed', principal: { flow, link, consumerKey: req.consumerKey, user, ...(access && { tokenHandle: access.handle }) } };
}

/**
 * The token named no live access token: say which problem it is (off the hot path, refusals
 * only), from what the store still knows of it. A request token or another link's token →
 * token_rejected; an expired access token AppA may still renew → token_expired (so it renews
 * with oauth_session_handle); a revoked one → token_revoked; unknown → token_rejected.
 */
async function refuseMissingAccessToken(store: TokenStore, token: string, link: ResolvedLink): Promise<never> {
  const status = token === '' ? null : await store.inspectToken(token);
  if (status === null) throw new OAuthProblem('token_rejected', { detail: 'unknown access token' });
  if (status.kind === 'request') {
    throw new OAuthProblem('token_rejected', { detail: 'a request token cannot be used to access resources' });
  }
  checkAccessTokenOfLink(link, status);
  switch (status.state) {
    case 'revoked':
      throw new OAuthProblem('token_revoked', { detail: 'the access token was revoked' });
    case 'expired':
      throw new OAuthProblem('token_expired', { detail: 'the access token has expired' });
    case 'live':
      // Renewed between the lookup and now: AppA retries (token_expired makes it renew first).
      throw new OAuthProblem('token_expired', { detail: 'the access token was expired when the request was checked' });
  }
}
