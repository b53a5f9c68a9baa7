// The token state machine, once: every transition of a grant's records as a pure function that
// takes the current record(s) and the inputs and returns the new record(s) or a refusal reason.
//
// The memory store (memory.ts) runs these functions. The Redis store cannot call TypeScript
// inside Redis: each Lua script of redis/scripts.ts mirrors one of them line for line and names
// it; test/store/transitions.test.ts runs the same cases against these functions, the memory
// store and Redis, so that the three agree, refusals included.
//
// Records carry no secret material (token secret, verifier, session handle values): each store
// keeps that its own way (memory: in clear, in-process; Redis: encrypted). They carry digests
// (tokenDigest, SHA-256 hex) of the values that are presented later (token value, verifier,
// session handle). Digests are compared with ===, as the scripts compare them with ~=: they are
// SHA-256 of the presented values, so the timing of the comparison tells an attacker nothing
// about a stored token.
import type { DanceVersion, ExchangeResult, NewRequestToken, RenewResult, RequestTokenState, TokenStatus } from './types.js';
import { accessStatus, isAccessRecordLive, requestKeepUntil, requestStatus, tombstoneKeepUntil } from './tokens.js';

/** A request token record (Redis hash rt:{h}: d lk ck cb ver st u ul vd ca ea). */
export interface RequestRecord {
  /** tokenDigest of the token value. */
  digest: string;
  linkId: string;
  consumerKey: string;
  callback: string | null;
  version: DanceVersion;
  state: RequestTokenState;
  /** The user who approved or denied it, as spelled, and its lower-cased form (userKey). */
  user: string | null;
  userKey: string | null;
  /** tokenDigest of the verifier, set on approval of a 1.0a token. */
  verifierDigest: string | null;
  createdAt: number;
  expiresAt: number;
}

/** An access token record (Redis hash at:{h}: d lk ck u ul shd ca ea aea rv ku). */
export interface AccessRecord {
  digest: string;
  linkId: string;
  consumerKey: string;
  user: string;
  userKey: string;
  /** tokenDigest of the session handle; null once revoked (a tombstone keeps no secret). */
  sessionHandleDigest: string | null;
  createdAt: number;
  expiresAt: number;
  authorizationExpiresAt: number;
  /** Set on revocation: the record is then a tombstone, kept until keepUntil. */
  revokedAt: number | null;
  keepUntil: number | null;
}

type Refused<R extends string> = { ok: false; reason: R };

// ---------------------------------------------------------------------------------------------
// Request tokens

/** A new grant may take handle h only when neither of its records exists. Lua: CREATE_REQUEST. */
export function handleIsFree(request: RequestRecord | null, access: AccessRecord | null): boolean {
  return request === null && access === null;
}

/** The record of a request token just issued: pending, no user. Lua: CREATE_REQUEST (its fields). */
export function pendingRequest(
  input: Pick<NewRequestToken, 'linkId' | 'consumerKey' | 'callback' | 'version'>,
  digest: string,
  now: number,
  ttlMs: number,
): RequestRecord {
  return {
    digest,
    linkId: input.linkId,
    consumerKey: input.consumerKey,
    callback: input.callback,
    version: input.version,
    state: 'pending',
    user: null,
    userKey: null,
    verifierDigest: null,
    createdAt: now,
    expiresAt: now + ttlMs,
  };
}

/** How long (ms from now) a request record is kept: its TTL and the grace period (requestKeepUntil). */
export function requestKeepMs(r: Pick<RequestRecord, 'createdAt' | 'expiresAt'>, now: number): number {
  return requestKeepUntil(r) - now;
}

/**
 * The record names the presented value and is still kept (its grace period not over by the
 * gateway's clock). Lua: the first line of DECIDE_REQUEST and EXCHANGE (`load` + `kept`).
 */
function requestNamed(r: RequestRecord | null, digest: string, now: number): r is RequestRecord {
  return r !== null && r.digest === digest && requestKeepUntil(r) > now;
}

/** The request token a value names, while it can be used (getRequestToken); null otherwise. */
export function readableRequest(r: RequestRecord | null, digest: string, now: number): RequestRecord | null {
  return r !== null && r.digest === digest && r.expiresAt > now ? r : null;
}

export type DecideOutcome = { ok: true; request: RequestRecord } | Refused<'unknown' | 'expired' | 'already_decided'>;

/**
 * Approval or denial of a pending request token by `user`. An approved 1.0a token gets the
 * verifier whose digest is given (the store keeps the verifier itself); a 1.0 token or a denial
 * gets none. Lua: DECIDE_REQUEST.
 */
export function decideRequest(
  r: RequestRecord | null,
  digest: string,
  now: number,
  decision: { state: 'approved' | 'denied'; user: string; userKey: string; verifierDigest: string },
): DecideOutcome {
  if (!requestNamed(r, digest, now)) return { ok: false, reason: 'unknown' };
  if (r.expiresAt <= now) return { ok: false, reason: 'expired' };
  if (r.state !== 'pending') return { ok: false, reason: 'already_decided' };
  const withVerifier = decision.state === 'approved' && r.version === '1.0a';
  return {
    ok: true,
    request: {
      ...r,
      state: decision.state,
      user: decision.user,
      userKey: decision.userKey,
      verifierDigest: withVerifier ? decision.verifierDigest : r.verifierDigest,
    },
  };
}

export type ExchangeReason = Extract<ExchangeResult, { ok: false }>['reason'];
export type ExchangeOutcome = { ok: true; request: RequestRecord; access: AccessRecord; keepMs: number } | Refused<ExchangeReason>;

/** What the exchange issues (values drawn by the caller, so that this stays pure). */
export interface IssuedAccess {
  digest: string;
  sessionHandleDigest: string;
  createdAt: number;
  expiresAt: number;
  authorizationExpiresAt: number;
}

/**
 * An approved request token (with its verifier for 1.0a, none for 1.0) becomes used, and the
 * grant's access token record is written; the request record stays, used, until its own keep
 * time so that a replay answers `used`. `accessHeld`: the grant's access record exists already
 * (a tombstone included). A verifier of '' counts as none. Lua: EXCHANGE.
 */
export function exchangeRequest(
  r: RequestRecord | null,
  accessHeld: boolean,
  presented: { digest: string; consumerKey: string; verifierDigest: string | null },
  issued: IssuedAccess,
): ExchangeOutcome {
  const now = issued.createdAt;
  if (!requestNamed(r, presented.digest, now)) return { ok: false, reason: 'unknown' };
  if (r.expiresAt <= now) return { ok: false, reason: 'expired' };
  if (r.consumerKey !== presented.consumerKey) return { ok: false, reason: 'wrong_consumer' };
  if (r.state === 'used') return { ok: false, reason: 'used' };
  if (r.state === 'denied') return { ok: false, reason: 'denied' };
  if (r.state !== 'approved' || r.user === null || r.userKey === null) return { ok: false, reason: 'not_approved' };
  if (r.version === '1.0a') {
    if (presented.verifierDigest === null || r.verifierDigest !== presented.verifierDigest) return { ok: false, reason: 'bad_verifier' };
  } else if (presented.verifierDigest !== null) {
    return { ok: false, reason: 'bad_verifier' };
  }
  if (accessHeld) return { ok: false, reason: 'used' };
  const access: AccessRecord = {
    digest: issued.digest,
    linkId: r.linkId,
    consumerKey: r.consumerKey,
    user: r.user,
    userKey: r.userKey,
    sessionHandleDigest: issued.sessionHandleDigest,
    createdAt: now,
    expiresAt: issued.expiresAt,
    authorizationExpiresAt: issued.authorizationExpiresAt,
    revokedAt: null,
    keepUntil: null,
  };
  return { ok: true, request: { ...r, state: 'used' }, access, keepMs: accessKeepMs(access, now) };
}

// ---------------------------------------------------------------------------------------------
// Access tokens

/** How long (ms from now) a live access record is kept: until it can neither be used nor renewed. */
export function accessKeepMs(a: Pick<AccessRecord, 'expiresAt' | 'authorizationExpiresAt'>, now: number): number {
  return Math.max(a.expiresAt, a.authorizationExpiresAt) - now;
}

/** The access token a value names, while usable (getAccessToken): not revoked, not expired. */
export function usableAccess(a: AccessRecord | null, digest: string, now: number): AccessRecord | null {
  return a !== null && a.digest === digest && a.revokedAt === null && a.expiresAt > now ? a : null;
}

/**
 * The signed-request rule: the nonce of a request with a token is claimed only when the token
 * is a usable access token of the request's consumer key and link; else nothing is written (a
 * never-issued, revoked, expired or another link's token must not make the store keep a nonce).
 * Lua: CLAIM_NONCE_AND_GET (its first test).
 */
export function accessForRequest(a: AccessRecord | null, digest: string, consumerKey: string, linkId: string, now: number): a is AccessRecord {
  return usableAccess(a, digest, now) !== null && a?.consumerKey === consumerKey && a.linkId === linkId;
}

export type RenewReason = Extract<RenewResult, { ok: false }>['reason'];
export type RenewOutcome = { ok: true; access: AccessRecord; keepMs: number } | Refused<RenewReason>;

/**
 * Renewal with the session handle: a new expiry, never beyond the authorization. A tombstone
 * answers revoked (to its own consumer) until it is gone. Lua: RENEW.
 */
export function renewAccess(
  a: AccessRecord | null,
  presented: { digest: string; consumerKey: string; sessionHandleDigest: string },
  now: number,
  accessTtlMs: number,
): RenewOutcome {
  if (a === null || a.digest !== presented.digest || (a.keepUntil !== null && a.keepUntil <= now)) return { ok: false, reason: 'unknown' };
  if (a.consumerKey !== presented.consumerKey) return { ok: false, reason: 'wrong_consumer' };
  if (a.revokedAt !== null) return { ok: false, reason: 'revoked' };
  if (a.authorizationExpiresAt <= now) return { ok: false, reason: 'expired' };
  if (a.sessionHandleDigest !== presented.sessionHandleDigest) return { ok: false, reason: 'bad_session_handle' };
  const access = { ...a, expiresAt: Math.min(now + accessTtlMs, a.authorizationExpiresAt) };
  return { ok: true, access, keepMs: accessKeepMs(access, now) };
}

export type RevokeOutcome =
  /** Revoked now: `revoked` is the record as it was, `tombstone` what replaces it for keepMs. */
  | { outcome: 'revoked'; revoked: AccessRecord; tombstone: AccessRecord; keepMs: number }
  /** Dead already (can neither be used nor renewed): the record is deleted, nothing revoked. */
  | { outcome: 'deleted' }
  /** Absent, revoked already, or not matching `who`: nothing changes. */
  | { outcome: 'none' };

/**
 * Revocation of an access record, only if it belongs to `who.userKey` (null: any user; '' is a
 * user name that matches no record) and `who.linkId` (null: any link). The record becomes a
 * tombstone: no session handle digest (and the store deletes the secrets), revokedAt and
 * keepUntil (tombstoneKeepUntil) set, and its expiresAt and authorizationExpiresAt become the
 * revocation time, so that a reader unaware of tombstones (an older replica during a rolling
 * update) sees a dead record, never a live one. Lua: REVOKE.
 */
export function revokeAccess(a: AccessRecord | null, who: { userKey: string | null; linkId: string | null }, now: number): RevokeOutcome {
  if (a === null || a.revokedAt !== null) return { outcome: 'none' };
  if (who.userKey !== null && a.userKey !== who.userKey) return { outcome: 'none' };
  if (who.linkId !== null && a.linkId !== who.linkId) return { outcome: 'none' };
  if (!isAccessRecordLive(a, now)) return { outcome: 'deleted' };
  const keepUntil = tombstoneKeepUntil(a, now);
  const tombstone: AccessRecord = {
    ...a,
    sessionHandleDigest: null,
    expiresAt: now,
    authorizationExpiresAt: now,
    revokedAt: now,
    keepUntil,
  };
  return { outcome: 'revoked', revoked: a, tombstone, keepMs: keepUntil - now };
}

/** Listed (user page, CLI) and revocable in bulk: not a tombstone, still usable or renewable. */
export function listableAccess(a: AccessRecord | null, now: number): a is AccessRecord {
  return a !== null && a.revokedAt === null && isAccessRecordLive(a, now);
}

/**
 * An imported access token (another provider's) takes handle h unless a record of h exists:
 * the same token already there (live, expired or a tombstone, which an import never revives)
 * is unchanged; another one is a conflict. Lua: IMPORT_ACCESS.
 */
export function importAccess(
  request: Pick<RequestRecord, 'digest'> | null,
  access: Pick<AccessRecord, 'digest'> | null,
  digest: string,
): 'imported' | 'unchanged' | 'conflict' {
  const held = access?.digest ?? request?.digest;
  if (held === undefined) return 'imported';
  return held === digest ? 'unchanged' : 'conflict';
}

/** The record of an imported access token (its dates are the other provider's). */
export function importedAccess(
  input: { linkId: string; consumerKey: string; user: string; createdAt: number; expiresAt: number; authorizationExpiresAt: number },
  digests: { digest: string; sessionHandleDigest: string },
  userKey: string,
): AccessRecord {
  return {
    digest: digests.digest,
    linkId: input.linkId,
    consumerKey: input.consumerKey,
    user: input.user,
    userKey,
    sessionHandleDigest: digests.sessionHandleDigest,
    createdAt: input.createdAt,
    expiresAt: input.expiresAt,
    authorizationExpiresAt: input.authorizationExpiresAt,
    revokedAt: null,
    keepUntil: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Reads

/**
 * What a presented value names among the records of its grant: the access record first, then
 * the request record (one handle, two values, each naming its own record). Lua: READ_STATUS
 * reads the non-secret fields of both records; the choice is made here.
 */
export function inspectGrant(
  request: RequestRecord | null,
  access: AccessRecord | null,
  handle: string,
  digest: string,
  now: number,
): TokenStatus | null {
  if (access !== null && access.digest === digest) {
    return accessStatus({ ...access, handle }, now, access.revokedAt === null ? null : access.keepUntil);
  }
  if (request !== null && request.digest === digest) return requestStatus({ ...request, handle }, now);
  return null;
}

// ---------------------------------------------------------------------------------------------
// Nonces

/**
 * Claims a nonce seen until `seenUntil` (undefined: never seen): the new seen-until time when
 * fresh, null for a replay. Redis: SET NX EX (whole seconds, nonceTtlSeconds).
 */
export function claimNonce(seenUntil: number | undefined, now: number, ttlSeconds: number): number | null {
  if (seenUntil !== undefined && seenUntil > now) return null;
  return now + ttlSeconds * 1000;
}
