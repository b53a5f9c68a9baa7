// The embedded store: same semantics as the Redis store, one process only (demos, development,
// a single instance). Every transition runs synchronously between awaits, so it is atomic.
import { constantTimeEqual, randomToken, tokenDigest } from './crypto.js';
import {
  accessHandleOfToken,
  accessStatus,
  assertRevokeFilter,
  handleOfToken,
  isAccessRecordLive,
  isHandle,
  newHandle,
  newTokenValue,
  newestFirst,
  nonceDigest,
  nonceTtlSeconds,
  requestKeepUntil,
  requestStatus,
  tombstoneKeepUntil,
  toSummary,
  ttlToMs,
  userKey,
} from './tokens.js';
import type {
  AccessToken,
  AccessTokenSummary,
  DecideResult,
  ExchangeInput,
  ExchangeResult,
  ImportResult,
  ImportedAccessToken,
  NewRequestToken,
  NonceKey,
  RenewInput,
  RenewResult,
  RequestToken,
  ResourceLookup,
  TokenStatus,
  TokenStore,
} from './types.js';

/** Logged by the server when it falls back to this store. */
export const MEMORY_STORE_WARNING =
  'token store: in-memory (no store.redis configured) - tokens live in this process only, are lost on restart and are not shared with other instances or workers; use Redis for more than one instance';

// Records keep the token digest, not the value, like the Redis store.
interface RequestRecord extends Omit<RequestToken, 'token'> {
  digest: string;
  userKey: string | null;
}

interface AccessRecord extends Omit<AccessToken, 'token'> {
  digest: string;
  /** The token value is needed to answer reads; kept here since nothing leaves the process. */
  token: string;
  userKey: string;
  sessionHandleDigest: string;
}

/** What is left of a revoked access token: no value, secret or session handle. */
interface Tombstone extends AccessTokenSummary {
  digest: string;
  revokedAt: number;
  keepUntil: number;
}

const SWEEP_INTERVAL_MS = 60_000;

export function createMemoryStore(opts: { now?: () => number } = {}): TokenStore {
  const now = opts.now ?? Date.now;
  const requests = new Map<string, RequestRecord>(); // by handle
  const accesses = new Map<string, AccessRecord>(); // by handle
  const tombstones = new Map<string, Tombstone>(); // revoked access tokens, by handle
  const byUser = new Map<string, Set<string>>(); // lower-cased user -> handles
  const byLink = new Map<string, Set<string>>(); // linkId -> handles
  const nonces = new Map<string, number>(); // nonce digest -> expiresAt
  let lastSweep = now();

  // Expired entries are dropped now and then; reads re-check expiry anyway.
  function sweep(): void {
    const t = now();
    if (t - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = t;
    for (const [k, r] of requests) if (requestKeepUntil(r) <= t) requests.delete(k);
    for (const [k, a] of accesses) if (!isAccessRecordLive(a, t)) accesses.delete(k);
    for (const [k, d] of tombstones) if (d.keepUntil <= t) tombstones.delete(k);
    for (const [k, exp] of nonces) if (exp <= t) nonces.delete(k);
  }

  /** The request token record, also during its grace period after expiry (callers check expiresAt). */
  function findRequest(token: string): RequestRecord | null {
    const handle = handleOfToken(token);
    const rec = handle === null ? undefined : requests.get(handle);
    if (rec === undefined || !constantTimeEqual(rec.digest, tokenDigest(token))) return null;
    if (requestKeepUntil(rec) <= now()) {
      requests.delete(rec.handle);
      return null;
    }
    return rec;
  }

  /** The tombstone of a revoked access token, while it is kept. */
  function findTombstone(token: string): Tombstone | null {
    const handle = accessHandleOfToken(token);
    const rec = handle === null ? undefined : tombstones.get(handle);
    if (rec === undefined || !constantTimeEqual(rec.digest, tokenDigest(token))) return null;
    if (rec.keepUntil <= now()) {
      tombstones.delete(rec.handle);
      return null;
    }
    return rec;
  }

  function findAccess(token: string): AccessRecord | null {
    const handle = accessHandleOfToken(token);
    const rec = handle === null ? undefined : accesses.get(handle);
    if (rec === undefined || !constantTimeEqual(rec.digest, tokenDigest(token))) return null;
    return rec;
  }

  function requestView(rec: RequestRecord, token: string): RequestToken {
    return {
      token,
      secret: rec.secret,
      handle: rec.handle,
      linkId: rec.linkId,
      consumerKey: rec.consumerKey,
      callback: rec.callback,
      version: rec.version,
      state: rec.state,
      user: rec.user,
      verifier: rec.verifier,
      createdAt: rec.createdAt,
      expiresAt: rec.expiresAt,
    };
  }

  function accessView(rec: AccessRecord): AccessToken {
    return {
      token: rec.token,
      secret: rec.secret,
      handle: rec.handle,
      linkId: rec.linkId,
      consumerKey: rec.consumerKey,
      user: rec.user,
      sessionHandle: rec.sessionHandle,
      createdAt: rec.createdAt,
      expiresAt: rec.expiresAt,
      authorizationExpiresAt: rec.authorizationExpiresAt,
    };
  }

  function indexAdd(index: Map<string, Set<string>>, key: string, handle: string): void {
    let set = index.get(key);
    if (set === undefined) index.set(key, (set = new Set()));
    set.add(handle);
  }

  function indexRemove(index: Map<string, Set<string>>, key: string, handle: string): void {
    const set = index.get(key);
    if (set === undefined) return;
    set.delete(handle);
    if (set.size === 0) index.delete(key);
  }

  function liveAccess(handle: string): AccessRecord | null {
    const rec = accesses.get(handle);
    if (rec === undefined) return null;
    if (!isAccessRecordLive(rec, now())) {
      accesses.delete(handle);
      return null;
    }
    return rec;
  }

  /** Handles of the access tokens matching the filter; stale index entries are pruned here. */
  function matching(filter: { user?: string; linkId?: string }): AccessRecord[] {
    const found: AccessRecord[] = [];
    const consider = (handle: string, index: Map<string, Set<string>> | null, key: string) => {
      const rec = liveAccess(handle);
      if (rec === null) {
        if (index !== null) indexRemove(index, key, handle);
        return;
      }
      if (filter.user !== undefined && rec.userKey !== userKey(filter.user)) return;
      if (filter.linkId !== undefined && rec.linkId !== filter.linkId) return;
      found.push(rec);
    };
    if (filter.user !== undefined) {
      const key = userKey(filter.user);
      for (const h of [...(byUser.get(key) ?? [])]) consider(h, byUser, key);
    } else if (filter.linkId !== undefined) {
      for (const h of [...(byLink.get(filter.linkId) ?? [])]) consider(h, byLink, filter.linkId);
    } else {
      for (const h of [...accesses.keys()]) consider(h, null, '');
    }
    return found;
  }

  /** Replaces a live record by its tombstone, so that the token's next use answers token_revoked. */
  function revoke(rec: AccessRecord): void {
    const t = now();
    accesses.delete(rec.handle);
    tombstones.set(rec.handle, {
      ...toSummary(rec),
      digest: rec.digest,
      revokedAt: t,
      keepUntil: tombstoneKeepUntil(rec, t),
    });
    indexRemove(byUser, rec.userKey, rec.handle);
    indexRemove(byLink, rec.linkId, rec.handle);
  }

  function claim(key: NonceKey, ttlSeconds: number): boolean {
    const ttlMs = nonceTtlSeconds(ttlSeconds) * 1000;
    const id = nonceDigest(key);
    const t = now();
    const seenUntil = nonces.get(id);
    if (seenUntil !== undefined && seenUntil > t) return false;
    nonces.set(id, t + ttlMs);
    return true;
  }

  function getAccess(token: string): AccessToken | null {
    const rec = findAccess(token);
    if (rec === null || rec.expiresAt <= now()) return null;
    return accessView(rec);
  }

  return {
    async createRequestToken(input: NewRequestToken): Promise<RequestToken> {
      sweep();
      const ttlMs = ttlToMs(input.ttlSeconds, 'request token ttlSeconds');
      let handle = newHandle();
      while (requests.has(handle) || accesses.has(handle) || tombstones.has(handle)) handle = newHandle();
      const token = newTokenValue(handle);
      const createdAt = now();
      const rec: RequestRecord = {
        digest: tokenDigest(token),
        secret: input.emptySecret ? '' : randomToken(),
        handle,
        linkId: input.linkId,
        consumerKey: input.consumerKey,
        callback: input.callback,
        version: input.version,
        state: 'pending',
        user: null,
        userKey: null,
        verifier: null,
        createdAt,
        expiresAt: createdAt + ttlMs,
      };
      requests.set(handle, rec);
      return requestView(rec, token);
    },

    async getRequestToken(token: string): Promise<RequestToken | null> {
      const rec = findRequest(token);
      if (rec === null || rec.expiresAt <= now()) return null;
      return requestView(rec, token);
    },

    async approveRequestToken(token: string, user: string): Promise<DecideResult> {
      const rec = findRequest(token);
      if (rec === null) return { ok: false, reason: 'unknown' };
      if (rec.expiresAt <= now()) return { ok: false, reason: 'expired' };
      if (rec.state !== 'pending') return { ok: false, reason: 'already_decided' };
      rec.state = 'approved';
      rec.user = user;
      rec.userKey = userKey(user);
      rec.verifier = rec.version === '1.0a' ? randomToken() : null;
      return { ok: true, token: requestView(rec, token) };
    },

    async denyRequestToken(token: string, user: string): Promise<DecideResult> {
      const rec = findRequest(token);
      if (rec === null) return { ok: false, reason: 'unknown' };
      if (rec.expiresAt <= now()) return { ok: false, reason: 'expired' };
      if (rec.state !== 'pending') return { ok: false, reason: 'already_decided' };
      rec.state = 'denied';
      rec.user = user;
      rec.userKey = userKey(user);
      return { ok: true, token: requestView(rec, token) };
    },

    async exchangeRequestToken(token: string, input: ExchangeInput): Promise<ExchangeResult> {
      const accessTtlMs = ttlToMs(input.accessTtlSeconds, 'accessTtlSeconds');
      const authorizationTtlMs = ttlToMs(
        input.authorizationTtlSeconds ?? input.accessTtlSeconds,
        'authorizationTtlSeconds',
      );
      const rec = findRequest(token);
      const t = now();
      if (rec === null) return { ok: false, reason: 'unknown' };
      if (rec.expiresAt <= t) return { ok: false, reason: 'expired' };
      if (rec.consumerKey !== input.consumerKey) return { ok: false, reason: 'wrong_consumer' };
      if (rec.state === 'used') return { ok: false, reason: 'used' };
      if (rec.state === 'denied') return { ok: false, reason: 'denied' };
      if (rec.state !== 'approved') return { ok: false, reason: 'not_approved' };
      const verifier = input.verifier === '' ? null : input.verifier;
      if (rec.version === '1.0a') {
        if (verifier === null || rec.verifier === null || !constantTimeEqual(verifier, rec.verifier)) {
          return { ok: false, reason: 'bad_verifier' };
        }
      } else if (verifier !== null) {
        return { ok: false, reason: 'bad_verifier' };
      }
      if (rec.user === null || rec.userKey === null) return { ok: false, reason: 'not_approved' };
      // Consumed, but kept until its TTL so that reuse answers `used`.
      rec.state = 'used';
      const value = newTokenValue(rec.handle);
      const sessionHandle = randomToken();
      const access: AccessRecord = {
        digest: tokenDigest(value),
        token: value,
        secret: randomToken(),
        handle: rec.handle,
        linkId: rec.linkId,
        consumerKey: rec.consumerKey,
        user: rec.user,
        userKey: rec.userKey,
        sessionHandle,
        sessionHandleDigest: tokenDigest(sessionHandle),
        createdAt: t,
        expiresAt: t + accessTtlMs,
        authorizationExpiresAt: t + authorizationTtlMs,
      };
      accesses.set(rec.handle, access);
      indexAdd(byUser, access.userKey, access.handle);
      indexAdd(byLink, access.linkId, access.handle);
      return { ok: true, access: accessView(access) };
    },

    async inspectToken(token: string): Promise<TokenStatus | null> {
      const t = now();
      const access = findAccess(token);
      if (access !== null) return accessStatus(access, t, null);
      const tombstone = findTombstone(token);
      if (tombstone !== null) return accessStatus(tombstone, t, tombstone.keepUntil);
      const request = findRequest(token);
      return request === null ? null : requestStatus(request, t);
    },

    async getAccessToken(token: string): Promise<AccessToken | null> {
      return getAccess(token);
    },

    async renewAccessToken(token: string, input: RenewInput): Promise<RenewResult> {
      const accessTtlMs = ttlToMs(input.accessTtlSeconds, 'accessTtlSeconds');
      const rec = findAccess(token);
      const t = now();
      if (rec === null) {
        const tombstone = findTombstone(token);
        if (tombstone === null) return { ok: false, reason: 'unknown' };
        return { ok: false, reason: tombstone.consumerKey === input.consumerKey ? 'revoked' : 'wrong_consumer' };
      }
      if (rec.consumerKey !== input.consumerKey) return { ok: false, reason: 'wrong_consumer' };
      if (rec.authorizationExpiresAt <= t) return { ok: false, reason: 'expired' };
      if (!constantTimeEqual(tokenDigest(input.sessionHandle), rec.sessionHandleDigest)) {
        return { ok: false, reason: 'bad_session_handle' };
      }
      // The authorization bounds every renewal: a token never outlives its grant.
      rec.expiresAt = Math.min(t + accessTtlMs, rec.authorizationExpiresAt);
      return { ok: true, access: accessView(rec) };
    },

    async revokeAccessToken(
      handle: string,
      opts: { user?: string } = {},
    ): Promise<AccessTokenSummary | null> {
      if (!isHandle(handle)) return null;
      const rec = liveAccess(handle);
      if (rec === null) return null;
      if (opts.user !== undefined && rec.userKey !== userKey(opts.user)) return null;
      revoke(rec);
      return toSummary(rec);
    },

    async revokeAccessTokens(filter: { user?: string; linkId?: string }): Promise<number> {
      assertRevokeFilter(filter);
      const found = matching(filter);
      for (const rec of found) revoke(rec);
      return found.length;
    },

    async listAccessTokens(filter: { user?: string; linkId?: string }): Promise<AccessTokenSummary[]> {
      return matching(filter).map(toSummary).sort(newestFirst);
    },

    async importAccessToken(input: ImportedAccessToken): Promise<ImportResult> {
      sweep();
      const handle = accessHandleOfToken(input.token);
      if (handle === null) throw new TypeError('importAccessToken: the value has no access-token handle');
      if (!isAccessRecordLive(input, now())) throw new RangeError('importAccessToken: the token can no longer be used or renewed');
      const digest = tokenDigest(input.token);
      const held = accesses.get(handle) ?? tombstones.get(handle) ?? requests.get(handle);
      if (held !== undefined) {
        return { result: constantTimeEqual(held.digest, digest) ? 'unchanged' : 'conflict', handle };
      }
      const access: AccessRecord = {
        token: input.token,
        secret: input.secret,
        handle,
        linkId: input.linkId,
        consumerKey: input.consumerKey,
        user: input.user,
        sessionHandle: input.sessionHandle,
        createdAt: input.createdAt,
        expiresAt: input.expiresAt,
        authorizationExpiresAt: input.authorizationExpiresAt,
        digest,
        userKey: userKey(input.user),
        sessionHandleDigest: tokenDigest(input.sessionHandle),
      };
      accesses.set(handle, access);
      indexAdd(byUser, access.userKey, handle);
      indexAdd(byLink, access.linkId, handle);
      return { result: 'imported', handle };
    },

    async claimNonce(key: NonceKey, ttlSeconds: number): Promise<boolean> {
      sweep();
      return claim(key, ttlSeconds);
    },

    async claimNonceAndGetAccessToken(key: NonceKey, ttlSeconds: number, linkId: string): Promise<ResourceLookup> {
      sweep();
      if (key.token === '') return { nonceFresh: claim(key, ttlSeconds), access: null };
      // As in Redis: the nonce is claimed only for a live access token of this consumer and link.
      const access = getAccess(key.token);
      if (access === null || access.consumerKey !== key.consumerKey || access.linkId !== linkId) return { nonceFresh: false, access: null };
      return { nonceFresh: claim(key, ttlSeconds), access };
    },

    async ping(): Promise<void> {},

    isHealthy(): boolean {
      return true;
    },

    async close(): Promise<void> {},
  };
}
