// The Redis token store (DESIGN.md section 6): standalone, Sentinel or Cluster.
//
// Key layout (every key under keyPrefix; <h> is the grant's handle, a Cluster hash tag):
//   rt:{<h>}                   hash  request token: digest, encrypted secret/verifier, state...;
//                                    kept past its expiry for a grace period (REQUEST_GRACE_MAX_MS)
//   at:{<h>}                   hash  access token: digest, encrypted secret/session handle...;
//                                    once revoked a tombstone (rv, ku; no s, sh, shd) until ku
//   n:{<h>}:<sha256>           "1"   nonce of a request signed with a token of grant <h>
//   n:<sha256>                 "1"   nonce of a 2LO request (no token)
//   u:<lower-cased user>       set   handles of the user's access tokens (pruned lazily)
//   l:<linkId>                 set   handles of the link's access tokens (pruned lazily)
// Token values are `<h>.<secret part>`: the request token and the access token of one grant
// share <h>, so the exchange script touches two keys in one slot.
import { Cluster, Redis } from 'ioredis';
import type { ClusterOptions, RedisOptions } from 'ioredis';
import { constantTimeEqual, decryptSecret, encryptSecret, randomToken, tokenDigest } from './crypto.js';
import type { EncryptionKey } from './crypto.js';
import {
  REQUEST_GRACE_MAX_MS,
  TOMBSTONE_MAX_MS,
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
  toSummary,
  ttlToMs,
  userKey,
} from './tokens.js';
import { durableTokenWrites, sentinelFollowOptions } from './redis-ha.js';
import { StoreUnavailableError } from './types.js';
import type {
  AccessToken,
  AccessTokenSummary,
  DanceVersion,
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
  RequestTokenState,
  ResourceLookup,
  TokenStatus,
  TokenStore,
} from './types.js';

export interface RedisStoreOptions {
  /** redis:// or rediss:// URL; with sentinels or clusterNodes only its credentials and TLS are used. */
  url?: string;
  sentinels?: Array<{ host: string; port: number }>;
  /** The Sentinel master name; required with `sentinels`. */
  sentinelName?: string;
  clusterNodes?: Array<{ host: string; port: number }>;
  /** Prepended to every key, e.g. "applink:". Must not contain `{` or `}` (hash tags). */
  keyPrefix: string;
  /** The first key encrypts, all keys decrypt (see parseKeyring). */
  encryptionKeys: EncryptionKey[];
  /** Budget of one store operation, waiting for a reconnection included. Default 1500. */
  commandTimeoutMs?: number;
  /** TCP connect timeout. Default 2000. */
  connectTimeoutMs?: number;
  /** Connection errors, for the server to log and count (called at most once per reconnect attempt). */
  onError?: (err: Error) => void;
  /** Clock in epoch ms, for tests; TTLs in Redis are relative, so the two clocks need not agree. */
  now?: () => number;
  /** Replicas that must hold a token write (WAIT) before it is answered; default 1 with sentinels, else 0 (redis-ha.ts). */
  waitReplicas?: number;
  /** How long a token write waits for them (ms); default 500, below commandTimeoutMs. */
  waitTimeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Lua. Every script gets `now` from the gateway (ARGV) and re-checks expiry with it; TTLs are set
// with PEXPIRE (relative), so a clock difference between gateway and Redis cannot shorten them.

// Digests are compared with ~= in Lua: they are SHA-256 of the presented values, so the timing
// of the comparison tells an attacker nothing about a stored token.
const LOAD = `
local function load(key)
  local flat = redis.call('HGETALL', key)
  if #flat == 0 then return nil end
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end
`;

// A request token record past its grace period counts as gone even before Redis drops it (the
// key's TTL is relative, the gateway's clock decides), as in requestKeepUntil.
const REQUEST_KEPT = `
local function kept(t, now)
  local ea = tonumber(t.ea)
  return ea + math.min(math.max(0, ea - tonumber(t.ca)), ${REQUEST_GRACE_MAX_MS}) > now
end
`;

/** KEYS rt, at; ARGV keepMs (TTL + grace), field, value, ... -> 1 created, 0 handle taken. */
const CREATE_REQUEST = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

/** KEYS rt; ARGV digest, now, state, user, userKey, encVerifier, verifierDigest. */
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
 * KEYS rt, at; ARGV rtDigest, consumerKey, verifierDigest ('' = none), now, atDigest,
 * encSecret, encSessionHandle, sessionHandleDigest, expiresAt, authorizationExpiresAt, keepMs.
 * The request token stays, in state used, until its own TTL (and grace period).
 */
const EXCHANGE = `${LOAD}${REQUEST_KEPT}
local t = load(KEYS[1])
if not t or t.d ~= ARGV[1] or not kept(t, tonumber(ARGV[4])) then return {'unknown'} end
if tonumber(t.ea) <= tonumber(ARGV[4]) then return {'expired'} end
if t.ck ~= ARGV[2] then return {'wrong_consumer'} end
if t.st == 'used' then return {'used'} end
if t.st == 'denied' then return {'denied'} end
if t.st ~= 'approved' then return {'not_approved'} end
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

/** KEYS at; ARGV digest, consumerKey, sessionHandleDigest, now, accessTtlMs. */
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
 * KEYS at; ARGV owner ('' = any user, else '=' .. userKey, so that an empty user name still has
 * to match), linkId ('' = any), now, tombstoneMaxMs -> the revoked record, or {}.
 * The record becomes a tombstone: secret and session handle deleted, revoked-at (rv) and
 * kept-until (ku, as tombstoneKeepUntil) set, the key expiring at ku. A dead record is deleted.
 * Its ea and aea become the revocation time, so that a reader unaware of tombstones (an older
 * replica during a rolling update) sees a dead record, never a live one.
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
return {'lk', t.lk, 'ck', t.ck, 'u', t.u, 'ul', t.ul, 'ca', t.ca, 'ea', t.ea, 'aea', t.aea}
`;

/**
 * KEYS rt, at; ARGV digest -> {'at' or 'rt', field, value, ...} of the record the digest names,
 * or {}. Only non-secret fields leave Redis.
 */
const INSPECT = `
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
local kinds = {{'at', KEYS[2], {'lk', 'ck', 'ca', 'ea', 'aea', 'rv', 'ku'}}, {'rt', KEYS[1], {'lk', 'ck', 'st', 'ca', 'ea'}}}
for _, kind in ipairs(kinds) do
  if redis.call('HGET', kind[2], 'd') == ARGV[1] then
    local out = pick(kind[2], kind[3])
    table.insert(out, 1, kind[1])
    return out
  end
end
return {}
`;

/**
 * KEYS nonce, at; ARGV ttlSeconds, tokenDigest, consumerKey, linkId, now ->
 * {1 fresh / 0 replay, access token fields...}, or {-1} with nothing written when the key names
 * no live access token of this consumer and link: a request with a token that is unknown,
 * revoked, expired or another link's never leaves a nonce behind (anyone could send millions).
 */
const CLAIM_NONCE_AND_GET = `
local f = redis.call('HMGET', KEYS[2], 'd', 'rv', 'ea', 'ck', 'lk')
if f[1] ~= ARGV[2] or f[2] or not f[3] or tonumber(f[3]) <= tonumber(ARGV[5]) or f[4] ~= ARGV[3] or f[5] ~= ARGV[4] then
  return {-1}
end
local fresh = 0
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then fresh = 1 end
local out = redis.call('HGETALL', KEYS[2])
table.insert(out, 1, fresh)
return out
`;

/**
 * KEYS rt, at; ARGV digest, keepMs, field, value, ... -> 'imported', 'unchanged' (the token is
 * there already, a tombstone included: an import never revives a revoked token) or 'conflict'.
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

/** KEYS index; ARGV handle, ttlMs: the index lives at least as long as its newest member. */
const INDEX_ADD = `
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

type Arg = string | number;

/** The scripts, as defineCommand attaches them (EVALSHA, falling back to EVAL). */
interface StoreScripts {
  applinkCreateRequest(rt: string, at: string, ...args: Arg[]): Promise<unknown>;
  applinkDecideRequest(rt: string, ...args: Arg[]): Promise<unknown>;
  applinkExchange(rt: string, at: string, ...args: Arg[]): Promise<unknown>;
  applinkRenew(at: string, ...args: Arg[]): Promise<unknown>;
  applinkRevoke(at: string, ...args: Arg[]): Promise<unknown>;
  applinkInspect(rt: string, at: string, digest: string): Promise<unknown>;
  applinkClaimNonceAndGet(nonce: string, at: string, ttlSeconds: number, digest: string, consumerKey: string, linkId: string, now: number): Promise<unknown>;
  applinkIndexAdd(index: string, handle: string, ttlMs: number): Promise<unknown>;
  applinkImportAccess(rt: string, at: string, ...args: Arg[]): Promise<unknown>;
}

const SCRIPTS: Record<keyof StoreScripts, { lua: string; numberOfKeys: number }> = {
  applinkCreateRequest: { lua: CREATE_REQUEST, numberOfKeys: 2 },
  applinkDecideRequest: { lua: DECIDE_REQUEST, numberOfKeys: 1 },
  applinkExchange: { lua: EXCHANGE, numberOfKeys: 2 },
  applinkRenew: { lua: RENEW, numberOfKeys: 1 },
  applinkRevoke: { lua: REVOKE, numberOfKeys: 1 },
  applinkInspect: { lua: INSPECT, numberOfKeys: 2 },
  applinkClaimNonceAndGet: { lua: CLAIM_NONCE_AND_GET, numberOfKeys: 2 },
  applinkIndexAdd: { lua: INDEX_ADD, numberOfKeys: 1 },
  applinkImportAccess: { lua: IMPORT_ACCESS, numberOfKeys: 2 },
};

// ---------------------------------------------------------------------------------------------

type Client = Redis | Cluster;

const DEFAULT_COMMAND_TIMEOUT_MS = 1500;
const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
const MAX_BACKOFF_MS = 2000;
const QUIT_TIMEOUT_MS = 1000;
const READ_BATCH = 200;
// Indexes outlive their newest token a little, since their TTL is set just before it.
const INDEX_TTL_MARGIN_MS = 60_000;

// Redis replies that mean "not now" rather than "bad request": answered as 503 too.
const TRANSIENT_REPLY =
  /^(LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|NOREPLICAS|MISCONF|OOM|NOMASTERLINK)\b/;

function backoff(times: number): number {
  return Math.min(50 * 2 ** Math.min(times - 1, 10), MAX_BACKOFF_MS) + Math.floor(Math.random() * 100);
}

function isUnavailableError(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  // Server replies are errors of ours (a bug) unless they say the server is not ready.
  if (err.name === 'ReplyError') return TRANSIENT_REPLY.test(err.message);
  // Everything else ioredis raises is about the connection: closed, not writable, timed out.
  return true;
}

function credentialsFromUrl(url: string | undefined): Partial<RedisOptions> {
  if (url === undefined) return {};
  const u = new URL(url);
  const out: Partial<RedisOptions> = {};
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') out.tls = {};
  return out;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

function fields(flat: unknown, from = 0): Record<string, string> {
  const rec: Record<string, string> = {};
  if (!Array.isArray(flat)) return rec;
  for (let i = from; i + 1 < flat.length; i += 2) rec[String(flat[i])] = String(flat[i + 1]);
  return rec;
}

function int(value: string | undefined): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error('token store: malformed record in Redis');
  return n;
}

function req(rec: Record<string, string>, name: string): string {
  const v = rec[name];
  if (v === undefined) throw new Error(`token store: record in Redis lacks field "${name}"`);
  return v;
}

export function createRedisStore(opts: RedisStoreOptions): TokenStore {
  if (/[{}]/.test(opts.keyPrefix)) {
    throw new Error('store.redis.keyPrefix must not contain { or } (they would change the hash tags)');
  }
  if (opts.encryptionKeys.length === 0) {
    throw new Error('the Redis store needs at least one encryption key');
  }
  const keys = opts.encryptionKeys;
  const prefix = opts.keyPrefix;
  const now = opts.now ?? Date.now;
  const budgetMs = opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;

  const perConnection: RedisOptions = {
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false,
    commandTimeout: budgetMs,
    connectTimeout: connectTimeoutMs,
    connectionName: 'applink-gateway',
  };
  const connection: RedisOptions = {
    ...perConnection,
    // Fail fast instead of queueing: a request must get its 503 within the budget.
    enableOfflineQueue: false,
    retryStrategy: backoff,
  };

  let client: Client;
  if (opts.clusterNodes && opts.clusterNodes.length > 0) {
    // Cluster: the offline queue is refused at the cluster level; ioredis keeps its own
    // per-node queue and node retry policy (slots are refreshed on MOVED).
    const clusterOptions: ClusterOptions = {
      enableOfflineQueue: false,
      clusterRetryStrategy: backoff,
      slotsRefreshTimeout: Math.min(budgetMs, 1000),
      redisOptions: { ...perConnection, ...credentialsFromUrl(opts.url) },
    };
    client = new Cluster(opts.clusterNodes, clusterOptions);
  } else if (opts.sentinels && opts.sentinels.length > 0) {
    if (!opts.sentinelName) throw new Error('store.redis.sentinelName is required with sentinels');
    client = new Redis({
      ...connection,
      ...credentialsFromUrl(opts.url),
      sentinels: opts.sentinels,
      name: opts.sentinelName,
      ...sentinelFollowOptions(),
    });
  } else {
    client = new Redis(opts.url ?? 'redis://127.0.0.1:6379', connection);
  }
  for (const [name, def] of Object.entries(SCRIPTS)) client.defineCommand(name, def);
  const scripts = client as unknown as StoreScripts;

  // Connection state: isHealthy() and how long a call may wait for a reconnection.
  let closed = false;
  let stalled = false; // a command timed out on an open connection; cleared by the next success
  let downSince: number | null = Date.now();
  client.on('ready', () => {
    downSince = null;
    stalled = false;
  });
  const markDown = () => {
    downSince ??= Date.now();
  };
  client.on('close', markDown);
  client.on('end', markDown);
  client.on('error', (err: Error) => opts.onError?.(err));

  // One shared waiter per outage, so that waiting callers do not pile listeners on the client.
  let readyWaiter: Promise<void> | null = null;
  function nextReady(): Promise<void> {
    if (readyWaiter === null) {
      const waiter = new Promise<void>((resolve, reject) => {
        const onReady = () => {
          client.off('end', onEnd);
          resolve();
        };
        const onEnd = () => {
          client.off('ready', onReady);
          reject(new StoreUnavailableError('Redis connection ended'));
        };
        client.once('ready', onReady);
        client.once('end', onEnd);
      });
      const clear = () => {
        readyWaiter = null;
      };
      waiter.then(clear, clear);
      readyWaiter = waiter;
    }
    return readyWaiter;
  }

  /**
   * Resolves when the client can send. Waits through a connection attempt that is younger than
   * the connect timeout (start-up, a blip); fails at once during a longer outage.
   */
  function whenReady(): Promise<void> {
    if (closed) return Promise.reject(new StoreUnavailableError('token store is closed'));
    if (client.status === 'ready') return Promise.resolve();
    if (client.status === 'end' || (downSince !== null && Date.now() - downSince > connectTimeoutMs)) {
      return Promise.reject(new StoreUnavailableError('Redis is unreachable'));
    }
    return nextReady();
  }

  // Standalone and Sentinel: a connected client's own commandTimeout (the budget) bounds every
  // command, so a call needs no timer or race of its own. Cluster keeps the guarded path (its
  // slot refreshes and redirections are not covered by one command's timeout).
  const ownTimeoutServes = !(opts.clusterNodes && opts.clusterNodes.length > 0);

  /** The result of a step sent on a ready connection: a timeout marks the connection stalled. */
  function settle<T>(sent: Promise<T>): Promise<T> {
    return sent.then(
      (result) => {
        stalled = false;
        return result;
      },
      (err: unknown) => {
        if (err instanceof Error && /timed out/i.test(err.message)) stalled = true;
        throw unavailable(err);
      },
    );
  }

  function unavailable(err: unknown): unknown {
    if (err instanceof StoreUnavailableError || !isUnavailableError(err)) return err;
    return new StoreUnavailableError(`token store unavailable: ${(err as Error).message}`, { cause: err });
  }

  /** One store step against Redis: answers within the budget or rejects with StoreUnavailableError. */
  function run<T>(step: () => Promise<T>): Promise<T> {
    if (ownTimeoutServes && !closed && client.status === 'ready') {
      let sent: Promise<T>;
      try {
        sent = step();
      } catch (err) {
        return Promise.reject(unavailable(err));
      }
      return settle(sent);
    }
    return runGuarded(step);
  }

  /** run() while the connection is not ready (or on Cluster): waits for it within the budget. */
  async function runGuarded<T>(step: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let late = false;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        late = true;
        stalled = true;
        reject(new StoreUnavailableError(`Redis did not answer within ${budgetMs} ms`));
      }, budgetMs);
    });
    // A step whose caller has already been answered 503 must not run when Redis comes back.
    const send = () => (late ? Promise.reject(new StoreUnavailableError('too late')) : step());
    try {
      const result = await Promise.race([whenReady().then(send), deadline]);
      stalled = false;
      return result;
    } catch (err) {
      if (err instanceof StoreUnavailableError) throw err;
      if (isUnavailableError(err)) {
        throw new StoreUnavailableError(`token store unavailable: ${(err as Error).message}`, {
          cause: err,
        });
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** run() for writes that issue, renew or revoke a token: confirmed on replicas when required. */
  const runDurable = durableTokenWrites(client, run, { ...opts, budgetMs });

  // Key names. The handle in braces is the Cluster hash tag shared by a grant's keys.
  const requestKey = (h: string) => `${prefix}rt:{${h}}`;
  const accessKey = (h: string) => `${prefix}at:{${h}}`;
  const userIndex = (lowerUser: string) => `${prefix}u:${encodeURIComponent(lowerUser)}`;
  const linkIndex = (linkId: string) => `${prefix}l:${encodeURIComponent(linkId)}`;
  // A nonce of a request signed with a token carries that token's hash tag, so the hot path
  // (claim the nonce, read the token) is one Lua call on one slot, atomic and valid in Cluster;
  // a pipeline of SET + HGETALL would need the same slot anyway, and would cost the same.
  const nonceKey = (key: NonceKey) => {
    const h = key.token === '' ? null : accessHandleOfToken(key.token);
    return h === null ? `${prefix}n:${nonceDigest(key)}` : `${prefix}n:{${h}}:${nonceDigest(key)}`;
  };

  // Encryption contexts bind each ciphertext to its grant and field.
  const ctx = (field: string, h: string) => `${field}:${h}`;

  function requestFromRecord(h: string, token: string, rec: Record<string, string>): RequestToken {
    const ve = rec.ve;
    return {
      token,
      secret: decryptSecret(req(rec, 's'), keys, ctx('rt.s', h)),
      handle: h,
      linkId: req(rec, 'lk'),
      consumerKey: req(rec, 'ck'),
      callback: rec.cb ?? null,
      version: req(rec, 'ver') as DanceVersion,
      state: req(rec, 'st') as RequestTokenState,
      user: rec.u ?? null,
      verifier: ve === undefined ? null : decryptSecret(ve, keys, ctx('rt.ve', h)),
      createdAt: int(rec.ca),
      expiresAt: int(rec.ea),
    };
  }

  function summaryFromRecord(h: string, rec: Record<string, string>): AccessTokenSummary {
    return {
      handle: h,
      linkId: req(rec, 'lk'),
      consumerKey: req(rec, 'ck'),
      user: req(rec, 'u'),
      createdAt: int(rec.ca),
      expiresAt: int(rec.ea),
      authorizationExpiresAt: int(rec.aea),
    };
  }

  function accessFromRecord(h: string, token: string, rec: Record<string, string>): AccessToken {
    return {
      token,
      secret: decryptSecret(req(rec, 's'), keys, ctx('at.s', h)),
      sessionHandle: decryptSecret(req(rec, 'sh'), keys, ctx('at.sh', h)),
      ...summaryFromRecord(h, rec),
    };
  }

  /** The access token record if it belongs to `token`, is not revoked and has not expired (by our clock). */
  function liveAccess(h: string, token: string, rec: Record<string, string>, lazy = false): AccessToken | null {
    if (rec.d === undefined || !constantTimeEqual(rec.d, tokenDigest(token))) return null;
    if (rec.rv !== undefined || int(rec.ea) <= now()) return null;
    return lazy ? lazyAccessFromRecord(h, token, rec) : accessFromRecord(h, token, rec);
  }

  /**
   * accessFromRecord for the signed-request path: the secret and session handle are decrypted
   * when first read, not before. An RSA-SHA1 request never reads the secret, and no resource
   * request reads the session handle: two AES-GCM decryptions per request saved.
   */
  function lazyAccessFromRecord(h: string, token: string, rec: Record<string, string>): AccessToken {
    const access = { token, ...summaryFromRecord(h, rec) } as AccessToken;
    let secret: string | undefined;
    let sessionHandle: string | undefined;
    Object.defineProperty(access, 'secret', { enumerable: true, get: () => (secret ??= decryptSecret(req(rec, 's'), keys, ctx('at.s', h))) });
    Object.defineProperty(access, 'sessionHandle', { enumerable: true, get: () => (sessionHandle ??= decryptSecret(req(rec, 'sh'), keys, ctx('at.sh', h))) });
    return access;
  }

  async function decide(
    token: string,
    user: string,
    state: 'approved' | 'denied',
  ): Promise<DecideResult> {
    const h = handleOfToken(token);
    if (h === null) return { ok: false, reason: 'unknown' };
    const verifier = randomToken();
    const reply = await runDurable(() =>
      scripts.applinkDecideRequest(
        requestKey(h),
        tokenDigest(token),
        now(),
        state,
        user,
        userKey(user),
        encryptSecret(verifier, keys, ctx('rt.ve', h)),
        tokenDigest(verifier),
      ),
    );
    const status = Array.isArray(reply) ? String(reply[0]) : '';
    if (status !== 'ok') {
      const reason = status === 'expired' || status === 'already_decided' ? status : 'unknown';
      return { ok: false, reason };
    }
    return { ok: true, token: requestFromRecord(h, token, fields(reply, 1)) };
  }

  async function indexAdd(index: string, h: string, ttlMs: number): Promise<void> {
    await run(() => scripts.applinkIndexAdd(index, h, ttlMs));
  }

  async function indexRemove(index: string, handles: string[]): Promise<void> {
    if (handles.length > 0) await run(() => client.srem(index, ...handles));
  }

  /** Reads access records by handle, a batch at a time (separate slots: no multi-key command). */
  async function readAccessRecords(
    handles: string[],
  ): Promise<Array<[string, Record<string, string>]>> {
    const out: Array<[string, Record<string, string>]> = [];
    for (let i = 0; i < handles.length; i += READ_BATCH) {
      const batch = handles.slice(i, i + READ_BATCH);
      const recs = await Promise.all(batch.map((h) => run(() => client.hgetall(accessKey(h)))));
      batch.forEach((h, j) => out.push([h, recs[j] ?? {}]));
    }
    return out;
  }

  /** Every access token handle, by SCAN over each master (operator listing without a filter). */
  async function allAccessHandles(): Promise<string[]> {
    const pattern = `${escapeGlob(prefix)}at:*`;
    const nodes: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
    const handles = new Set<string>();
    const head = `${prefix}at:{`;
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, found] = await run(() => node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000));
        cursor = next;
        for (const k of found) {
          if (k.startsWith(head) && k.endsWith('}')) handles.add(k.slice(head.length, -1));
        }
      } while (cursor !== '0');
    }
    return [...handles];
  }

  /** Candidate handles for a filter, with the index they came from (to prune it). */
  async function candidates(filter: {
    user?: string;
    linkId?: string;
  }): Promise<{ index: string | null; handles: string[] }> {
    if (filter.user !== undefined) {
      const index = userIndex(userKey(filter.user));
      return { index, handles: await run(() => client.smembers(index)) };
    }
    if (filter.linkId !== undefined) {
      const index = linkIndex(filter.linkId);
      return { index, handles: await run(() => client.smembers(index)) };
    }
    return { index: null, handles: await allAccessHandles() };
  }

  return {
    async createRequestToken(input: NewRequestToken): Promise<RequestToken> {
      const ttlMs = ttlToMs(input.ttlSeconds, 'request token ttlSeconds');
      const secret = input.emptySecret ? '' : randomToken();
      for (let attempt = 0; attempt < 3; attempt++) {
        const h = newHandle();
        const token = newTokenValue(h);
        const createdAt = now();
        const record: Arg[] = [
          'd', tokenDigest(token),
          's', encryptSecret(secret, keys, ctx('rt.s', h)),
          'lk', input.linkId,
          'ck', input.consumerKey,
          'ver', input.version,
          'st', 'pending',
          'ca', createdAt,
          'ea', createdAt + ttlMs,
        ];
        if (input.callback !== null) record.push('cb', input.callback);
        const keepMs = requestKeepUntil({ createdAt, expiresAt: createdAt + ttlMs }) - createdAt;
        const created = await runDurable(() =>
          scripts.applinkCreateRequest(requestKey(h), accessKey(h), keepMs, ...record),
        );
        if (Number(created) === 1) {
          return {
            token,
            secret,
            handle: h,
            linkId: input.linkId,
            consumerKey: input.consumerKey,
            callback: input.callback,
            version: input.version,
            state: 'pending',
            user: null,
            verifier: null,
            createdAt,
            expiresAt: createdAt + ttlMs,
          };
        }
      }
      throw new Error('token store: could not allocate a unique token handle');
    },

    async getRequestToken(token: string): Promise<RequestToken | null> {
      const h = handleOfToken(token);
      if (h === null) return null;
      const rec = await run(() => client.hgetall(requestKey(h)));
      if (rec.d === undefined || !constantTimeEqual(rec.d, tokenDigest(token))) return null;
      if (int(rec.ea) <= now()) return null;
      return requestFromRecord(h, token, rec);
    },

    approveRequestToken(token: string, user: string): Promise<DecideResult> {
      return decide(token, user, 'approved');
    },

    denyRequestToken(token: string, user: string): Promise<DecideResult> {
      return decide(token, user, 'denied');
    },

    async exchangeRequestToken(token: string, input: ExchangeInput): Promise<ExchangeResult> {
      const accessTtlMs = ttlToMs(input.accessTtlSeconds, 'accessTtlSeconds');
      const authorizationTtlMs = ttlToMs(
        input.authorizationTtlSeconds ?? input.accessTtlSeconds,
        'authorizationTtlSeconds',
      );
      const h = handleOfToken(token);
      if (h === null) return { ok: false, reason: 'unknown' };

      // Index first, exchange second: an index entry may point at a token that was never
      // issued (pruned lazily), but an issued token is never missing from the indexes.
      const pending = await run(() => client.hmget(requestKey(h), 'd', 'st', 'u', 'lk'));
      const [digest, state, user, linkId] = pending;
      if (
        digest && constantTimeEqual(digest, tokenDigest(token)) &&
        state === 'approved' && user && linkId
      ) {
        const keepMs = Math.max(accessTtlMs, authorizationTtlMs) + INDEX_TTL_MARGIN_MS;
        await Promise.all([
          indexAdd(userIndex(userKey(user)), h, keepMs),
          indexAdd(linkIndex(linkId), h, keepMs),
        ]);
      }

      const t = now();
      const value = newTokenValue(h);
      const secret = randomToken();
      const sessionHandle = randomToken();
      const expiresAt = t + accessTtlMs;
      const authorizationExpiresAt = t + authorizationTtlMs;
      const verifier = input.verifier === null || input.verifier === '' ? null : input.verifier;
      const reply = await runDurable(() =>
        scripts.applinkExchange(
          requestKey(h),
          accessKey(h),
          tokenDigest(token),
          input.consumerKey,
          verifier === null ? '' : tokenDigest(verifier),
          t,
          tokenDigest(value),
          encryptSecret(secret, keys, ctx('at.s', h)),
          encryptSecret(sessionHandle, keys, ctx('at.sh', h)),
          tokenDigest(sessionHandle),
          expiresAt,
          authorizationExpiresAt,
          Math.max(expiresAt, authorizationExpiresAt) - t,
        ),
      );
      const parts = Array.isArray(reply) ? reply.map(String) : [];
      const [status, lk, ck, u] = parts;
      if (status !== 'ok' || lk === undefined || ck === undefined || u === undefined) {
        const reason = (
          ['expired', 'wrong_consumer', 'not_approved', 'denied', 'bad_verifier', 'used'] as const
        ).find((r) => r === status);
        return { ok: false, reason: reason ?? 'unknown' };
      }
      return {
        ok: true,
        access: {
          token: value,
          secret,
          handle: h,
          linkId: lk,
          consumerKey: ck,
          user: u,
          sessionHandle,
          createdAt: t,
          expiresAt,
          authorizationExpiresAt,
        },
      };
    },

    async inspectToken(token: string): Promise<TokenStatus | null> {
      const h = accessHandleOfToken(token);
      if (h === null) return null;
      const reply = await run(() => scripts.applinkInspect(requestKey(h), accessKey(h), tokenDigest(token)));
      const kind = Array.isArray(reply) ? String(reply[0]) : '';
      const rec = fields(reply, 1);
      const t = now();
      if (kind === 'rt') {
        return requestStatus(
          {
            handle: h,
            linkId: req(rec, 'lk'),
            consumerKey: req(rec, 'ck'),
            state: req(rec, 'st') as RequestTokenState,
            createdAt: int(rec.ca),
            expiresAt: int(rec.ea),
          },
          t,
        );
      }
      if (kind === 'at') {
        return accessStatus(
          {
            handle: h,
            linkId: req(rec, 'lk'),
            consumerKey: req(rec, 'ck'),
            expiresAt: int(rec.ea),
            authorizationExpiresAt: int(rec.aea),
          },
          t,
          rec.rv === undefined ? null : int(rec.ku),
        );
      }
      return null;
    },

    async getAccessToken(token: string): Promise<AccessToken | null> {
      const h = accessHandleOfToken(token);
      if (h === null) return null;
      const rec = await run(() => client.hgetall(accessKey(h)));
      return liveAccess(h, token, rec);
    },

    async renewAccessToken(token: string, input: RenewInput): Promise<RenewResult> {
      const accessTtlMs = ttlToMs(input.accessTtlSeconds, 'accessTtlSeconds');
      const h = accessHandleOfToken(token);
      if (h === null) return { ok: false, reason: 'unknown' };
      // The authorization bounds every renewal (the script caps expiresAt at it).
      const reply = await runDurable(() =>
        scripts.applinkRenew(
          accessKey(h),
          tokenDigest(token),
          input.consumerKey,
          tokenDigest(input.sessionHandle),
          now(),
          accessTtlMs,
        ),
      );
      const status = Array.isArray(reply) ? String(reply[0]) : '';
      if (status !== 'ok') {
        const reason = (['expired', 'revoked', 'wrong_consumer', 'bad_session_handle'] as const).find(
          (r) => r === status,
        );
        return { ok: false, reason: reason ?? 'unknown' };
      }
      return { ok: true, access: accessFromRecord(h, token, fields(reply, 1)) };
    },

    async revokeAccessToken(
      handle: string,
      opts: { user?: string } = {},
    ): Promise<AccessTokenSummary | null> {
      if (!isHandle(handle)) return null;
      const reply = await runDurable(() =>
        scripts.applinkRevoke(
          accessKey(handle),
          opts.user === undefined ? '' : `=${userKey(opts.user)}`,
          '',
          now(),
          TOMBSTONE_MAX_MS,
        ),
      );
      const rec = fields(reply);
      if (rec.lk === undefined) return null;
      const summary = summaryFromRecord(handle, rec);
      // The indexes are tidied separately; a failure here only leaves an entry to prune later.
      await Promise.all([
        indexRemove(userIndex(req(rec, 'ul')), [handle]),
        indexRemove(linkIndex(summary.linkId), [handle]),
      ]).catch(() => undefined);
      return summary;
    },

    async revokeAccessTokens(filter: { user?: string; linkId?: string }): Promise<number> {
      assertRevokeFilter(filter);
      const { index, handles } = await candidates(filter);
      const owner = filter.user === undefined ? '' : `=${userKey(filter.user)}`;
      let count = 0;
      const gone: string[] = [];
      const otherIndexes = new Map<string, string[]>();
      for (let i = 0; i < handles.length; i += READ_BATCH) {
        const batch = handles.slice(i, i + READ_BATCH);
        const replies = await Promise.all(
          batch.map((h) =>
            runDurable(() => scripts.applinkRevoke(accessKey(h), owner, filter.linkId ?? '', now(), TOMBSTONE_MAX_MS)),
          ),
        );
        batch.forEach((h, j) => {
          const rec = fields(replies[j]);
          if (rec.lk === undefined) {
            // Not revoked: gone already, revoked already, dead, or (in the user index) another link's token.
            return;
          }
          count++;
          gone.push(h);
          const other = filter.user !== undefined ? linkIndex(rec.lk) : userIndex(rec.ul ?? '');
          otherIndexes.set(other, [...(otherIndexes.get(other) ?? []), h]);
        });
      }
      if (index !== null) await indexRemove(index, gone);
      for (const [other, hs] of otherIndexes) await indexRemove(other, hs);
      return count;
    },

    async listAccessTokens(filter: {
      user?: string;
      linkId?: string;
    }): Promise<AccessTokenSummary[]> {
      const { index, handles } = await candidates(filter);
      const lowerUser = filter.user === undefined ? null : userKey(filter.user);
      const t = now();
      const listed: AccessTokenSummary[] = [];
      const stale: string[] = [];
      for (const [h, rec] of await readAccessRecords(handles)) {
        // Missing, or a tombstone of a revoked token: never listed.
        if (rec.d === undefined || rec.rv !== undefined) {
          stale.push(h);
          continue;
        }
        const summary = summaryFromRecord(h, rec);
        if (!isAccessRecordLive(summary, t)) {
          stale.push(h);
          continue;
        }
        if (lowerUser !== null && rec.ul !== lowerUser) continue;
        if (filter.linkId !== undefined && summary.linkId !== filter.linkId) continue;
        listed.push(toSummary(summary));
      }
      if (index !== null) await indexRemove(index, stale).catch(() => undefined);
      return listed.sort(newestFirst);
    },

    async importAccessToken(input: ImportedAccessToken): Promise<ImportResult> {
      const h = accessHandleOfToken(input.token);
      if (h === null) throw new TypeError('importAccessToken: the value has no access-token handle');
      const t = now();
      if (!isAccessRecordLive(input, t)) throw new RangeError('importAccessToken: the token can no longer be used or renewed');
      const keepMs = Math.max(input.expiresAt, input.authorizationExpiresAt) - t;
      // Index first, record second, as in the exchange: an index entry may name a missing token.
      await Promise.all([
        indexAdd(userIndex(userKey(input.user)), h, keepMs + INDEX_TTL_MARGIN_MS),
        indexAdd(linkIndex(input.linkId), h, keepMs + INDEX_TTL_MARGIN_MS),
      ]);
      const reply = await runDurable(() =>
        scripts.applinkImportAccess(
          requestKey(h),
          accessKey(h),
          tokenDigest(input.token),
          keepMs,
          's', encryptSecret(input.secret, keys, ctx('at.s', h)),
          'sh', encryptSecret(input.sessionHandle, keys, ctx('at.sh', h)),
          'shd', tokenDigest(input.sessionHandle),
          'lk', input.linkId,
          'ck', input.consumerKey,
          'u', input.user,
          'ul', userKey(input.user),
          'ca', input.createdAt,
          'ea', input.expiresAt,
          'aea', input.authorizationExpiresAt,
        ),
      );
      const result = String(reply);
      if (result !== 'imported' && result !== 'unchanged') return { result: 'conflict', handle: h };
      return { result, handle: h };
    },

    async claimNonce(key: NonceKey, ttlSeconds: number): Promise<boolean> {
      const ttl = nonceTtlSeconds(ttlSeconds);
      const reply = await run(() => client.set(nonceKey(key), '1', 'EX', ttl, 'NX'));
      return reply === 'OK';
    },

    async claimNonceAndGetAccessToken(key: NonceKey, ttlSeconds: number, linkId: string): Promise<ResourceLookup> {
      const ttl = nonceTtlSeconds(ttlSeconds);
      if (key.token === '') {
        // 2LO: only the nonce to claim (the caller has verified the signature first).
        const reply = await run(() => client.set(nonceKey(key), '1', 'EX', ttl, 'NX'));
        return { nonceFresh: reply === 'OK', access: null };
      }
      // A value that can be neither a native nor an imported access token costs no round trip and claims nothing.
      const h = accessHandleOfToken(key.token);
      if (h === null) return { nonceFresh: false, access: null };
      const reply = await run(() =>
        scripts.applinkClaimNonceAndGet(nonceKey(key), accessKey(h), ttl, tokenDigest(key.token), key.consumerKey, linkId, now()),
      );
      const state = Array.isArray(reply) ? Number(reply[0]) : -1;
      if (state === -1) return { nonceFresh: false, access: null };
      const access = liveAccess(h, key.token, fields(reply, 1), true);
      return { nonceFresh: state === 1 && access !== null, access };
    },

    redisClient: client,

    async ping(): Promise<void> {
      await run(() => client.ping());
    },

    isHealthy(): boolean {
      return !closed && client.status === 'ready' && !stalled;
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (client.status === 'ready') {
        let timer: NodeJS.Timeout | undefined;
        const quit = client.quit().then(
          () => true,
          () => false,
        );
        const timeout = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), QUIT_TIMEOUT_MS);
        });
        await Promise.race([quit, timeout]);
        clearTimeout(timer);
      }
      // Also after a clean QUIT: only disconnect() ends the Sentinel failover detector's
      // subscriptions (ioredis), which would otherwise reconnect to the sentinels forever.
      client.disconnect();
    },
  };
}
