// The Lua scripts of the Redis store, all of them, each the mirror of one function of
// ../transitions.ts (named above it): Redis cannot run TypeScript, so the state machine is
// written twice here by necessity, line for line, and test/store/transitions.test.ts runs the
// same cases against the functions, the memory store and these scripts.
//
// Every script gets `now` from the gateway (ARGV) and re-checks expiry with it; TTLs are set
// with PEXPIRE (relative), so a clock difference between gateway and Redis cannot shorten them.
// Digests are compared with ~= (as the functions compare them with ===): they are SHA-256 of the
// presented values, so the timing of the comparison tells an attacker nothing about a stored token.
//
// Record fields (see records.ts): rt = d s lk ck cb ver st u ul ve vd ca ea;
// at = d s sh shd lk ck u ul ca ea aea (+ rv ku once revoked, without s sh shd).
import { REQUEST_GRACE_MAX_MS } from '../tokens.js';

const LOAD = `
local function load(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end
`;

// transitions.ts requestNamed (with requestKeepUntil): a request token record past its grace
// period counts as gone even before Redis drops it (the key's TTL is relative, the gateway's
// clock decides).
const REQUEST_KEPT = `
local function kept(t, now)
  local ea = tonumber(t.ea)
  return ea + math.min(math.max(0, ea - tonumber(t.ca)), ${REQUEST_GRACE_MAX_MS}) > now
end
`;

/** handleIsFree + pendingRequest. KEYS rt, at; ARGV keepMs, field, value, ... -> 1 created, 0 handle taken. */
const CREATE_REQUEST = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

/** decideRequest. KEYS rt; ARGV digest, now, state, user, userKey, encVerifier, verifierDigest -> {'ok', record...} or {reason}. */
const DECIDE_REQUEST = `${LOAD}${REQUEST_KEPT}
local t = load(KEYS[1])
if not t or t.d ~= ARGV[1] or not kept(t, tonumber(ARGV[2])) then return {'unknown'} end
if tonumber(t.ea) <= tonumber(ARGV[2]) then return {'expired'} end
if t.st ~= 'pending' then return {'already_decided'} end
if ARGV[3] == 'approved' and t.ver == '1.0a' then
  redis.call('HSET', KEYS[1], 'st', ARGV[3], 'u', ARGV[4], 'ul', ARGV[5], 've', ARGV[6], 'vd', ARGV[7])
else
  redis.call('HSET', KEYS[1], 'st', ARGV[3], 'u', ARGV[4], 'ul', ARGV[5])
end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, 'ok')
return out
`;

/**
 * exchangeRequest. KEYS rt, at; ARGV rtDigest, consumerKey, verifierDigest ('' = none), now,
 * atDigest, encSecret, encSessionHandle, sessionHandleDigest, expiresAt, authorizationExpiresAt,
 * keepMs -> {'ok', lk, ck, u, ul} or {reason}. The request token stays, in state used, until its
 * own TTL (and grace period).
 */
const EXCHANGE = `${LOAD}${REQUEST_KEPT}
local t = load(KEYS[1])
if not t or t.d ~= ARGV[1] or not kept(t, tonumber(ARGV[4])) then return {'unknown'} end
if tonumber(t.ea) <= tonumber(ARGV[4]) then return {'expired'} end
if t.ck ~= ARGV[2] then return {'wrong_consumer'} end
if t.st == 'used' then return {'used'} end
if t.st == 'denied' then return {'denied'} end
if t.st ~= 'approved' or not t.u or not t.ul then return {'not_approved'} end
if t.ver == '1.0a' then
  if ARGV[3] == '' or t.vd ~= ARGV[3] then return {'bad_verifier'} end
elseif ARGV[3] ~= '' then
  return {'bad_verifier'}
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'used'} end
redis.call('HSET', KEYS[1], 'st', 'used')
redis.call('HSET', KEYS[2], 'd', ARGV[5], 's', ARGV[6], 'sh', ARGV[7], 'shd', ARGV[8],
  'lk', t.lk, 'ck', t.ck, 'u', t.u, 'ul', t.ul, 'ca', ARGV[4], 'ea', ARGV[9], 'aea', ARGV[10])
redis.call('PEXPIRE', KEYS[2], ARGV[11])
return {'ok', t.lk, t.ck, t.u, t.ul}
`;

/** renewAccess. KEYS at; ARGV digest, consumerKey, sessionHandleDigest, now, accessTtlMs -> {'ok', record...} or {reason}. */
const RENEW = `${LOAD}
local t = load(KEYS[1])
local now = tonumber(ARGV[4])
if not t or t.d ~= ARGV[1] or (t.ku and tonumber(t.ku) <= now) then return {'unknown'} end
if t.ck ~= ARGV[2] then return {'wrong_consumer'} end
if t.rv then return {'revoked'} end
local aea = tonumber(t.aea)
if aea <= now then return {'expired'} end
if t.shd ~= ARGV[3] then return {'bad_session_handle'} end
local ea = math.min(now + tonumber(ARGV[5]), aea)
redis.call('HSET', KEYS[1], 'ea', string.format('%.0f', ea))
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', math.max(ea, aea) - now))
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, 'ok')
return out
`;

/**
 * revokeAccess. KEYS at; ARGV owner ('' = any user, else '=' .. userKey, so that an empty user
 * name still has to match), linkId ('' = any), now, tombstoneMaxMs -> the revoked record (as it
 * was), or {}. The record becomes a tombstone: secret and session handle deleted, revoked-at (rv)
 * and kept-until (ku) set, ea and aea set to the revocation time, the key expiring at ku. A dead
 * record is deleted.
 */
const REVOKE = `${LOAD}
local t = load(KEYS[1])
if not t or t.rv then return {} end
if ARGV[1] ~= '' and ARGV[1] ~= '=' .. (t.ul or '') then return {} end
if ARGV[2] ~= '' and t.lk ~= ARGV[2] then return {} end
local now = tonumber(ARGV[3])
local ends = math.max(tonumber(t.ea), tonumber(t.aea))
if ends <= now then
  redis.call('DEL', KEYS[1])
  return {}
end
local ku = math.min(ends, now + tonumber(ARGV[4]))  -- as tombstoneKeepUntil
redis.call('HDEL', KEYS[1], 's', 'sh', 'shd')
redis.call('HSET', KEYS[1], 'rv', ARGV[3], 'ku', string.format('%.0f', ku), 'ea', ARGV[3], 'aea', ARGV[3])
redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ku - now))
return {'d', t.d, 'lk', t.lk, 'ck', t.ck, 'u', t.u, 'ul', t.ul, 'ca', t.ca, 'ea', t.ea, 'aea', t.aea}
`;

/**
 * The reads of inspectGrant. KEYS rt, at -> {at fields, rt fields}: the non-secret fields of both
 * records (flat field/value lists, empty when absent); the choice by digest is made in TS.
 */
const READ_STATUS = `
local function pick(key, names)
  local values = redis.call('HMGET', key, unpack(names))
  local out = {}
  for i, name in ipairs(names) do
    if values[i] then
      table.insert(out, name)
      table.insert(out, values[i])
    end
  end
  return out
end
return {
  pick(KEYS[2], {'d', 'lk', 'ck', 'u', 'ul', 'ca', 'ea', 'aea', 'rv', 'ku'}),
  pick(KEYS[1], {'d', 'lk', 'ck', 'cb', 'ver', 'st', 'u', 'ul', 'ca', 'ea'})
}
`;

/**
 * accessForRequest + claimNonce: the signed-request hot path, one round trip. KEYS nonce, at;
 * ARGV ttlSeconds, tokenDigest, consumerKey, linkId, now -> {1 fresh / 0 replay, u, s, sh, ca,
 * ea, aea}: only what the caller does not know already (it knows the token, its handle, consumer
 * key and link), by position; or {-1} with nothing written when the key names no usable access
 * token of this consumer and link: a request with a token that is unknown, revoked, expired or
 * another link's never leaves a nonce behind (anyone could send millions). One HMGET reads the
 * fields the check and the reply need (a missing field is false, so the reply keeps its positions).
 */
const CLAIM_NONCE_AND_GET = `
local f = redis.call('HMGET', KEYS[2], 'd', 'rv', 'ea', 'ck', 'lk', 'u', 's', 'sh', 'ca', 'aea')
if f[1] ~= ARGV[2] or f[2] or not f[3] or tonumber(f[3]) <= tonumber(ARGV[5]) or f[4] ~= ARGV[3] or f[5] ~= ARGV[4] then
  return {-1}
end
local fresh = 0
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then fresh = 1 end
return {fresh, f[6], f[7], f[8], f[9], f[3], f[10]}
`;

/**
 * importAccess. KEYS rt, at; ARGV digest, keepMs, field, value, ... -> 'imported', 'unchanged'
 * (the token is there already, a tombstone included: an import never revives a revoked token)
 * or 'conflict'.
 */
const IMPORT_ACCESS = `
local held = redis.call('HGET', KEYS[2], 'd') or redis.call('HGET', KEYS[1], 'd')
if held then
  if held == ARGV[1] then return 'unchanged' end
  return 'conflict'
end
redis.call('HSET', KEYS[2], 'd', ARGV[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 'imported'
`;

/** Index upkeep (no transition). KEYS index; ARGV handle, ttlMs: the index lives at least as long as its newest member. */
const INDEX_ADD = `
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

export type Arg = string | number;

/** The scripts, as defineCommand attaches them (EVALSHA, falling back to EVAL). */
export interface StoreScripts {
  applinkCreateRequest(rt: string, at: string, ...args: Arg[]): Promise<unknown>;
  applinkDecideRequest(rt: string, ...args: Arg[]): Promise<unknown>;
  applinkExchange(rt: string, at: string, ...args: Arg[]): Promise<unknown>;
  applinkRenew(at: string, ...args: Arg[]): Promise<unknown>;
  applinkRevoke(at: string, ...args: Arg[]): Promise<unknown>;
  applinkReadStatus(rt: string, at: string): Promise<unknown>;
  applinkClaimNonceAndGet(nonce: string, at: string, ttlSeconds: number, digest: string, consumerKey: string, linkId: string, now: number): Promise<unknown>;
  applinkIndexAdd(index: string, handle: string, ttlMs: number): Promise<unknown>;
  applinkImportAccess(rt: string, at: string, ...args: Arg[]): Promise<unknown>;
}

export const SCRIPTS: Record<keyof StoreScripts, { lua: string; numberOfKeys: number }> = {
  applinkCreateRequest: { lua: CREATE_REQUEST, numberOfKeys: 2 },
  applinkDecideRequest: { lua: DECIDE_REQUEST, numberOfKeys: 1 },
  applinkExchange: { lua: EXCHANGE, numberOfKeys: 2 },
  applinkRenew: { lua: RENEW, numberOfKeys: 1 },
  applinkRevoke: { lua: REVOKE, numberOfKeys: 1 },
  applinkReadStatus: { lua: READ_STATUS, numberOfKeys: 2 },
  applinkClaimNonceAndGet: { lua: CLAIM_NONCE_AND_GET, numberOfKeys: 2 },
  applinkIndexAdd: { lua: INDEX_ADD, numberOfKeys: 1 },
  applinkImportAccess: { lua: IMPORT_ACCESS, numberOfKeys: 2 },
};
