// Token values, handles and the small rules both stores share, so that Redis and memory agree.
import { createHash } from 'node:crypto';
import { randomToken, tokenDigest } from './crypto.js';
import type { AccessToken, AccessTokenSummary, NonceKey, RequestToken, TokenStatus } from './types.js';

// A handle is 12 random bytes (16 base64url characters): unique per grant, not secret.
const HANDLE = /^[A-Za-z0-9_-]{16}$/;
// A token value is `<handle>.<secret part>` (the "selector.validator" split token). The handle
// locates the record, and lets the request token and the access token of one grant share a
// Redis Cluster hash tag; only SHA-256 of the whole value is stored.
const TOKEN = /^([A-Za-z0-9_-]{16})\.[A-Za-z0-9_-]{16,128}$/;

export function newHandle(): string {
  return randomToken(12);
}

/** A fresh token value for the grant `handle`: the handle, a dot, 24 random bytes. */
export function newTokenValue(handle: string): string {
  return `${handle}.${randomToken(24)}`;
}

/** The handle a token value carries, or null when the value is not one of ours. */
export function handleOfToken(token: string): string | null {
  return TOKEN.exec(token)?.[1] ?? null;
}

// An access token imported from an Atlassian application's own provider (its oauthsptoken
// table): 32 letters and digits, with no handle inside. Only access tokens are imported.
const FOREIGN_TOKEN = /^[A-Za-z0-9]{32}$/;

/** true for a value of an imported (Atlassian-issued) access token's shape. */
export function isForeignToken(token: string): boolean {
  return FOREIGN_TOKEN.test(token);
}

/**
 * The handle of the access-token record a presented value names, computed without a store
 * read (so the hot path stays one round trip): a native value carries it; an imported value's
 * handle is derived from its digest (domain-separated, so it says nothing of the stored digest).
 * null when the value can be neither. Request tokens are never imported: use handleOfToken.
 */
export function accessHandleOfToken(token: string): string | null {
  const native = handleOfToken(token);
  if (native !== null) return native;
  if (!FOREIGN_TOKEN.test(token)) return null;
  return createHash('sha256').update('applink-gateway imported token handle\0').update(token, 'utf8').digest('base64url').slice(0, 16);
}

export function isHandle(value: string): boolean {
  return HANDLE.test(value);
}

/** User names compare case-insensitively, as Jira's do. */
export function userKey(user: string): string {
  return user.toLowerCase();
}

/** One digest per (consumer key, timestamp, nonce, token): the token never appears in clear. */
export function nonceDigest(key: NonceKey): string {
  return tokenDigest(JSON.stringify([key.consumerKey, key.timestamp, key.nonce, key.token]));
}

/** Whole seconds for SET ... EX (at least 1). */
export function nonceTtlSeconds(ttlSeconds: number): number {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError('nonce ttlSeconds must be a positive number');
  }
  return Math.max(1, Math.ceil(ttlSeconds));
}

export function ttlToMs(seconds: number, what: string): number {
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new RangeError(`${what} must be a positive number of seconds`);
  }
  return Math.round(seconds * 1000);
}

/**
 * An access token stays listed (and revocable) while it can still be used or renewed: an
 * expired token whose session handle may still renew it is not dead yet.
 */
export function isAccessRecordLive(
  a: Pick<AccessToken, 'expiresAt' | 'authorizationExpiresAt'>,
  now: number,
): boolean {
  return Math.max(a.expiresAt, a.authorizationExpiresAt) > now;
}

// Dead records are kept a while so that their next use is answered precisely (token_expired,
// token_revoked) rather than token_rejected; past these bounds a record is gone, as if unknown.
/** A request token is kept, unusable, past its expiry for as long as its TTL again, at most 1 hour. */
export const REQUEST_GRACE_MAX_MS = 3_600_000;
/** A revoked access token stays a tombstone (no secrets) until its authorization would have ended, at most 30 days. */
export const TOMBSTONE_MAX_MS = 30 * 86_400_000;

/** Until when a request token record is kept: its expiry plus the grace period. */
export function requestKeepUntil(r: Pick<RequestToken, 'createdAt' | 'expiresAt'>): number {
  return r.expiresAt + Math.min(Math.max(0, r.expiresAt - r.createdAt), REQUEST_GRACE_MAX_MS);
}

/** Until when the tombstone of an access token revoked at `revokedAt` is kept. */
export function tombstoneKeepUntil(
  a: Pick<AccessToken, 'expiresAt' | 'authorizationExpiresAt'>,
  revokedAt: number,
): number {
  return Math.min(Math.max(a.expiresAt, a.authorizationExpiresAt), revokedAt + TOMBSTONE_MAX_MS);
}

/** The status of a request token record at `now`, or null once past its grace period. */
export function requestStatus(
  r: Pick<RequestToken, 'handle' | 'linkId' | 'consumerKey' | 'state' | 'createdAt' | 'expiresAt'>,
  now: number,
): TokenStatus | null {
  if (requestKeepUntil(r) <= now) return null;
  const base = { handle: r.handle, linkId: r.linkId, consumerKey: r.consumerKey };
  return { ...base, kind: 'request', state: r.expiresAt <= now ? 'expired' : r.state };
}

/**
 * The status of an access token record at `now`: live, expired (still renewable) or revoked
 * (keepUntil = its tombstone's end); null once it can neither be used nor renewed.
 */
export function accessStatus(
  a: Pick<AccessToken, 'handle' | 'linkId' | 'consumerKey' | 'expiresAt' | 'authorizationExpiresAt'>,
  now: number,
  tombstoneUntil: number | null,
): TokenStatus | null {
  const base = { handle: a.handle, linkId: a.linkId, consumerKey: a.consumerKey };
  if (tombstoneUntil !== null) return tombstoneUntil > now ? { ...base, kind: 'access', state: 'revoked' } : null;
  if (!isAccessRecordLive(a, now)) return null;
  return { ...base, kind: 'access', state: a.expiresAt > now ? 'live' : 'expired' };
}

export function toSummary(
  handle: string,
  a: Pick<AccessTokenSummary, 'linkId' | 'consumerKey' | 'user' | 'createdAt' | 'expiresAt' | 'authorizationExpiresAt'>,
): AccessTokenSummary {
  return {
    handle,
    linkId: a.linkId,
    consumerKey: a.consumerKey,
    user: a.user,
    createdAt: a.createdAt,
    expiresAt: a.expiresAt,
    authorizationExpiresAt: a.authorizationExpiresAt,
  };
}

/** Newest first; the handle breaks ties so the order is stable. */
export function newestFirst(a: AccessTokenSummary, b: AccessTokenSummary): number {
  return b.createdAt - a.createdAt || (a.handle < b.handle ? -1 : a.handle > b.handle ? 1 : 0);
}

/** Bulk revocation needs a filter: an empty one would revoke every token by accident. */
export function assertRevokeFilter(filter: { user?: string; linkId?: string }): void {
  if (!filter.user && !filter.linkId) {
    throw new TypeError('revokeAccessTokens needs a user or a linkId');
  }
}
