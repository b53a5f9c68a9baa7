// The backend interface: what a token store implements. compose.ts builds the whole TokenStore
// (types.ts) from it, so that a backend is records, atomic steps and index sets, and every rule
// above them (token values, handles, TTL checks, approve/deny, index-first ordering, listing,
// bulk revocation, the hot-path shortcuts) is written once.
//
// A backend holds, per grant handle h, at most one request record and one access record
// (transitions.ts: RequestRecord, AccessRecord) with their secret material (the token secret,
// the verifier, the session handle), nonces, and two indexes (user -> handles, link -> handles).
//
//   read(h, 'request' | 'access')   one record of h with its secrets (decrypted when first read)
//   read(h, 'status')               both records of h, without secrets (one round trip)
//   apply(h, step)                  one transition of transitions.ts on h's records, atomically:
//                                   the backend runs the pure function (memory) or the Lua
//                                   script that mirrors it (Redis), and writes its result
//   claimNonce(key, ttl)            SET NX EX on the nonce
//   claimNonceForAccess(...)        the signed-request hot path: ONE round trip that reads h's
//                                   access record and claims the nonce when accessForRequest
//                                   holds (nothing written otherwise)
//   indexAdd / indexRemove / indexMembers   the user and link indexes (pruned lazily: an entry
//                                   may name a record that is gone, never the reverse)
//   ping / isHealthy / close        health and lifetime
import type { Cluster, Redis } from 'ioredis';
import type {
  AccessRecord,
  DecideOutcome,
  ExchangeReason,
  IssuedAccess,
  RenewReason,
  RequestRecord,
} from './transitions.js';
import type { NonceKey, ResourceLookup } from './types.js';

/** A request record with its secret and verifier (decrypted when called, Redis). */
export interface StoredRequest {
  record: RequestRecord;
  secret(): string;
  verifier(): string | null;
}

/** An access record with its secret and session handle (decrypted when called, Redis). */
export interface StoredAccess {
  record: AccessRecord;
  secret(): string;
  sessionHandle(): string;
}

/** Both records of a grant, without secrets (inspectGrant). */
export interface GrantStatus {
  request: RequestRecord | null;
  access: AccessRecord | null;
}

/**
 * The atomic steps, by name: each is one function of transitions.ts (named in `mirrors`) applied
 * to the grant's current records, and the result written, as one step no other can interleave.
 */
export interface Steps {
  /** mirrors handleIsFree + pendingRequest: writes `record` (kept keepMs) unless h is taken. */
  create: { input: { record: RequestRecord; secret: string; keepMs: number }; output: boolean };
  /** mirrors decideRequest; the verifier is kept when the outcome sets its digest. */
  decide: {
    input: { digest: string; now: number; state: 'approved' | 'denied'; user: string; userKey: string; verifier: string; verifierDigest: string };
    output: { ok: true; request: StoredRequest } | Extract<DecideOutcome, { ok: false }>;
  };
  /** mirrors exchangeRequest; the secrets are those of the access token it issues. */
  exchange: {
    input: { digest: string; consumerKey: string; verifierDigest: string | null; issued: IssuedAccess; secret: string; sessionHandle: string };
    output: { ok: true; access: AccessRecord } | { ok: false; reason: ExchangeReason };
  };
  /** mirrors renewAccess. */
  renew: {
    input: { digest: string; consumerKey: string; sessionHandleDigest: string; now: number; accessTtlMs: number };
    output: { ok: true; access: StoredAccess } | { ok: false; reason: RenewReason };
  };
  /** mirrors revokeAccess: the record as it was when revoked now, else null. */
  revoke: { input: { userKey: string | null; linkId: string | null; now: number }; output: AccessRecord | null };
  /** mirrors importAccess: writes `record` with its secrets (kept keepMs) unless h is held. */
  import: {
    input: { record: AccessRecord; secret: string; sessionHandle: string; keepMs: number };
    output: 'imported' | 'unchanged' | 'conflict';
  };
}

export type StepName = keyof Steps;
export type Step<K extends StepName = StepName> = { [N in K]: { kind: N } & Steps[N]['input'] }[K];

/** An index: the handles of a user's (lower-cased name) or a link's access tokens. */
export interface IndexRef {
  kind: 'user' | 'link';
  key: string;
}

export interface TokenBackend {
  /** The clock (epoch ms) the transitions use. */
  readonly now: () => number;
  read(h: string, what: 'request'): Promise<StoredRequest | null>;
  read(h: string, what: 'access'): Promise<StoredAccess | null>;
  read(h: string, what: 'status'): Promise<GrantStatus>;
  /** Runs one step on grant h atomically (see Steps). Writes that issue, renew or revoke are durable (Redis WAIT). */
  apply<K extends StepName>(h: string, step: Step<K>): Promise<Steps[K]['output']>;
  /** Claims a nonce for ttlSeconds (whole seconds): true = fresh. */
  claimNonce(key: NonceKey, ttlSeconds: number): Promise<boolean>;
  /**
   * The hot path, one round trip: h is the handle of key.token (accessHandleOfToken). Answers
   * the usable access token of key.consumerKey and linkId (secret and session handle decrypted
   * when first read) and claims the nonce; { nonceFresh: false, access: null } with nothing
   * written otherwise.
   */
  claimNonceForAccess(h: string, key: NonceKey, ttlSeconds: number, linkId: string, now: number): Promise<ResourceLookup>;
  /** Adds h to an index kept at least keepMs. */
  indexAdd(index: IndexRef, h: string, keepMs: number): Promise<void>;
  /** Removes handles from an index. */
  indexRemove(index: IndexRef, handles: string[]): Promise<void>;
  /** The handles of an index; null: every access record's handle (an operator listing). */
  indexMembers(index: IndexRef | null): Promise<string[]>;
  /** The Redis connection (counters kept beside the tokens); absent for the memory store. */
  readonly redisClient?: Redis | Cluster;
  ping(): Promise<void>;
  isHealthy(): boolean;
  close(): Promise<void>;
}
