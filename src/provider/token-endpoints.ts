// The two machine endpoints of the dance (DESIGN.md 1a steps 1 and 5, 1b, 3): request-token and
// access-token. Each is a table of small steps; each step checks one thing and throws one
// OAuthProblem, which the app's error handler answers in the Problem Reporting format.
import type { Context, Next } from 'koa';
import type { Gateway } from '../gateway.js';
import { bodyDeadlinesOf } from '../http/body.js';
import { clientAddress } from '../http/headers.js';
import { requestViewOf } from '../http/request-view.js';
import { OAuthProblem, formEncode } from '../oauth1/index.js';
import type { AccessToken } from '../store/types.js';
import { underFailureLimit } from '../verify/failure-limit.js';
import {
  checkProtocolParams,
  checkSignature,
  checkSignatureMethod,
  checkTimestamp,
  nonceKeyOf,
  nonceTtlSeconds,
  readOAuthParams,
  requireLink,
} from '../verify/steps.js';
import { checkCallback } from '../oauth1/callback.js';
import { dance, handOn, need, type Step } from './state.js';
import { findRequestToken } from './tokens.js';

type Endpoint = 'request-token' | 'access-token';
const RT: Endpoint = 'request-token';
const AT: Endpoint = 'access-token';

const REQUIRED_ANY = ['oauth_consumer_key', 'oauth_signature_method', 'oauth_signature', 'oauth_timestamp', 'oauth_nonce'];

/** The steps of one endpoint, in order (node-oidc-provider's table shape). */
export function tokenEndpointSteps(gw: Gateway, endpoint: Endpoint): Step[] {
  const stack: Step[] = [];
  const use = (step: Step, ...only: Endpoint[]) => {
    if (only.includes(endpoint)) stack.push(step);
  };
  use(readRequest,             RT, AT);
  use(foreignConsumerToAppB,   RT, AT);
  use(failureLimit(gw),        RT, AT);
  use(protocolParams,          RT, AT);
  use(consumerLink,            RT, AT);
  use(signatureMethod,         RT, AT);
  use(timestamp,               RT, AT);
  use(noTokenYet,              RT);
  use(threeLeggedLink,         RT, AT);
  use(loadGrant(gw),               AT);
  use(signature,               RT, AT);
  use(freshNonce(gw),          RT, AT);
  use(issueRequestToken(gw),   RT);
  use(exchangeOrRenew(gw),         AT);
  return stack;
}

// Reads the request once: raw path and query, Authorization headers, a form body (size-limited).
async function readRequest(ctx: Context, next: Next): Promise<void> {
  const s = dance(ctx);
  if (ctx.state.facts) ctx.state.facts.flow = 'dance';
  // Token responses carry secrets: never cached anywhere.
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Pragma', 'no-cache');
  s.view = await requestViewOf(ctx.req, s.cfg.config.server.formBodyLimitBytes, s.cfg.config.server.formParameterLimit, bodyDeadlinesOf(s.cfg));
  const params = readOAuthParams(s.view);
  if (params === null) throw OAuthProblem.absent(REQUIRED_ANY, 'not an OAuth request: no OAuth parameters in the header, query or form body');
  s.params = params;
  await next();
}

// Verification failures count per source (security.failureLimit): a blocked source gets 429
// consumer_key_refused before any further work; a failure below runs through the limiter.
function failureLimit(gw: Gateway): Step {
  return async function failureLimit(ctx, next) {
    const s = dance(ctx);
    const key = need(s.params, 'params').oauth.oauth_consumer_key;
    const linkConsumerKey = key !== undefined && s.cfg.linksByConsumerKey.has(key) ? key : null;
    await underFailureLimit(gw.failureLimit, clientAddress(ctx.req, s.cfg.trustedProxies), linkConsumerKey, () => next());
  };
}

// oauth_version, required parameters, signature method name, timestamp and nonce shape.
async function protocolParams(ctx: Context, next: Next): Promise<void> {
  const s = dance(ctx);
  s.signed = checkProtocolParams(need(s.view, 'view'), need(s.params, 'params'));
  if (ctx.state.facts) ctx.state.facts.consumerKey = s.signed.consumerKey;
  await next();
}

// AppB's own application links keep working: a consumer key that is not ours goes to AppB untouched, when so configured.
async function foreignConsumerToAppB(ctx: Context, next: Next): Promise<void> {
  const s = dance(ctx);
  const key = need(s.params, 'params').oauth.oauth_consumer_key;
  if (key && !s.cfg.linksByConsumerKey.has(key) && s.cfg.config.upstream.passthroughUnknownConsumers) {
    if (ctx.state.facts) ctx.state.facts.consumerKey = key;
    await handOn(ctx);
    return;
  }
  await next();
}

// The consumer key names a configured link.
async function consumerLink(ctx: Context, next: Next): Promise<void> {
  const s = dance(ctx);
  const link = requireLink(s.cfg, need(s.signed, 'signed'));
  s.link = link;
  if (ctx.state.facts) ctx.state.facts.link = link.id;
  await next();
}

// The link allows this signature method (PLAINTEXT only over https).
async function signatureMethod(ctx: Context, next: Next): Promise<void> {
  const s = dance(ctx);
  checkSignatureMethod(s.cfg, need(s.link, 'link'), need(s.signed, 'signed'));
  await next();
}

// oauth_timestamp within the allowed clock skew.
async function timestamp(ctx: Context, next: Next): Promise<void> {
  const s = dance(ctx);
  checkTimestamp(s.cfg, need(s.signed, 'signed'));
  await next();
}

// A request-token call carries no token (or Atlassian's empty one).
async function noTokenYet(ctx: Context, next: Next): Promise<void> {
  const token = need(dance(ctx).signed, 'signed').token;
  if (token !== undefined && token !== '') throw OAuthProblem.rejected(['oauth_token'], 'request-token takes no oauth_token');
  await next();
}

// The link takes part in three-legged OAuth at all.
async function threeLeggedLink(ctx: Context, next: Next): Promise<void> {
  const link = need(dance(ctx).link, 'link');
  if (!link.threeLegged) throw new OAuthProblem('permission_denied', { detail: `link ${link.id} does not allow three-legged OAuth` });
  await next();
}

// The token named by the request: a request token to exchange, or (with oauth_session_handle) an
// access token to renew. It must belong to this consumer; its secret is needed for the signature.
function loadGrant(gw: Gateway): Step {
  return async function loadGrant(ctx, next) {
    const s = dance(ctx);
    const signed = need(s.signed, 'signed');
    const token = signed.token ?? '';
    if (token === '') throw OAuthProblem.absent(['oauth_token']);
    if (signed.params.oauth.oauth_session_handle !== undefined) {
      const access = await gw.store.getAccessToken(token);
      // An expired token is renewable while its authorization lasts. Its secret is out of reach
      // (the store returns live tokens only), so only RSA-SHA1, which does not sign with it, can prove it.
      if (!access && signed.signatureMethod !== 'RSA-SHA1') {
        const status = await gw.store.inspectToken(token);
        if (status?.kind === 'access' && status.state === 'revoked' && status.consumerKey === signed.consumerKey) {
          throw new OAuthProblem('token_revoked', { detail: 'the access token was revoked' });
        }
        throw new OAuthProblem('token_rejected', { detail: 'unknown or (for HMAC-SHA1/PLAINTEXT) expired access token' });
      }
      if (access && access.consumerKey !== signed.consumerKey) throw new OAuthProblem('token_rejected', { detail: 'access token of another consumer' });
      s.renewal = { token, access };
      if (ctx.state.facts && access) ctx.state.facts.tokenHandle = access.handle;
    } else {
      const found = await findRequestToken(gw.store, token, signed.consumerKey);
      if (found === 'unknown') throw new OAuthProblem('token_rejected', { detail: 'unknown request token' });
      if (found === 'expired') throw new OAuthProblem('token_expired', { detail: 'request token expired' });
      if (found.consumerKey !== signed.consumerKey) throw new OAuthProblem('token_rejected', { detail: 'request token of another consumer' });
      s.requestToken = found;
      if (ctx.state.facts) ctx.state.facts.tokenHandle = found.handle;
    }
    await next();
  };
}

// The signature, with the token secret when there is a token ('' for request-token and 1c tokens).
async function signature(ctx: Context, next: Next): Promise<void> {
  const s = dance(ctx);
  const tokenSecret = s.renewal?.access?.secret ?? s.requestToken?.secret ?? '';
  checkSignature(s.cfg, need(s.link, 'link'), need(s.signed, 'signed'), tokenSecret);
  await next();
}

// The nonce was not used before with this consumer, timestamp and token.
function freshNonce(gw: Gateway): Step {
  return async function freshNonce(ctx, next) {
    const s = dance(ctx);
    const fresh = await gw.store.claimNonce(nonceKeyOf(need(s.signed, 'signed')), nonceTtlSeconds(s.cfg));
    if (!fresh) throw new OAuthProblem('nonce_used', { detail: 'nonce already used' });
    await next();
  };
}

function formResponse(ctx: Context, pairs: Array<[string, string]>): void {
  ctx.status = 200;
  ctx.type = 'application/x-www-form-urlencoded';
  ctx.body = formEncode(pairs);
}

// Checks oauth_callback against the link (1.0a) or admits a callback-less 1.0 client, and issues the token.
function issueRequestToken(gw: Gateway): Step {
  return async function issueRequestToken(ctx) {
    const s = dance(ctx);
    const link = need(s.link, 'link');
    const given = need(s.signed, 'signed').params.oauth.oauth_callback;
    let callback: string | null = null;
    if (given === undefined) {
      // OAuth 1.0 (jirashell --oauth-dance): no callback, no verifier; reopens session fixation.
      if (!link.allowOAuth10) throw OAuthProblem.absent(['oauth_callback'], 'oauth_callback is required (OAuth 1.0a); this link does not allow OAuth 1.0 clients');
    } else {
      const checked = checkCallback(link.callbackUrls, given);
      if (!checked.ok) throw OAuthProblem.rejected(['oauth_callback'], checked.reason);
      callback = checked.callback;
    }
    const rt = await gw.store.createRequestToken({
      linkId: link.id,
      consumerKey: link.consumerKey,
      callback,
      version: callback === null ? '1.0' : '1.0a',
      ttlSeconds: s.cfg.config.oauth.requestTokenTtlSeconds,
    });
    if (ctx.state.facts) ctx.state.facts.tokenHandle = rt.handle;
    gw.metrics.danceEvents.inc({ event: 'issued', link: link.id });
    gw.audit('token_issued', { link: link.id, consumerKey: link.consumerKey, handle: rt.handle, version: rt.version, callback: callback ?? undefined });
    const pairs: Array<[string, string]> = [
      ['oauth_token', rt.token],
      ['oauth_token_secret', rt.secret],
    ];
    if (rt.version === '1.0a') pairs.push(['oauth_callback_confirmed', 'true']);
    formResponse(ctx, pairs);
  };
}

function accessResponse(ctx: Context, access: AccessToken): void {
  const now = Date.now();
  const seconds = (ms: number) => String(Math.max(0, Math.floor((ms - now) / 1000)));
  formResponse(ctx, [
    ['oauth_token', access.token],
    ['oauth_token_secret', access.secret],
    ['oauth_expires_in', seconds(access.expiresAt)],
    ['oauth_session_handle', access.sessionHandle],
    ['oauth_authorization_expires_in', seconds(access.authorizationExpiresAt)],
  ]);
}

const EXCHANGE_PROBLEMS = {
  unknown: 'token_rejected',
  expired: 'token_expired',
  wrong_consumer: 'token_rejected',
  not_approved: 'permission_unknown',
  denied: 'permission_denied',
  bad_verifier: 'token_rejected',
  used: 'token_used',
} as const;

const RENEW_PROBLEMS = {
  unknown: 'token_rejected',
  expired: 'token_expired',
  revoked: 'token_revoked',
  wrong_consumer: 'token_rejected',
  bad_session_handle: 'token_rejected',
} as const;

// Exchanges an approved request token once (verifier for 1.0a, none for 1.0), or renews an access token.
function exchangeOrRenew(gw: Gateway): Step {
  return async function exchangeOrRenew(ctx) {
    const s = dance(ctx);
    const link = need(s.link, 'link');
    const signed = need(s.signed, 'signed');
    const oauth = signed.params.oauth;
    const ttl = s.cfg.config.oauth;

    if (s.renewal) {
      const renewed = await gw.store.renewAccessToken(s.renewal.token, {
        consumerKey: signed.consumerKey,
        sessionHandle: oauth.oauth_session_handle ?? '',
        accessTtlSeconds: ttl.accessTokenTtlSeconds,
      });
      if (!renewed.ok) throw new OAuthProblem(RENEW_PROBLEMS[renewed.reason], { detail: `renewal refused: ${renewed.reason}` });
      if (ctx.state.facts) {
        ctx.state.facts.user = renewed.access.user;
        ctx.state.facts.tokenHandle = renewed.access.handle;
      }
      gw.metrics.danceEvents.inc({ event: 'renewed', link: link.id });
      gw.audit('token_renewed', { link: link.id, user: renewed.access.user, handle: renewed.access.handle });
      accessResponse(ctx, renewed.access);
      return;
    }

    const rt = need(s.requestToken, 'requestToken');
    const verifier = oauth.oauth_verifier;
    // Say what is wrong before touching the token: a 1.0a exchange without verifier, a 1.0 one with one.
    if (rt.state === 'approved' && rt.version === '1.0a' && (verifier === undefined || verifier === '')) {
      throw OAuthProblem.absent(['oauth_verifier'], 'oauth_verifier is required for an OAuth 1.0a token');
    }
    if (rt.version === '1.0' && verifier !== undefined && verifier !== '') {
      throw OAuthProblem.rejected(['oauth_verifier'], 'this OAuth 1.0 token has no verifier');
    }
    const result = await gw.store.exchangeRequestToken(rt.token, {
      consumerKey: signed.consumerKey,
      verifier: rt.version === '1.0a' ? (verifier ?? null) : null,
      accessTtlSeconds: ttl.accessTokenTtlSeconds,
      ...(ttl.authorizationTtlSeconds !== undefined && { authorizationTtlSeconds: ttl.authorizationTtlSeconds }),
    });
    if (!result.ok) throw new OAuthProblem(EXCHANGE_PROBLEMS[result.reason], { detail: `exchange refused: ${result.reason}` });
    const access = result.access;
    if (ctx.state.facts) ctx.state.facts.user = access.user;
    gw.metrics.danceEvents.inc({ event: 'exchanged', link: link.id });
    gw.audit('token_exchanged', { link: link.id, user: access.user, handle: access.handle, version: rt.version });
    accessResponse(ctx, access);
  };
}
