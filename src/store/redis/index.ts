// The Redis token store (DESIGN.md section 6): standalone, Sentinel or Cluster. Its backend
// (../backend.ts) runs each transition as the Lua script that mirrors it (scripts.ts) on the
// records of records.ts, over the connection of connection.ts; ../compose.ts builds the store.
import type { EncryptionKey } from '../crypto.js';
import type { GrantStatus, Step, StepName, Steps, StoredAccess, StoredRequest, TokenBackend } from '../backend.js';
import { composeStore } from '../compose.js';
import { tokenDigest } from '../crypto.js';
import { TOMBSTONE_MAX_MS } from '../tokens.js';
import type { NonceKey, ResourceLookup, TokenStore } from '../types.js';
import { connect } from './connection.js';
import type { ConnectionOptions } from './connection.js';
import { indexes } from './indexes.js';
import { accessFromFields, fields, importedToFields, keyNames, requestFromFields, requestToFields, secrets } from './records.js';
import { SCRIPTS } from './scripts.js';
import type { StoreScripts } from './scripts.js';

export { replicasToWait, sentinelFollowOptions, durableTokenWrites } from './connection.js';

/**
 * Every setting the configuration has a default for is required here (the caller, openStore,
 * passes the configuration's values): the store restates no default.
 */
export interface RedisStoreOptions extends ConnectionOptions {
  /** Prepended to every key, e.g. "applink:". Must not contain `{` or `}` (hash tags). */
  keyPrefix: string;
  /** The first key encrypts, all keys decrypt (see parseKeyring). */
  encryptionKeys: EncryptionKey[];
  /** Clock in epoch ms, for tests; TTLs in Redis are relative, so the two clocks need not agree. */
  now?: () => number;
}

const DECIDE_REFUSALS = ['expired', 'already_decided'] as const;
const EXCHANGE_REFUSALS = ['expired', 'wrong_consumer', 'not_approved', 'denied', 'bad_verifier', 'used'] as const;
const RENEW_REFUSALS = ['expired', 'revoked', 'wrong_consumer', 'bad_session_handle'] as const;

/** The reason a script answered, or 'unknown' for anything else. */
function refusal<R extends string>(status: string, known: readonly R[]): R | 'unknown' {
  return known.find((r) => r === status) ?? 'unknown';
}

function status(reply: unknown): string {
  return Array.isArray(reply) ? String(reply[0]) : '';
}

export function createRedisBackend(opts: RedisStoreOptions): TokenBackend {
  if (/[{}]/.test(opts.keyPrefix)) {
    throw new Error('store.redis.keyPrefix must not contain { or } (they would change the hash tags)');
  }
  if (opts.encryptionKeys.length === 0) {
    throw new Error('the Redis store needs at least one encryption key');
  }
  const now = opts.now ?? Date.now;
  const conn = connect(opts);
  const { client, run, runDurable } = conn;
  for (const [name, def] of Object.entries(SCRIPTS)) client.defineCommand(name, def);
  const scripts = client as unknown as StoreScripts;
  const keys = keyNames(opts.keyPrefix);
  const crypt = secrets(opts.encryptionKeys);

  async function apply(h: string, s: Step): Promise<Steps[StepName]['output']> {
    const rt = keys.request(h);
    const at = keys.access(h);
    switch (s.kind) {
      case 'create': {
        const created = await runDurable(() =>
          scripts.applinkCreateRequest(rt, at, s.keepMs, ...requestToFields(s.record, crypt.encrypt(s.secret, 'rt.s', h))),
        );
        return Number(created) === 1;
      }
      case 'decide': {
        const reply = await runDurable(() =>
          scripts.applinkDecideRequest(rt, s.digest, s.now, s.state, s.user, s.userKey, crypt.encrypt(s.verifier, 'rt.ve', h), s.verifierDigest),
        );
        const st = status(reply);
        if (st !== 'ok') return { ok: false, reason: refusal(st, DECIDE_REFUSALS) };
        return { ok: true, request: crypt.storedRequest(h, fields(reply, 1)) };
      }
      case 'exchange': {
        const { issued } = s;
        const reply = await runDurable(() =>
          scripts.applinkExchange(
            rt,
            at,
            s.digest,
            s.consumerKey,
            s.verifierDigest ?? '',
            issued.createdAt,
            issued.digest,
            crypt.encrypt(s.secret, 'at.s', h),
            crypt.encrypt(s.sessionHandle, 'at.sh', h),
            issued.sessionHandleDigest,
            issued.expiresAt,
            issued.authorizationExpiresAt,
            Math.max(issued.expiresAt, issued.authorizationExpiresAt) - issued.createdAt,
          ),
        );
        const parts = Array.isArray(reply) ? reply.map(String) : [];
        const [st, lk, ck, u, ul] = parts;
        if (st !== 'ok' || lk === undefined || ck === undefined || u === undefined || ul === undefined) {
          return { ok: false, reason: refusal(st ?? '', EXCHANGE_REFUSALS) };
        }
        return {
          ok: true,
          access: { digest: issued.digest, linkId: lk, consumerKey: ck, user: u, userKey: ul, sessionHandleDigest: issued.sessionHandleDigest, createdAt: issued.createdAt, expiresAt: issued.expiresAt, authorizationExpiresAt: issued.authorizationExpiresAt, revokedAt: null, keepUntil: null },
        };
      }
      case 'renew': {
        // The authorization bounds every renewal (the script caps expiresAt at it).
        const reply = await runDurable(() => scripts.applinkRenew(at, s.digest, s.consumerKey, s.sessionHandleDigest, s.now, s.accessTtlMs));
        const st = status(reply);
        if (st !== 'ok') return { ok: false, reason: refusal(st, RENEW_REFUSALS) };
        return { ok: true, access: crypt.storedAccess(h, fields(reply, 1)) };
      }
      case 'revoke': {
        const reply = await runDurable(() =>
          scripts.applinkRevoke(at, s.userKey === null ? '' : `=${s.userKey}`, s.linkId ?? '', s.now, TOMBSTONE_MAX_MS),
        );
        const rec = fields(reply);
        return rec.lk === undefined ? null : accessFromFields(rec);
      }
      case 'import': {
        const reply = await runDurable(() =>
          scripts.applinkImportAccess(
            rt,
            at,
            s.record.digest,
            s.keepMs,
            ...importedToFields(s.record, crypt.encrypt(s.secret, 'at.s', h), crypt.encrypt(s.sessionHandle, 'at.sh', h)),
          ),
        );
        const result = String(reply);
        return result === 'imported' || result === 'unchanged' ? result : 'conflict';
      }
    }
  }

  function read(h: string, what: 'request'): Promise<StoredRequest | null>;
  function read(h: string, what: 'access'): Promise<StoredAccess | null>;
  function read(h: string, what: 'status'): Promise<GrantStatus>;
  async function read(h: string, what: 'request' | 'access' | 'status'): Promise<StoredRequest | StoredAccess | GrantStatus | null> {
    if (what === 'request') {
      const rec = await run(() => client.hgetall(keys.request(h)));
      return rec.d === undefined ? null : crypt.storedRequest(h, rec);
    }
    if (what === 'access') {
      const rec = await run(() => client.hgetall(keys.access(h)));
      return rec.d === undefined ? null : crypt.storedAccess(h, rec);
    }
    const reply = await run(() => scripts.applinkReadStatus(keys.request(h), keys.access(h)));
    const [at, rt] = Array.isArray(reply) ? reply : [];
    const access = fields(at);
    const request = fields(rt);
    return {
      access: access.d === undefined ? null : accessFromFields(access),
      request: request.d === undefined ? null : requestFromFields(request),
    };
  }

  return {
    now,
    read,
    apply: apply as TokenBackend['apply'],

    async claimNonce(key: NonceKey, ttlSeconds: number): Promise<boolean> {
      const reply = await run(() => client.set(keys.nonce(key), '1', 'EX', ttlSeconds, 'NX'));
      return reply === 'OK';
    },

    async claimNonceForAccess(h: string, key: NonceKey, ttlSeconds: number, linkId: string, t: number): Promise<ResourceLookup> {
      const reply = await run(() =>
        scripts.applinkClaimNonceAndGet(keys.nonce(key, h), keys.access(h), ttlSeconds, tokenDigest(key.token), key.consumerKey, linkId, t),
      );
      const fresh = Array.isArray(reply) ? Number(reply[0]) : -1;
      if (fresh === -1 || !Array.isArray(reply)) return { nonceFresh: false, access: null };
      return { nonceFresh: fresh === 1, access: crypt.hotAccess(h, key.token, key.consumerKey, linkId, reply) };
    },

    ...indexes(conn, scripts, keys),

    redisClient: client,
    ping: () => conn.ping(),
    isHealthy: () => conn.isHealthy(),
    close: () => conn.close(),
  };
}

export function createRedisStore(opts: RedisStoreOptions): TokenStore {
  return composeStore(createRedisBackend(opts));
}
