// Resource requests (the proxy): which flow a signed request is, and who it may run as
// (DESIGN.md sections 1d, 3). Each step throws one OAuthProblem; pure, no I/O (the store's
// answers are given to them).
import type { ResolvedLink } from '../config/links.js';
import { OAuthProblem, safeEqual, bodyHash } from '../oauth1/index.js';
import type { SignedRequest } from './steps.js';
import { foldUserName, requestorNameProblem } from '../config/user-name.js';

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
