// The TokenStore (types.ts) built from a backend (backend.ts): everything above the records and
// their atomic steps is here once, for memory and Redis alike — token values and handles, TTL
// checks, approve/deny as one decision step, the exchange's index-first ordering, listing and
// bulk revocation over the indexes, and the hot path's shortcuts (no round trip for a value that
// can be no access token; one backend call otherwise).
import { randomToken, tokenDigest } from './crypto.js';
import type { IndexRef, StoredAccess, StoredRequest, TokenBackend } from './backend.js';
import {
  accessHandleOfToken,
  assertRevokeFilter,
  handleOfToken,
  isAccessRecordLive,
  isHandle,
  newHandle,
  newTokenValue,
  newestFirst,
  nonceTtlSeconds,
  toSummary,
  ttlToMs,
  userKey,
} from './tokens.js';
import {
  importedAccess,
  inspectGrant,
  listableAccess,
  pendingRequest,
  readableRequest,
  requestKeepMs,
  usableAccess,
} from './transitions.js';
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

/** Records read (listing) or revoked (bulk) at a time: separate grants, separate steps. */
const BATCH = 200;
/** Indexes outlive their newest token a little, since their TTL is set just before it. */
const INDEX_TTL_MARGIN_MS = 60_000;
/** Attempts at a free handle for a new grant (96 random bits: a second one is never expected). */
const HANDLE_ATTEMPTS = 3;

const userIndex = (key: string): IndexRef => ({ kind: 'user', key });
const linkIndex = (key: string): IndexRef => ({ kind: 'link', key });

function requestView(h: string, token: string, stored: StoredRequest): RequestToken {
  const record = stored.record;
  return {
    token,
    secret: stored.secret(),
    handle: h,
    linkId: record.linkId,
    consumerKey: record.consumerKey,
    callback: record.callback,
    version: record.version,
    state: record.state,
    user: record.user,
    verifier: stored.verifier(),
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
  };
}

/** The AccessToken of a stored access record (its secrets read through `stored`). */
export function accessView(h: string, token: string, stored: StoredAccess): AccessToken {
  return { ...toSummary(h, stored.record), token, secret: stored.secret(), sessionHandle: stored.sessionHandle() };
}

function tokenless(nonceFresh: boolean): ResourceLookup {
  return { nonceFresh, access: null };
}

export function composeStore(backend: TokenBackend): TokenStore {
  const now = backend.now;

  async function decide(token: string, user: string, state: 'approved' | 'denied'): Promise<DecideResult> {
    const h = handleOfToken(token);
    if (h === null) return { ok: false, reason: 'unknown' };
    const verifier = randomToken();
    const out = await backend.apply(h, {
      kind: 'decide',
      digest: tokenDigest(token),
      now: now(),
      state,
      user,
      userKey: userKey(user),
      verifier,
      verifierDigest: tokenDigest(verifier),
    });
    if (!out.ok) return out;
    return { ok: true, token: requestView(h, token, out.request) };
  }

  /** The index a filter reads (user first), or null for every access token. */
  function indexOf(filter: { user?: string; linkId?: string }): IndexRef | null {
    if (filter.user !== undefined) return userIndex(userKey(filter.user));
    if (filter.linkId !== undefined) return linkIndex(filter.linkId);
    return null;
  }

  const store: TokenStore = {
    async createRequestToken(input: NewRequestToken): Promise<RequestToken> {
      const ttlMs = ttlToMs(input.ttlSeconds, 'request token ttlSeconds');
      const secret = input.emptySecret ? '' : randomToken();
      for (let attempt = 0; attempt < HANDLE_ATTEMPTS; attempt++) {
        const h = newHandle();
        const token = newTokenValue(h);
        const createdAt = now();
        const record = pendingRequest(input, tokenDigest(token), createdAt, ttlMs);
        if (await backend.apply(h, { kind: 'create', record, secret, keepMs: requestKeepMs(record, createdAt) })) {
          return requestView(h, token, { record, secret: () => secret, verifier: () => null });
        }
      }
      throw new Error('token store: could not allocate a unique token handle');
    },

    async getRequestToken(token: string): Promise<RequestToken | null> {
      const h = handleOfToken(token);
      if (h === null) return null;
      const stored = await backend.read(h, 'request');
      if (stored === null || readableRequest(stored.record, tokenDigest(token), now()) === null) return null;
      return requestView(h, token, stored);
    },

    approveRequestToken(token: string, user: string): Promise<DecideResult> {
      return decide(token, user, 'approved');
    },

    denyRequestToken(token: string, user: string): Promise<DecideResult> {
      return decide(token, user, 'denied');
    },

    async exchangeRequestToken(token: string, input: ExchangeInput): Promise<ExchangeResult> {
      const accessTtlMs = ttlToMs(input.accessTtlSeconds, 'accessTtlSeconds');
      const authorizationTtlMs = ttlToMs(input.authorizationTtlSeconds ?? input.accessTtlSeconds, 'authorizationTtlSeconds');
      const h = handleOfToken(token);
      if (h === null) return { ok: false, reason: 'unknown' };
      const digest = tokenDigest(token);

      // Index first, exchange second: an index entry may point at a token that was never
      // issued (pruned lazily), but an issued token is never missing from the indexes.
      const pending = await backend.read(h, 'request');
      const r = pending?.record;
      if (r && r.digest === digest && r.state === 'approved' && r.userKey !== null && r.linkId) {
        const keepMs = Math.max(accessTtlMs, authorizationTtlMs) + INDEX_TTL_MARGIN_MS;
        await Promise.all([backend.indexAdd(userIndex(r.userKey), h, keepMs), backend.indexAdd(linkIndex(r.linkId), h, keepMs)]);
      }

      const t = now();
      const value = newTokenValue(h);
      const secret = randomToken();
      const sessionHandle = randomToken();
      const issued = {
        digest: tokenDigest(value),
        sessionHandleDigest: tokenDigest(sessionHandle),
        createdAt: t,
        expiresAt: t + accessTtlMs,
        authorizationExpiresAt: t + authorizationTtlMs,
      };
      const verifier = input.verifier === null || input.verifier === '' ? null : input.verifier;
      const out = await backend.apply(h, {
        kind: 'exchange',
        digest,
        consumerKey: input.consumerKey,
        verifierDigest: verifier === null ? null : tokenDigest(verifier),
        issued,
        secret,
        sessionHandle,
      });
      if (!out.ok) return out;
      return { ok: true, access: accessView(h, value, { record: out.access, secret: () => secret, sessionHandle: () => sessionHandle }) };
    },

    async inspectToken(token: string): Promise<TokenStatus | null> {
      const h = accessHandleOfToken(token);
      if (h === null) return null;
      const grant = await backend.read(h, 'status');
      return inspectGrant(grant.request, grant.access, h, tokenDigest(token), now());
    },

    async getAccessToken(token: string): Promise<AccessToken | null> {
      const h = accessHandleOfToken(token);
      if (h === null) return null;
      const stored = await backend.read(h, 'access');
      if (stored === null || usableAccess(stored.record, tokenDigest(token), now()) === null) return null;
      return accessView(h, token, stored);
    },

    async renewAccessToken(token: string, input: RenewInput): Promise<RenewResult> {
      const accessTtlMs = ttlToMs(input.accessTtlSeconds, 'accessTtlSeconds');
      const h = accessHandleOfToken(token);
      if (h === null) return { ok: false, reason: 'unknown' };
      const out = await backend.apply(h, {
        kind: 'renew',
        digest: tokenDigest(token),
        consumerKey: input.consumerKey,
        sessionHandleDigest: tokenDigest(input.sessionHandle),
        now: now(),
        accessTtlMs,
      });
      if (!out.ok) return out;
      return { ok: true, access: accessView(h, token, out.access) };
    },

    async revokeAccessToken(handle: string, opts: { user?: string } = {}): Promise<AccessTokenSummary | null> {
      if (!isHandle(handle)) return null;
      const revoked = await backend.apply(handle, {
        kind: 'revoke',
        userKey: opts.user === undefined ? null : userKey(opts.user),
        linkId: null,
        now: now(),
      });
      if (revoked === null) return null;
      // The indexes are tidied separately; a failure here only leaves an entry to prune later.
      await Promise.all([
        backend.indexRemove(userIndex(revoked.userKey), [handle]),
        backend.indexRemove(linkIndex(revoked.linkId), [handle]),
      ]).catch(() => undefined);
      return toSummary(handle, revoked);
    },

    async revokeAccessTokens(filter: { user?: string; linkId?: string }): Promise<number> {
      assertRevokeFilter(filter);
      const index = indexOf(filter);
      const handles = await backend.indexMembers(index);
      const who = { userKey: filter.user === undefined ? null : userKey(filter.user), linkId: filter.linkId ?? null };
      const gone: string[] = [];
      const otherIndexes = new Map<string, { ref: IndexRef; handles: string[] }>();
      for (let i = 0; i < handles.length; i += BATCH) {
        const batch = handles.slice(i, i + BATCH);
        const revoked = await Promise.all(batch.map((h) => backend.apply(h, { kind: 'revoke', ...who, now: now() })));
        batch.forEach((h, j) => {
          const rec = revoked[j];
          // Not revoked: gone already, revoked already, dead, or (in the user index) another link's token.
          if (rec === null || rec === undefined) return;
          gone.push(h);
          const ref = filter.user !== undefined ? linkIndex(rec.linkId) : userIndex(rec.userKey);
          const id = `${ref.kind}:${ref.key}`;
          const entry = otherIndexes.get(id) ?? { ref, handles: [] };
          entry.handles.push(h);
          otherIndexes.set(id, entry);
        });
      }
      if (index !== null) await backend.indexRemove(index, gone);
      for (const { ref, handles: hs } of otherIndexes.values()) await backend.indexRemove(ref, hs);
      return gone.length;
    },

    async listAccessTokens(filter: { user?: string; linkId?: string }): Promise<AccessTokenSummary[]> {
      const index = indexOf(filter);
      const handles = await backend.indexMembers(index);
      const lowerUser = filter.user === undefined ? null : userKey(filter.user);
      const t = now();
      const listed: AccessTokenSummary[] = [];
      const stale: string[] = [];
      for (let i = 0; i < handles.length; i += BATCH) {
        const batch = handles.slice(i, i + BATCH);
        const records = await Promise.all(batch.map((h) => backend.read(h, 'access')));
        batch.forEach((h, j) => {
          const a = records[j]?.record ?? null;
          // Missing, a tombstone of a revoked token, or dead: never listed.
          if (!listableAccess(a, t)) {
            stale.push(h);
            return;
          }
          if (lowerUser !== null && a.userKey !== lowerUser) return;
          if (filter.linkId !== undefined && a.linkId !== filter.linkId) return;
          listed.push(toSummary(h, a));
        });
      }
      if (index !== null) await backend.indexRemove(index, stale).catch(() => undefined);
      return listed.sort(newestFirst);
    },

    async importAccessToken(input: ImportedAccessToken): Promise<ImportResult> {
      const h = accessHandleOfToken(input.token);
      if (h === null) throw new TypeError('importAccessToken: the value has no access-token handle');
      const t = now();
      if (!isAccessRecordLive(input, t)) throw new RangeError('importAccessToken: the token can no longer be used or renewed');
      const keepMs = Math.max(input.expiresAt, input.authorizationExpiresAt) - t;
      const key = userKey(input.user);
      // Index first, record second, as in the exchange: an index entry may name a missing token.
      await Promise.all([
        backend.indexAdd(userIndex(key), h, keepMs + INDEX_TTL_MARGIN_MS),
        backend.indexAdd(linkIndex(input.linkId), h, keepMs + INDEX_TTL_MARGIN_MS),
      ]);
      const record = importedAccess(input, { digest: tokenDigest(input.token), sessionHandleDigest: tokenDigest(input.sessionHandle) }, key);
      const result = await backend.apply(h, { kind: 'import', record, secret: input.secret, sessionHandle: input.sessionHandle, keepMs });
      return { result, handle: h };
    },

    async claimNonce(key: NonceKey, ttlSeconds: number): Promise<boolean> {
      return backend.claimNonce(key, nonceTtlSeconds(ttlSeconds));
    },

    // The hot path: no async wrapper of its own, so that a signed request costs the backend's
    // one call (one Redis round trip) and nothing more.
    claimNonceAndGetAccessToken(key: NonceKey, ttlSeconds: number, linkId: string): Promise<ResourceLookup> {
      let ttl: number;
      try {
        ttl = nonceTtlSeconds(ttlSeconds);
      } catch (err) {
        return Promise.reject(err as Error);
      }
      // 2LO: only the nonce to claim (the caller has verified the signature first).
      if (key.token === '') return backend.claimNonce(key, ttl).then(tokenless);
      // A value that can be neither a native nor an imported access token costs no round trip and claims nothing.
      const h = accessHandleOfToken(key.token);
      if (h === null) return Promise.resolve(tokenless(false));
      return backend.claimNonceForAccess(h, key, ttl, linkId, now());
    },

    ping: () => backend.ping(),
    isHealthy: () => backend.isHealthy(),
    close: () => backend.close(),
  };
  if (backend.redisClient !== undefined) return { ...store, redisClient: backend.redisClient };
  return store;
}
