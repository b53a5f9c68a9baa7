// The embedded store: same semantics as the Redis store, one process only (demos, development,
// a single instance). Its backend runs the transitions of transitions.ts on records kept in
// maps; every step runs synchronously between awaits, so it is atomic.
import type { GrantStatus, IndexRef, Step, StepName, Steps, StoredAccess, StoredRequest, TokenBackend } from './backend.js';
import { accessView, composeStore } from './compose.js';
import { tokenDigest } from './crypto.js';
import { isAccessRecordLive, nonceDigest, requestKeepUntil } from './tokens.js';
import {
  accessForRequest,
  claimNonce,
  decideRequest,
  exchangeRequest,
  handleIsFree,
  importAccess,
  renewAccess,
  revokeAccess,
  type AccessRecord,
  type RequestRecord,
} from './transitions.js';
import type { NonceKey, ResourceLookup, TokenStore } from './types.js';

/** Logged by the server when it falls back to this store. */
export const MEMORY_STORE_WARNING =
  'token store: in-memory (no store.redis configured) - tokens live in this process only, are lost on restart and are not shared with other instances or workers; use Redis for more than one instance';

const SWEEP_INTERVAL_MS = 60_000;

function storedRequest(record: RequestRecord, secret: string, verifier: string | null): StoredRequest {
  return { record, secret: () => secret, verifier: () => verifier };
}

function noSecret(): never {
  throw new Error('token store: a revoked token keeps no secret');
}

function storedAccess(record: AccessRecord, secret: string | null, sessionHandle: string | null): StoredAccess {
  return {
    record,
    secret: secret === null ? noSecret : () => secret,
    sessionHandle: sessionHandle === null ? noSecret : () => sessionHandle,
  };
}

export function createMemoryBackend(opts: { now?: () => number } = {}): TokenBackend {
  const now = opts.now ?? Date.now;
  const requests = new Map<string, StoredRequest>(); // by handle
  const accesses = new Map<string, StoredAccess>(); // by handle; revoked ones are tombstones
  const indexes = { user: new Map<string, Set<string>>(), link: new Map<string, Set<string>>() };
  const nonces = new Map<string, number>(); // nonce digest -> seen until
  let lastSweep = now();

  // Records past their keep time are dropped now and then; the transitions re-check time anyway.
  function sweep(): void {
    const t = now();
    if (t - lastSweep < SWEEP_INTERVAL_MS) return;
    lastSweep = t;
    for (const [k, r] of requests) if (requestKeepUntil(r.record) <= t) requests.delete(k);
    for (const [k, { record: a }] of accesses) {
      if (a.keepUntil !== null ? a.keepUntil <= t : !isAccessRecordLive(a, t)) accesses.delete(k);
    }
    for (const [k, until] of nonces) if (until <= t) nonces.delete(k);
  }

  function claim(key: NonceKey, ttlSeconds: number): boolean {
    const id = nonceDigest(key);
    const until = claimNonce(nonces.get(id), now(), ttlSeconds);
    if (until === null) return false;
    nonces.set(id, until);
    return true;
  }

  function step(h: string, s: Step): Steps[StepName]['output'] {
    const request = requests.get(h) ?? null;
    const access = accesses.get(h) ?? null;
    switch (s.kind) {
      case 'create':
        sweep();
        if (!handleIsFree(request?.record ?? null, access?.record ?? null)) return false;
        requests.set(h, storedRequest(s.record, s.secret, null));
        return true;
      case 'decide': {
        const out = decideRequest(request?.record ?? null, s.digest, s.now, s);
        if (!out.ok) return out;
        const stored = storedRequest(out.request, (request as StoredRequest).secret(), out.request.verifierDigest === null ? null : s.verifier);
        requests.set(h, stored);
        return { ok: true, request: stored };
      }
      case 'exchange': {
        const out = exchangeRequest(request?.record ?? null, access !== null, s, s.issued);
        if (!out.ok) return out;
        requests.set(h, { ...(request as StoredRequest), record: out.request });
        accesses.set(h, storedAccess(out.access, s.secret, s.sessionHandle));
        return { ok: true, access: out.access };
      }
      case 'renew': {
        const out = renewAccess(access?.record ?? null, s, s.now, s.accessTtlMs);
        if (!out.ok) return out;
        const stored = { ...(access as StoredAccess), record: out.access };
        accesses.set(h, stored);
        return { ok: true, access: stored };
      }
      case 'revoke': {
        const out = revokeAccess(access?.record ?? null, s, s.now);
        if (out.outcome === 'deleted') accesses.delete(h);
        if (out.outcome !== 'revoked') return null;
        accesses.set(h, storedAccess(out.tombstone, null, null));
        return out.revoked;
      }
      case 'import': {
        sweep();
        const result = importAccess(request?.record ?? null, access?.record ?? null, s.record.digest);
        if (result === 'imported') accesses.set(h, storedAccess(s.record, s.secret, s.sessionHandle));
        return result;
      }
    }
  }

  function read(h: string, what: 'request'): Promise<StoredRequest | null>;
  function read(h: string, what: 'access'): Promise<StoredAccess | null>;
  function read(h: string, what: 'status'): Promise<GrantStatus>;
  async function read(h: string, what: 'request' | 'access' | 'status'): Promise<StoredRequest | StoredAccess | GrantStatus | null> {
    if (what === 'request') return requests.get(h) ?? null;
    if (what === 'access') return accesses.get(h) ?? null;
    return { request: requests.get(h)?.record ?? null, access: accesses.get(h)?.record ?? null };
  }

  return {
    now,
    read,
    async apply<K extends StepName>(h: string, s: Step<K>): Promise<Steps[K]['output']> {
      return step(h, s as Step) as Steps[K]['output'];
    },
    async claimNonce(key: NonceKey, ttlSeconds: number): Promise<boolean> {
      sweep();
      return claim(key, ttlSeconds);
    },
    async claimNonceForAccess(h: string, key: NonceKey, ttlSeconds: number, linkId: string, t: number): Promise<ResourceLookup> {
      sweep();
      const stored = accesses.get(h) ?? null;
      if (stored === null || !accessForRequest(stored.record, tokenDigest(key.token), key.consumerKey, linkId, t)) {
        return { nonceFresh: false, access: null };
      }
      return { nonceFresh: claim(key, ttlSeconds), access: accessView(h, key.token, stored) };
    },
    async indexAdd(index: IndexRef, h: string): Promise<void> {
      const map = indexes[index.kind];
      let set = map.get(index.key);
      if (set === undefined) map.set(index.key, (set = new Set()));
      set.add(h);
    },
    async indexRemove(index: IndexRef, handles: string[]): Promise<void> {
      const map = indexes[index.kind];
      const set = map.get(index.key);
      if (set === undefined) return;
      for (const h of handles) set.delete(h);
      if (set.size === 0) map.delete(index.key);
    },
    async indexMembers(index: IndexRef | null): Promise<string[]> {
      if (index === null) return [...accesses.keys()];
      return [...(indexes[index.kind].get(index.key) ?? [])];
    },
    async ping(): Promise<void> {},
    isHealthy(): boolean {
      return true;
    },
    async close(): Promise<void> {},
  };
}

export function createMemoryStore(opts: { now?: () => number } = {}): TokenStore {
  return composeStore(createMemoryBackend(opts));
}
