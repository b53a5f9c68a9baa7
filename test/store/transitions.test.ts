// The token state machine, one table of cases run three times: against the pure transitions
// (src/store/transitions.ts) directly, against the memory backend that runs them, and against
// the Redis backend whose Lua scripts mirror them. Each case is a sequence of backend steps on
// one grant with explicit times; every step's outcome and the grant's records afterwards must be
// the same on all three, refusals included.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { GrantStatus, Step, StepName, Steps, StoredAccess, StoredRequest, TokenBackend } from '../../src/store/backend.js';
import { generateKeyringLine, parseKeyring, tokenDigest } from '../../src/store/crypto.js';
import { createMemoryBackend } from '../../src/store/memory.js';
import { createRedisBackend } from '../../src/store/redis/index.js';
import { newHandle, nonceDigest } from '../../src/store/tokens.js';
import {
  accessForRequest,
  claimNonce,
  decideRequest,
  exchangeRequest,
  handleIsFree,
  importAccess,
  pendingRequest,
  renewAccess,
  requestKeepMs,
  revokeAccess,
  type AccessRecord,
  type RequestRecord,
} from '../../src/store/transitions.js';
import type { NonceKey } from '../../src/store/types.js';
import { TEST_REDIS_TIMINGS, testKeyPrefix, testRedisUrl } from '../helpers/redis.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** A backend made of the pure functions alone: the records of one grant in two variables. */
function pureBackend(): Pick<TokenBackend, 'apply' | 'read' | 'claimNonceForAccess'> {
  const requests = new Map<string, RequestRecord>();
  const accesses = new Map<string, AccessRecord>();
  const nonces = new Map<string, number>();
  const storedRequest = (record: RequestRecord): StoredRequest => ({ record, secret: () => '', verifier: () => null });
  const storedAccess = (record: AccessRecord): StoredAccess => ({ record, secret: () => '', sessionHandle: () => '' });
  function apply(h: string, s: Step): Steps[StepName]['output'] {
    const r = requests.get(h) ?? null;
    const a = accesses.get(h) ?? null;
    switch (s.kind) {
      case 'create':
        if (!handleIsFree(r, a)) return false;
        requests.set(h, s.record);
        return true;
      case 'decide': {
        const out = decideRequest(r, s.digest, s.now, s);
        if (!out.ok) return out;
        requests.set(h, out.request);
        return { ok: true, request: storedRequest(out.request) };
      }
      case 'exchange': {
        const out = exchangeRequest(r, a !== null, s, s.issued);
        if (!out.ok) return out;
        requests.set(h, out.request);
        accesses.set(h, out.access);
        return { ok: true, access: out.access };
      }
      case 'renew': {
        const out = renewAccess(a, s, s.now, s.accessTtlMs);
        if (!out.ok) return out;
        accesses.set(h, out.access);
        return { ok: true, access: storedAccess(out.access) };
      }
      case 'revoke': {
        const out = revokeAccess(a, s, s.now);
        if (out.outcome === 'deleted') accesses.delete(h);
        if (out.outcome !== 'revoked') return null;
        accesses.set(h, out.tombstone);
        return out.revoked;
      }
      case 'import': {
        const result = importAccess(r, a, s.record.digest);
        if (result === 'imported') accesses.set(h, s.record);
        return result;
      }
    }
  }
  return {
    apply: (async (h: string, s: Step) => apply(h, s)) as TokenBackend['apply'],
    read: (async (h: string, what: 'request' | 'access' | 'status') => {
      if (what === 'status') return { request: requests.get(h) ?? null, access: accesses.get(h) ?? null };
      const rec = what === 'request' ? requests.get(h) : accesses.get(h);
      return rec === undefined ? null : what === 'request' ? storedRequest(rec as RequestRecord) : storedAccess(rec as AccessRecord);
    }) as TokenBackend['read'],
    async claimNonceForAccess(h: string, key: NonceKey, ttlSeconds: number, linkId: string, now: number) {
      const a = accesses.get(h) ?? null;
      if (!accessForRequest(a, tokenDigest(key.token), key.consumerKey, linkId, now)) return { nonceFresh: false, access: null };
      const id = nonceDigest(key);
      const until = claimNonce(nonces.get(id), now, ttlSeconds);
      if (until !== null) nonces.set(id, until);
      return { nonceFresh: until !== null, access: { handle: h } as never };
    },
  };
}

type Driver = Pick<TokenBackend, 'apply' | 'read' | 'claimNonceForAccess'>;

/** One grant's values: its handle, the request and access token values and their digests. */
function grant() {
  const h = newHandle();
  const rt = `${h}.${'r'.repeat(32)}`;
  const at = `${h}.${'a'.repeat(32)}`;
  return { h, rt, at, rtd: tokenDigest(rt), atd: tokenDigest(at), other: tokenDigest(`${h}.${'x'.repeat(32)}`) };
}
type Grant = ReturnType<typeof grant>;

/** A step of a case, or the hot-path lookup (claimNonceForAccess). */
type Action =
  | Step
  | { kind: 'lookup'; token: 'at' | 'rt'; consumerKey: string; linkId: string; nonce: string; now: number };

interface Case {
  name: string;
  steps: (g: Grant, t0: number) => Action[];
  /** What each step answered, in the comparable form of `outcome`. */
  expect: unknown[];
}

const V = 'verifier-value';
const SH = 'session-handle-value';

function create(g: Grant, t0: number, over: Partial<Parameters<typeof pendingRequest>[0]> = {}, ttlMs = 10 * MIN): Step {
  const record = pendingRequest({ linkId: 'link-a', consumerKey: 'app-a', callback: 'oob', version: '1.0a', ...over }, g.rtd, t0, ttlMs);
  return { kind: 'create', record, secret: 'rt-secret', keepMs: requestKeepMs(record, t0) };
}
function decide(g: Grant, now: number, state: 'approved' | 'denied' = 'approved', digest = g.rtd): Step {
  return { kind: 'decide', digest, now, state, user: 'Alice', userKey: 'alice', verifier: V, verifierDigest: tokenDigest(V) };
}
function exchange(g: Grant, now: number, over: { consumerKey?: string; verifier?: string | null; authMs?: number } = {}): Step {
  const verifier = over.verifier === undefined ? V : over.verifier;
  return {
    kind: 'exchange',
    digest: g.rtd,
    consumerKey: over.consumerKey ?? 'app-a',
    verifierDigest: verifier === null ? null : tokenDigest(verifier),
    issued: { digest: g.atd, sessionHandleDigest: tokenDigest(SH), createdAt: now, expiresAt: now + HOUR, authorizationExpiresAt: now + (over.authMs ?? 3 * HOUR) },
    secret: 'at-secret',
    sessionHandle: SH,
  };
}
function renew(g: Grant, now: number, over: { consumerKey?: string; sessionHandle?: string; digest?: string } = {}): Step {
  return { kind: 'renew', digest: over.digest ?? g.atd, consumerKey: over.consumerKey ?? 'app-a', sessionHandleDigest: tokenDigest(over.sessionHandle ?? SH), now, accessTtlMs: HOUR };
}
function revoke(now: number, who: { userKey?: string | null; linkId?: string | null } = {}): Step {
  return { kind: 'revoke', userKey: who.userKey ?? null, linkId: who.linkId ?? null, now };
}
function importStep(digest: string, now: number): Step {
  const record: AccessRecord = {
    digest,
    linkId: 'link-a',
    consumerKey: 'app-a',
    user: 'Bob',
    userKey: 'bob',
    sessionHandleDigest: tokenDigest(SH),
    createdAt: now - HOUR,
    expiresAt: now + HOUR,
    authorizationExpiresAt: now + 2 * HOUR,
    revokedAt: null,
    keepUntil: null,
  };
  return { kind: 'import', record, secret: 'imported-secret', sessionHandle: SH, keepMs: 2 * HOUR };
}
const lookup = (now: number, nonce: string, over: { consumerKey?: string; linkId?: string; token?: 'at' | 'rt' } = {}): Action => ({
  kind: 'lookup',
  token: over.token ?? 'at',
  consumerKey: over.consumerKey ?? 'app-a',
  linkId: over.linkId ?? 'link-a',
  nonce,
  now,
});

const refused = (reason: string) => ({ ok: false, reason });
const OK = { ok: true };

const CASES: Case[] = [
  { name: 'create: a free handle once, then taken', steps: (g, t) => [create(g, t), create(g, t)], expect: [true, false] },
  { name: 'decide: unknown grant, another value', steps: (g, t) => [decide(g, t), create(g, t), decide(g, t, 'approved', g.other)], expect: [refused('unknown'), true, refused('unknown')] },
  {
    name: 'decide: expired at its TTL, unknown past the grace period',
    steps: (g, t) => [create(g, t), decide(g, t + 10 * MIN), decide(g, t + 10 * MIN, 'denied'), decide(g, t + 20 * MIN)],
    expect: [true, refused('expired'), refused('expired'), refused('unknown')],
  },
  {
    name: 'decide: approve once; approve or deny again -> already_decided',
    steps: (g, t) => [create(g, t), decide(g, t + 1), decide(g, t + 2), decide(g, t + 3, 'denied')],
    expect: [true, OK, refused('already_decided'), refused('already_decided')],
  },
  { name: 'decide: approving a 1.0 token sets no verifier', steps: (g, t) => [create(g, t, { version: '1.0', callback: null }), decide(g, t + 1)], expect: [true, OK] },
  {
    name: 'exchange: refusals in order (unknown, pending, wrong consumer, verifier), then issued once',
    steps: (g, t) => [
      exchange(g, t),
      create(g, t),
      exchange(g, t + 1),
      decide(g, t + 2),
      exchange(g, t + 3, { consumerKey: 'app-b' }),
      exchange(g, t + 3, { verifier: null }),
      exchange(g, t + 3, { verifier: 'wrong' }),
      exchange(g, t + 4),
      exchange(g, t + 5),
    ],
    expect: [refused('unknown'), true, refused('not_approved'), OK, refused('wrong_consumer'), refused('bad_verifier'), refused('bad_verifier'), OK, refused('used')],
  },
  {
    name: 'exchange: a 1.0 token refuses a verifier and takes none',
    steps: (g, t) => [create(g, t, { version: '1.0', callback: null }), decide(g, t + 1), exchange(g, t + 2), exchange(g, t + 3, { verifier: null })],
    expect: [true, OK, refused('bad_verifier'), OK],
  },
  {
    name: 'exchange: denied; expired; unknown past the grace period',
    steps: (g, t) => [create(g, t), decide(g, t + 1, 'denied'), exchange(g, t + 2), exchange(g, t + 10 * MIN), exchange(g, t + 20 * MIN)],
    expect: [true, OK, refused('denied'), refused('expired'), refused('unknown')],
  },
  {
    name: 'renew: refusals, a renewal capped by the authorization, then expired',
    steps: (g, t) => [
      renew(g, t),
      create(g, t),
      decide(g, t),
      exchange(g, t),
      renew(g, t + 1, { digest: g.other }),
      renew(g, t + 1, { consumerKey: 'app-b' }),
      renew(g, t + 1, { sessionHandle: 'wrong' }),
      renew(g, t + 2 * HOUR),
      renew(g, t + 2.5 * HOUR),
      renew(g, t + 3 * HOUR),
    ],
    expect: [refused('unknown'), true, OK, OK, refused('unknown'), refused('wrong_consumer'), refused('bad_session_handle'), OK, OK, refused('expired')],
  },
  {
    name: 'revoke: only its owner and link; once; its tombstone answers revoked, then unknown',
    steps: (g, t) => [
      revoke(t),
      create(g, t),
      decide(g, t),
      exchange(g, t),
      revoke(t + 1, { userKey: 'bob' }),
      revoke(t + 1, { userKey: '' }),
      revoke(t + 1, { linkId: 'link-b' }),
      revoke(t + 2, { userKey: 'alice', linkId: 'link-a' }),
      revoke(t + 3),
      renew(g, t + 4),
      renew(g, t + 4, { consumerKey: 'app-b' }),
      renew(g, t + 3 * HOUR),
    ],
    expect: [null, true, OK, OK, null, null, null, 'revoked', null, refused('revoked'), refused('wrong_consumer'), refused('unknown')],
  },
  {
    name: 'revoke: a dead record is deleted, not revoked',
    steps: (g, t) => [create(g, t), decide(g, t), exchange(g, t, { authMs: HOUR }), revoke(t + HOUR), renew(g, t + HOUR)],
    expect: [true, OK, OK, null, refused('unknown')],
  },
  {
    name: 'import: into a free handle; the same token unchanged; another conflicts; a tombstone is not revived',
    steps: (g, t) => [importStep(g.atd, t), importStep(g.atd, t), importStep(g.other, t), revoke(t), importStep(g.atd, t + 1)],
    expect: ['imported', 'unchanged', 'conflict', 'revoked', 'unchanged'],
  },
  { name: "import: a handle held by a grant's request token conflicts", steps: (g, t) => [create(g, t), importStep(g.atd, t)], expect: [true, 'conflict'] },
  {
    name: 'hot path: the nonce is claimed only for a usable access token of this consumer and link',
    steps: (g, t) => [
      lookup(t, 'n0'),
      create(g, t),
      lookup(t, 'n1', { token: 'rt' }),
      decide(g, t),
      exchange(g, t),
      lookup(t + 1, 'n2'),
      lookup(t + 1, 'n2'),
      lookup(t + 1, 'n3', { consumerKey: 'app-b' }),
      lookup(t + 1, 'n3', { linkId: 'link-b' }),
      lookup(t + HOUR, 'n4'),
      renew(g, t + HOUR),
      lookup(t + HOUR, 'n4'),
      revoke(t + HOUR + 1),
      lookup(t + HOUR + 2, 'n5'),
    ],
    expect: ['none', true, 'none', OK, OK, 'fresh', 'replay', 'none', 'none', 'none', OK, 'fresh', 'revoked', 'none'],
  },
];

/** The comparable form of an outcome: what it says, and the records it carries. */
function outcome(out: unknown): unknown {
  if (out === null || typeof out !== 'object') return out;
  const o = out as Record<string, unknown>;
  if ('nonceFresh' in o) return o.access === null ? 'none' : o.nonceFresh ? 'fresh' : 'replay';
  if ('ok' in o) return o.ok ? OK : refused(String(o.reason));
  return 'revoked';
}

/**
 * The full form, compared between implementations. The records a step writes are compared
 * whole; Redis reads no digest of a secret back in a status read or a revocation's reply.
 */
function detail(out: unknown, secretDigests = true): unknown {
  if (out === null || typeof out !== 'object') return out;
  const o = out as Record<string, unknown>;
  if ('nonceFresh' in o) return o;
  const strip = (r: unknown) => {
    if (r === null || r === undefined || typeof r !== 'object') return r;
    const rec = ('record' in r ? (r as { record: unknown }).record : r) as Record<string, unknown>;
    if (secretDigests) return rec;
    const { sessionHandleDigest: _s, verifierDigest: _v, ...rest } = rec;
    return rest;
  };
  if ('ok' in o) return o.ok ? { ok: true, request: strip(o.request), access: strip(o.access) } : o;
  return detail({ ok: true, access: o }, false);
}

async function run(driver: Driver, c: Case): Promise<{ outcomes: unknown[]; details: unknown[]; status: unknown }> {
  const g = grant();
  const t0 = Date.now();
  const outcomes: unknown[] = [];
  const details: unknown[] = [];
  for (const action of c.steps(g, t0)) {
    let out: unknown;
    if (action.kind === 'lookup') {
      const token = action.token === 'at' ? g.at : g.rt;
      const key: NonceKey = { consumerKey: action.consumerKey, timestamp: '1', nonce: `${g.h}-${action.nonce}`, token };
      const res = await driver.claimNonceForAccess(g.h, key, 600, action.linkId, action.now);
      out = { nonceFresh: res.nonceFresh, access: res.access === null ? null : res.access.handle === g.h ? 'this grant' : 'another' };
    } else {
      out = await driver.apply(g.h, action);
    }
    outcomes.push(outcome(out));
    details.push(detail(out));
  }
  const status: GrantStatus = await driver.read(g.h, 'status');
  const labels = new Map([[g.rtd, 'rt'], [g.atd, 'at'], [g.other, 'other']]);
  const norm = (value: unknown): unknown => normalize(JSON.parse(JSON.stringify(value ?? null)), labels, t0);
  return { outcomes, details: norm(details) as unknown[], status: norm(detail({ ok: true, request: status.request, access: status.access }, false)) };
}

const keyring = () => parseKeyring(generateKeyringLine());
const redisPrefix = testKeyPrefix();
let redis: TokenBackend | null = null;
after(async () => {
  await redis?.close();
});

const DRIVERS: Array<[string, () => Promise<Driver>]> = [
  ['pure transitions', async () => pureBackend()],
  ['memory backend', async () => createMemoryBackend()],
  ['redis backend (Lua)', async () => (redis ??= createRedisBackend({ url: await testRedisUrl(), keyPrefix: redisPrefix, encryptionKeys: keyring(), ...TEST_REDIS_TIMINGS }))],
];

describe('token transitions: the same cases against the pure functions, memory and Redis', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const results = [];
      for (const [name, make] of DRIVERS) {
        const result = await run(await make(), c);
        assert.deepEqual(result.outcomes, c.expect, `${name}: outcomes`);
        results.push([name, result] as const);
      }
      const pure = results[0]?.[1];
      assert.ok(pure);
      for (const [name, result] of results.slice(1)) {
        assert.deepEqual(result.details, pure.details, `${name}: what each step answered`);
        assert.deepEqual(result.status, pure.status, `${name}: the records afterwards`);
      }
    });
  }
});

/** Each run has its own grant and t0: digests by what they name, times relative to t0. */
function normalize(value: unknown, labels: Map<string, string>, t0: number): unknown {
  if (Array.isArray(value)) return value.map((v) => normalize(v, labels, t0));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'digest') out[k] = labels.get(String(v)) ?? 'unnamed';
    else if (['createdAt', 'expiresAt', 'authorizationExpiresAt', 'revokedAt', 'keepUntil'].includes(k)) out[k] = typeof v === 'number' ? v - t0 : v;
    else out[k] = normalize(v, labels, t0);
  }
  return out;
}
