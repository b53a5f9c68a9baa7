// The token and nonce store contract (DESIGN.md section 6). A store is a backend (backend.ts:
// records, the atomic transitions of transitions.ts, nonces, indexes) composed into this
// interface by compose.ts; memory.ts and redis/ are the two backends. One shared contract suite
// (test/store/contract.ts) runs against both, and test/store/transitions.test.ts runs the state
// machine's cases against the pure transitions, memory and Redis.
import type { Cluster, Redis } from 'ioredis';
import { GatewayError, gatewayFields } from '../errors/index.js';

/** OAuth 1.0a tokens carry a callback; 1.0 tokens (jirashell --oauth-dance) do not. */
export type DanceVersion = '1.0' | '1.0a';

export type RequestTokenState = 'pending' | 'approved' | 'denied' | 'used';

export interface RequestToken {
  /** The public token value, as given to the consumer. */
  token: string;
  /** Token secret ('' for gateway-initiated tokens of flow 1c). */
  secret: string;
  /** Non-secret identifier, safe for logs. */
  handle: string;
  linkId: string;
  consumerKey: string;
  /** Validated callback URL, 'oob', or null for an OAuth 1.0 token. */
  callback: string | null;
  version: DanceVersion;
  state: RequestTokenState;
  /** The user who approved or denied it. */
  user: string | null;
  /** Set on approval (1.0a); null before and for 1.0 tokens. */
  verifier: string | null;
  /** Epoch milliseconds. */
  createdAt: number;
  expiresAt: number;
}

export interface AccessToken {
  token: string;
  secret: string;
  handle: string;
  linkId: string;
  consumerKey: string;
  user: string;
  /** Renewal credential returned as oauth_session_handle. */
  sessionHandle: string;
  createdAt: number;
  /** Epoch ms after which the token no longer works (oauth_expires_in). */
  expiresAt: number;
  /** Epoch ms after which the session handle can no longer renew (oauth_authorization_expires_in). */
  authorizationExpiresAt: number;
}

/** An access token as listed (user page, CLI): no token value, no secret. */
export type AccessTokenSummary = Omit<AccessToken, 'token' | 'secret' | 'sessionHandle'>;

export interface NewRequestToken {
  linkId: string;
  consumerKey: string;
  callback: string | null;
  version: DanceVersion;
  ttlSeconds: number;
  /** Gateway-initiated tokens (flow 1c) have an empty secret; default: a random one. */
  emptySecret?: boolean;
}

export type DecideResult =
  | { ok: true; token: RequestToken }
  | { ok: false; reason: 'unknown' | 'expired' | 'already_decided' };

export interface ExchangeInput {
  consumerKey: string;
  /** Required for 1.0a tokens; must be null/absent for 1.0 tokens. */
  verifier: string | null;
  accessTtlSeconds: number;
  /** How long the session handle may renew; default = accessTtlSeconds. */
  authorizationTtlSeconds?: number;
}

export type ExchangeResult =
  | { ok: true; access: AccessToken }
  | {
      ok: false;
      reason:
        | 'unknown' // no such token (or never issued)
        | 'expired'
        | 'wrong_consumer' // issued to another consumer key
        | 'not_approved' // still pending -> permission_unknown
        | 'denied' // user denied -> permission_denied
        | 'bad_verifier'
        | 'used'; // already exchanged -> token_used
    };

export interface RenewInput {
  consumerKey: string;
  sessionHandle: string;
  accessTtlSeconds: number;
}

export type RenewResult =
  | { ok: true; access: AccessToken }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' | 'wrong_consumer' | 'bad_session_handle' };

/** What every TokenStatus says: which grant, of which link and consumer. */
export interface TokenStatusBase {
  handle: string;
  linkId: string;
  consumerKey: string;
}

/**
 * What a token value names, for telling a client precisely why it was refused (off the hot
 * path). No secret, verifier or session handle: safe to log.
 */
export type TokenStatus = TokenStatusBase &
  (
    | {
        kind: 'request';
        /** Its state while it lasts; 'expired' once past expiresAt, whatever its state was. */
        state: RequestTokenState | 'expired';
      }
    | {
        kind: 'access';
        /**
         * live: usable now; expired: past expiresAt but its session handle may still renew it;
         * revoked: a tombstone (revoked, its secrets deleted).
         */
        state: 'live' | 'expired' | 'revoked';
      }
  );

/**
 * An access token issued by another provider (an Atlassian application's oauthsptoken), moved
 * into this store so that its holder keeps using it. Its value has that provider's shape (see
 * isForeignToken); its dates are the provider's.
 */
export interface ImportedAccessToken {
  token: string;
  secret: string;
  sessionHandle: string;
  linkId: string;
  consumerKey: string;
  user: string;
  createdAt: number;
  expiresAt: number;
  authorizationExpiresAt: number;
}

/**
 * imported: written now; unchanged: this token is already in the store (live, expired or a
 * revoked tombstone, which an import never brings back); conflict: its handle names another
 * token (never expected: a 96-bit digest collision).
 */
export type ImportResult = { result: 'imported' | 'unchanged'; handle: string } | { result: 'conflict'; handle: string };

export interface NonceKey {
  consumerKey: string;
  timestamp: string;
  nonce: string;
  /** The token of the request ('' for 2LO). */
  token: string;
}

export interface ResourceLookup {
  /**
   * true: claimed now. false: already seen (replay), or, with a token, not claimed at all
   * because `access` is null.
   */
  nonceFresh: boolean;
  /** The live access token of the consumer and link named by the request, or null (unknown, revoked, expired, another link's). */
  access: AccessToken | null;
}

export interface TokenStore {
  /** Issues a request token that expires after ttlSeconds. */
  createRequestToken(input: NewRequestToken): Promise<RequestToken>;
  /** A request token by value, or null when unknown or expired (expiry re-checked on read). */
  getRequestToken(token: string): Promise<RequestToken | null>;
  /** Atomically moves a pending token to approved for `user` and makes its verifier (1.0a). */
  approveRequestToken(token: string, user: string): Promise<DecideResult>;
  /** Atomically moves a pending token to denied. */
  denyRequestToken(token: string, user: string): Promise<DecideResult>;
  /** Atomically consumes an approved request token (single use) and issues an access token. */
  exchangeRequestToken(token: string, input: ExchangeInput): Promise<ExchangeResult>;

  /**
   * What the token value names, whether usable or not: a request token (its state, or expired
   * during its grace period), an access token (live, expired but renewable, or revoked). null
   * when unknown, forged, or past its retention (see RETENTION). Read-only; one round trip.
   */
  inspectToken(token: string): Promise<TokenStatus | null>;

  /** A live access token by value, or null. */
  getAccessToken(token: string): Promise<AccessToken | null>;
  /** Renews an access token with its session handle: new expiry, same token value. */
  renewAccessToken(token: string, input: RenewInput): Promise<RenewResult>;
  /**
   * Revokes one access token by handle. With `user`, only if the token belongs to that user
   * (case-insensitive). Returns the revoked token's summary, or null when none matched. The
   * record becomes a tombstone (secret and session handle deleted) so that its next use answers
   * token_revoked; tombstones never verify, renew, list or revoke again.
   */
  revokeAccessToken(handle: string, opts?: { user?: string }): Promise<AccessTokenSummary | null>;
  /** Revokes every access token of a user or of a link; returns how many. */
  revokeAccessTokens(filter: { user?: string; linkId?: string }): Promise<number>;
  /** Live access tokens, filtered by user (case-insensitive) and/or link, newest first. */
  listAccessTokens(filter: { user?: string; linkId?: string }): Promise<AccessTokenSummary[]>;

  /**
   * Writes an access token issued by another provider (import), with digested id, encrypted
   * secrets, handle (accessHandleOfToken), indexes and TTL from its dates, so that it verifies,
   * renews, lists and revokes like a native one. Idempotent: a token already present (even
   * revoked) is left as it is. Throws TypeError for a value no access handle can name.
   */
  importAccessToken(input: ImportedAccessToken): Promise<ImportResult>;

  /** Claims a nonce (SET NX EX ttlSeconds). true = fresh, false = already used. */
  claimNonce(key: NonceKey, ttlSeconds: number): Promise<boolean>;
  /**
   * The signed-request hot path in one round trip: reads the access token named by `key.token`
   * and claims the nonce only when it is a live access token of `key.consumerKey` and `linkId`
   * (else nothing is written: a never-issued token must not make the store keep a nonce).
   * A token value that cannot be one of the gateway's costs no round trip. Without a token (2LO)
   * the nonce is claimed: the caller verifies the signature first.
   */
  claimNonceAndGetAccessToken(key: NonceKey, ttlSeconds: number, linkId: string): Promise<ResourceLookup>;

  /** The Redis connection, for counters kept beside the tokens (security.failureLimit); absent for the memory store. */
  readonly redisClient?: Redis | Cluster;

  /** Resolves when the backend answers; rejects otherwise (readiness of /readyz/redis). */
  ping(): Promise<void>;
  /** true while the backend is reachable (memory: always). */
  isHealthy(): boolean;
  close(): Promise<void>;
}

const STORE_UNAVAILABLE = Object.freeze({ expose: false, headers: Object.freeze({ 'Retry-After': '2', 'Cache-Control': 'no-store' }) });

/**
 * Raised by a store when its backend cannot be reached in time: answered 503 (store_unavailable)
 * with Retry-After. The message is for the log; the client reads a fixed text (src/http/answer.ts).
 */
export class StoreUnavailableError extends GatewayError {
  constructor(message = 'token store unavailable', options?: { cause?: unknown }) {
    super(message, options);
    gatewayFields(this, 503, 'store_unavailable', STORE_UNAVAILABLE);
    this.name = 'StoreUnavailableError';
  }
}
