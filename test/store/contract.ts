// The one TokenStore contract suite, run against every store (memory.test.ts, redis.test.ts).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import { REQUEST_GRACE_MAX_MS, TOMBSTONE_MAX_MS, accessHandleOfToken, isHandle } from '../../src/store/tokens.js';
import type { AccessToken, ImportedAccessToken, NewRequestToken, NonceKey, RequestToken, TokenStatus, TokenStore } from '../../src/store/types.js';

export interface StoreFixture {
  store: TokenStore;
  /** Moves the store's clock forward; null when the store runs on real time only. */
  now: { advance(ms: number): void } | null;
  cleanup(): Promise<void>;
  /** Nonce TTLs are kept by the backend on real time (Redis SET EX), not by the store's clock. */
  nonceTtlIsRealTime?: boolean;
  /** Records are dropped by the backend on real time too (Redis key TTLs), not only by the store's clock. */
  keyTtlIsRealTime?: boolean;
}

/** A controllable clock for fixtures: starts at the real time, moves only when told. */
export function fakeClock(): { now: () => number; advance(ms: number): void } {
  let t = Date.now();
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

const LINK = 'link-a';
const OTHER_LINK = 'link-b';
const CONSUMER = 'app-a';
const OTHER_CONSUMER = 'app-b';
const CALLBACK = 'https://appa.example.com/plugins/servlet/applinks/oauth/login-dance/access?applicationLinkID=link-a';
const ACCESS_TTL = 3600;
const SUMMARY_FIELDS = [
  'authorizationExpiresAt',
  'consumerKey',
  'createdAt',
  'expiresAt',
  'handle',
  'linkId',
  'user',
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DAY_MS = 86_400_000;

export function storeContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`TokenStore contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: TokenStore;

    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    function needsClock(t: TestContext): { advance(ms: number): void } | null {
      if (fx.now === null) t.skip('needs a controllable clock');
      return fx.now;
    }

    function newRequest(over: Partial<NewRequestToken> = {}): Promise<RequestToken> {
      return store.createRequestToken({
        linkId: LINK,
        consumerKey: CONSUMER,
        callback: CALLBACK,
        version: '1.0a',
        ttlSeconds: 600,
        ...over,
      });
    }

    async function approved(user = 'Alice', over: Partial<NewRequestToken> = {}): Promise<RequestToken> {
      const rt = await newRequest(over);
      const res = await store.approveRequestToken(rt.token, user);
      assert.ok(res.ok, 'approve');
      return res.token;
    }

    async function issue(
      user = 'Alice',
      over: Partial<NewRequestToken> = {},
      authorizationTtlSeconds?: number,
    ): Promise<AccessToken> {
      const rt = await approved(user, over);
      const res = await store.exchangeRequestToken(rt.token, {
        consumerKey: over.consumerKey ?? CONSUMER,
        verifier: rt.verifier,
        accessTtlSeconds: ACCESS_TTL,
        ...(authorizationTtlSeconds === undefined ? {} : { authorizationTtlSeconds }),
      });
      assert.ok(res.ok, `exchange: ${res.ok ? '' : res.reason}`);
      return res.access;
    }

    /** Another token value with the same handle: right record, wrong secret part. */
    function forged(token: string): string {
      const [handle] = token.split('.');
      return `${handle}.${'A'.repeat(32)}`;
    }

    describe('request tokens', () => {
      it('creates a pending token and reads it back', async () => {
        const rt = await newRequest();
        assert.equal(rt.state, 'pending');
        assert.equal(rt.user, null);
        assert.equal(rt.verifier, null);
        assert.equal(rt.linkId, LINK);
        assert.equal(rt.consumerKey, CONSUMER);
        assert.ok(rt.token.length >= 32);
        assert.ok(rt.secret.length >= 32);
        assert.ok(rt.handle.length > 0);
        assert.notEqual(rt.secret, rt.token);
        assert.ok(!rt.handle.includes(rt.token));
        assert.equal(rt.expiresAt - rt.createdAt, 600_000);
        assert.deepEqual(await store.getRequestToken(rt.token), rt);
      });

      it('keeps the callback, the version and an empty secret', async () => {
        const oob = await newRequest({ callback: 'oob' });
        assert.equal((await store.getRequestToken(oob.token))?.callback, 'oob');
        const v10 = await newRequest({ callback: null, version: '1.0' });
        const got = await store.getRequestToken(v10.token);
        assert.equal(got?.callback, null);
        assert.equal(got?.version, '1.0');
        const gi = await newRequest({ emptySecret: true });
        assert.equal(gi.secret, '');
        assert.equal((await store.getRequestToken(gi.token))?.secret, '');
      });

      it('answers null for unknown, malformed and forged values', async () => {
        const rt = await newRequest();
        assert.equal(await store.getRequestToken('no-such-token'), null);
        assert.equal(await store.getRequestToken(''), null);
        assert.equal(await store.getRequestToken('{x}.y'), null);
        assert.equal(await store.getRequestToken(forged(rt.token)), null);
        assert.equal(await store.getRequestToken(rt.handle), null);
      });

      it('expires: unreadable after its TTL', async (t) => {
        const clock = needsClock(t);
        if (!clock) return;
        const rt = await newRequest();
        clock.advance(599_000);
        assert.ok(await store.getRequestToken(rt.token));
        clock.advance(1_000);
        assert.equal(await store.getRequestToken(rt.token), null);
      });

      it('approve binds the user and makes a verifier (1.0a)', async () => {
        const rt = await newRequest();
        const res = await store.approveRequestToken(rt.token, 'Alice');
        assert.ok(res.ok);
        assert.equal(res.token.state, 'approved');
        assert.equal(res.token.user, 'Alice');
        assert.equal(res.token.token, rt.token);
        assert.equal(res.token.secret, rt.secret);
        assert.ok(res.token.verifier && res.token.verifier.length >= 16);
        const got = await store.getRequestToken(rt.token);
        assert.equal(got?.state, 'approved');
        assert.equal(got?.verifier, res.token.verifier);
        assert.equal(got?.user, 'Alice');
      });

      it('approve of a 1.0 token makes no verifier', async () => {
        const rt = await newRequest({ callback: null, version: '1.0' });
        const res = await store.approveRequestToken(rt.token, 'alice');
        assert.ok(res.ok);
        assert.equal(res.token.verifier, null);
        assert.equal(res.token.state, 'approved');
      });

      it('approve twice, or deny after approve -> already_decided', async () => {
        const rt = await newRequest();
        const first = await store.approveRequestToken(rt.token, 'alice');
        assert.ok(first.ok);
        assert.deepEqual(await store.approveRequestToken(rt.token, 'mallory'), {
          ok: false,
          reason: 'already_decided',
        });
        assert.deepEqual(await store.denyRequestToken(rt.token, 'alice'), {
          ok: false,
          reason: 'already_decided',
        });
        const got = await store.getRequestToken(rt.token);
        assert.equal(got?.user, 'alice');
        assert.equal(got?.verifier, first.token.verifier);
      });

      it('only one of parallel approvals wins', async () => {
        const rt = await newRequest();
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.approveRequestToken(rt.token, `user${i}`)),
        );
        assert.equal(results.filter((r) => r.ok).length, 1);
      });

      it('deny', async () => {
        const rt = await newRequest();
        const res = await store.denyRequestToken(rt.token, 'Alice');
        assert.ok(res.ok);
        assert.equal(res.token.state, 'denied');
        assert.equal(res.token.user, 'Alice');
        assert.equal(res.token.verifier, null);
        assert.equal((await store.getRequestToken(rt.token))?.state, 'denied');
        assert.deepEqual(await store.approveRequestToken(rt.token, 'Alice'), {
          ok: false,
          reason: 'already_decided',
        });
      });

      it('decisions on unknown or expired tokens', async (t) => {
        assert.deepEqual(await store.approveRequestToken('nope', 'a'), { ok: false, reason: 'unknown' });
        const rt = await newRequest();
        assert.deepEqual(await store.denyRequestToken(forged(rt.token), 'a'), {
          ok: false,
          reason: 'unknown',
        });
        const clock = needsClock(t);
        if (!clock) return;
        clock.advance(600_001);
        assert.deepEqual(await store.approveRequestToken(rt.token, 'a'), { ok: false, reason: 'expired' });
        assert.deepEqual(await store.denyRequestToken(rt.token, 'a'), { ok: false, reason: 'expired' });
      });
    });

    describe('exchange', () => {
      it('1.0a: approved token + verifier -> access token; request token then used', async () => {
        const rt = await approved('Alice');
        const res = await store.exchangeRequestToken(rt.token, {
          consumerKey: CONSUMER,
          verifier: rt.verifier,
          accessTtlSeconds: ACCESS_TTL,
        });
        assert.ok(res.ok);
        const a = res.access;
        assert.notEqual(a.token, rt.token);
        assert.notEqual(a.secret, rt.secret);
        assert.ok(a.secret.length >= 32 && a.sessionHandle.length >= 16);
        assert.equal(a.user, 'Alice');
        assert.equal(a.linkId, LINK);
        assert.equal(a.consumerKey, CONSUMER);
        assert.equal(a.expiresAt - a.createdAt, ACCESS_TTL * 1000);
        assert.equal(a.authorizationExpiresAt - a.createdAt, ACCESS_TTL * 1000);
        assert.deepEqual(await store.getAccessToken(a.token), a);
        assert.equal((await store.getRequestToken(rt.token))?.state, 'used');
      });

      it('authorizationTtlSeconds sets the renewal horizon', async () => {
        const a = await issue('alice', {}, ACCESS_TTL * 10);
        assert.equal(a.authorizationExpiresAt - a.createdAt, ACCESS_TTL * 10_000);
      });

      it('1.0: exchanged without a verifier; a verifier is refused', async () => {
        const rt = await approved('alice', { callback: null, version: '1.0' });
        const withVerifier = await store.exchangeRequestToken(rt.token, {
          consumerKey: CONSUMER,
          verifier: 'made-up',
          accessTtlSeconds: ACCESS_TTL,
        });
        assert.deepEqual(withVerifier, { ok: false, reason: 'bad_verifier' });
        const res = await store.exchangeRequestToken(rt.token, {
          consumerKey: CONSUMER,
          verifier: null,
          accessTtlSeconds: ACCESS_TTL,
        });
        assert.ok(res.ok);
        assert.equal(res.access.user, 'alice');
      });

      it('refusals: wrong consumer, not approved, denied, bad verifier, unknown', async () => {
        const input = { consumerKey: CONSUMER, verifier: null, accessTtlSeconds: ACCESS_TTL };
        const rt = await approved();
        assert.deepEqual(
          await store.exchangeRequestToken(rt.token, { ...input, consumerKey: OTHER_CONSUMER, verifier: rt.verifier }),
          { ok: false, reason: 'wrong_consumer' },
        );
        const pending = await newRequest();
        assert.deepEqual(await store.exchangeRequestToken(pending.token, input), {
          ok: false,
          reason: 'not_approved',
        });
        const denied = await newRequest();
        await store.denyRequestToken(denied.token, 'alice');
        assert.deepEqual(await store.exchangeRequestToken(denied.token, input), {
          ok: false,
          reason: 'denied',
        });
        assert.deepEqual(await store.exchangeRequestToken(rt.token, { ...input, verifier: 'wrong' }), {
          ok: false,
          reason: 'bad_verifier',
        });
        assert.deepEqual(await store.exchangeRequestToken(rt.token, input), {
          ok: false,
          reason: 'bad_verifier',
        });
        assert.deepEqual(await store.exchangeRequestToken('nope', input), { ok: false, reason: 'unknown' });
        assert.deepEqual(await store.exchangeRequestToken(forged(rt.token), { ...input, verifier: rt.verifier }), {
          ok: false,
          reason: 'unknown',
        });
        // None of the refusals consumed the token.
        const ok = await store.exchangeRequestToken(rt.token, { ...input, verifier: rt.verifier });
        assert.ok(ok.ok);
      });

      it('an expired request token -> expired', async (t) => {
        const clock = needsClock(t);
        if (!clock) return;
        const rt = await approved();
        clock.advance(600_000);
        assert.deepEqual(
          await store.exchangeRequestToken(rt.token, {
            consumerKey: CONSUMER,
            verifier: rt.verifier,
            accessTtlSeconds: ACCESS_TTL,
          }),
          { ok: false, reason: 'expired' },
        );
      });

      it('single use: a second exchange -> used', async () => {
        const rt = await approved();
        const input = { consumerKey: CONSUMER, verifier: rt.verifier, accessTtlSeconds: ACCESS_TTL };
        const first = await store.exchangeRequestToken(rt.token, input);
        assert.ok(first.ok);
        assert.deepEqual(await store.exchangeRequestToken(rt.token, input), { ok: false, reason: 'used' });
        // The first access token is unaffected by the replay.
        assert.ok(await store.getAccessToken(first.access.token));
      });

      it('atomic under concurrency: of 20 parallel exchanges exactly one succeeds', async () => {
        const rt = await approved('alice');
        const input = { consumerKey: CONSUMER, verifier: rt.verifier, accessTtlSeconds: ACCESS_TTL };
        const results = await Promise.all(
          Array.from({ length: 20 }, () => store.exchangeRequestToken(rt.token, input)),
        );
        const ok = results.filter((r) => r.ok);
        assert.equal(ok.length, 1);
        assert.ok(results.every((r) => r.ok || r.reason === 'used'));
        assert.equal((await store.listAccessTokens({ user: 'alice' })).length, 1);
      });
    });

    describe('access tokens', () => {
      it('reads a live token; null for unknown, forged and request-token values', async () => {
        const rt = await approved();
        const res = await store.exchangeRequestToken(rt.token, {
          consumerKey: CONSUMER,
          verifier: rt.verifier,
          accessTtlSeconds: ACCESS_TTL,
        });
        assert.ok(res.ok);
        assert.ok(await store.getAccessToken(res.access.token));
        assert.equal(await store.getAccessToken('nope'), null);
        assert.equal(await store.getAccessToken(forged(res.access.token)), null);
        assert.equal(await store.getAccessToken(rt.token), null);
        assert.equal(await store.getRequestToken(res.access.token), null);
      });

      it('expires after accessTtlSeconds', async (t) => {
        const clock = needsClock(t);
        if (!clock) return;
        const a = await issue();
        clock.advance(ACCESS_TTL * 1000 - 1);
        assert.ok(await store.getAccessToken(a.token));
        clock.advance(1);
        assert.equal(await store.getAccessToken(a.token), null);
      });

      it('renews with its session handle: same value, new expiry', async (t) => {
        const clock = needsClock(t);
        if (!clock) return;
        const a = await issue('alice', {}, ACCESS_TTL * 3);
        clock.advance(ACCESS_TTL * 1000 + 5);
        assert.equal(await store.getAccessToken(a.token), null, 'expired before renewal');
        const renew = { consumerKey: CONSUMER, sessionHandle: a.sessionHandle, accessTtlSeconds: ACCESS_TTL };
        const res = await store.renewAccessToken(a.token, renew);
        assert.ok(res.ok);
        assert.equal(res.access.token, a.token);
        assert.equal(res.access.secret, a.secret);
        assert.equal(res.access.sessionHandle, a.sessionHandle);
        assert.equal(res.access.handle, a.handle);
        assert.equal(res.access.expiresAt, a.createdAt + ACCESS_TTL * 1000 + 5 + ACCESS_TTL * 1000);
        assert.equal(res.access.authorizationExpiresAt, a.authorizationExpiresAt);
        assert.deepEqual(await store.getAccessToken(a.token), res.access);
        // Never beyond the authorization.
        clock.advance(ACCESS_TTL * 1000 * 1.5);
        const capped = await store.renewAccessToken(a.token, renew);
        assert.ok(capped.ok);
        assert.equal(capped.access.expiresAt, a.authorizationExpiresAt);
        clock.advance(ACCESS_TTL * 1000);
        assert.deepEqual(await store.renewAccessToken(a.token, renew), { ok: false, reason: 'expired' });
      });

      it('renew refusals: bad session handle, wrong consumer, unknown', async () => {
        const a = await issue();
        const renew = { consumerKey: CONSUMER, sessionHandle: a.sessionHandle, accessTtlSeconds: ACCESS_TTL };
        assert.deepEqual(await store.renewAccessToken(a.token, { ...renew, sessionHandle: 'wrong' }), {
          ok: false,
          reason: 'bad_session_handle',
        });
        assert.deepEqual(await store.renewAccessToken(a.token, { ...renew, consumerKey: OTHER_CONSUMER }), {
          ok: false,
          reason: 'wrong_consumer',
        });
        assert.deepEqual(await store.renewAccessToken('nope', renew), { ok: false, reason: 'unknown' });
        assert.deepEqual(await store.renewAccessToken(forged(a.token), renew), { ok: false, reason: 'unknown' });
        const other = await issue();
        assert.deepEqual(
          await store.renewAccessToken(a.token, { ...renew, sessionHandle: other.sessionHandle }),
          { ok: false, reason: 'bad_session_handle' },
        );
      });

      it('revoke by handle checks ownership, case-insensitively', async () => {
        const a = await issue('Alice');
        assert.equal(await store.revokeAccessToken(a.handle, { user: 'bob' }), null);
        assert.ok(await store.getAccessToken(a.token), 'still live after a refused revoke');
        const summary = await store.revokeAccessToken(a.handle, { user: 'aLiCe' });
        assert.ok(summary);
        assert.deepEqual(Object.keys(summary).sort(), SUMMARY_FIELDS);
        assert.equal(summary.handle, a.handle);
        assert.equal(summary.user, 'Alice');
        assert.equal(summary.linkId, LINK);
        assert.equal(await store.getAccessToken(a.token), null);
        assert.equal(await store.revokeAccessToken(a.handle, { user: 'alice' }), null);
        const renew = { consumerKey: CONSUMER, sessionHandle: a.sessionHandle, accessTtlSeconds: ACCESS_TTL };
        assert.deepEqual(await store.renewAccessToken(a.token, renew), { ok: false, reason: 'revoked' });
      });

      it('revoke by handle for an empty user name is an ownership check that fails, not "any user"', async () => {
        const a = await issue('alice');
        assert.equal(await store.revokeAccessToken(a.handle, { user: '' }), null);
        assert.ok(await store.getAccessToken(a.token), 'still live after a refused revoke');
      });

      it('revoke by handle without a user (operator); junk handles -> null', async () => {
        const a = await issue('alice');
        assert.equal(await store.revokeAccessToken('not a handle'), null);
        assert.equal(await store.revokeAccessToken(a.token), null);
        assert.equal(await store.revokeAccessToken('{x}'), null);
        assert.equal((await store.revokeAccessToken(a.handle))?.handle, a.handle);
        assert.equal(await store.getAccessToken(a.token), null);
      });

      it('bulk revoke by user (case-insensitive), by link, by both', async () => {
        const a1 = await issue('Alice');
        const a2 = await issue('alice', { linkId: OTHER_LINK });
        const a3 = await issue('ALICE');
        const b1 = await issue('bob');
        const b2 = await issue('bob', { linkId: OTHER_LINK });
        assert.equal(await store.revokeAccessTokens({ user: 'alice', linkId: OTHER_LINK }), 1);
        assert.equal(await store.getAccessToken(a2.token), null);
        assert.ok(await store.getAccessToken(a1.token));
        assert.equal(await store.revokeAccessTokens({ user: 'aLICE' }), 2);
        assert.equal(await store.getAccessToken(a1.token), null);
        assert.equal(await store.getAccessToken(a3.token), null);
        assert.ok(await store.getAccessToken(b1.token));
        assert.equal(await store.revokeAccessTokens({ linkId: OTHER_LINK }), 1);
        assert.equal(await store.getAccessToken(b2.token), null);
        assert.ok(await store.getAccessToken(b1.token));
        assert.equal(await store.revokeAccessTokens({ user: 'alice' }), 0);
        await assert.rejects(store.revokeAccessTokens({}), TypeError);
      });

      it('lists live tokens newest first, filtered, without secrets', async (t) => {
        const clock = fx.now;
        const a1 = await issue('Alice');
        clock?.advance(10);
        const a2 = await issue('alice', { linkId: OTHER_LINK });
        clock?.advance(10);
        const b1 = await issue('bob');
        clock?.advance(10);
        const gone = await issue('alice');
        await store.revokeAccessToken(gone.handle);

        const mine = await store.listAccessTokens({ user: 'ALICE' });
        for (const s of mine) assert.deepEqual(Object.keys(s).sort(), SUMMARY_FIELDS);
        const mineHandles = mine.map((s) => s.handle);
        if (clock) assert.deepEqual(mineHandles, [a2.handle, a1.handle]);
        else assert.deepEqual([...mineHandles].sort(), [a1.handle, a2.handle].sort());
        assert.deepEqual(new Set(mine.map((s) => s.user)), new Set(['Alice', 'alice']));
        assert.deepEqual((await store.listAccessTokens({ linkId: LINK })).map((s) => s.handle).sort(), [a1.handle, b1.handle].sort());
        assert.deepEqual((await store.listAccessTokens({ user: 'alice', linkId: LINK })).map((s) => s.handle), [a1.handle]);
        const all = (await store.listAccessTokens({})).map((s) => s.handle);
        assert.deepEqual(all.sort(), [a1.handle, a2.handle, b1.handle].sort());
        assert.deepEqual(await store.listAccessTokens({ user: 'nobody' }), []);
        const dump = JSON.stringify(await store.listAccessTokens({}));
        for (const a of [a1, a2, b1]) {
          assert.ok(!dump.includes(a.token) && !dump.includes(a.secret) && !dump.includes(a.sessionHandle));
        }

        const clk = needsClock(t);
        if (!clk) return;
        // Expired but still renewable: listed (it can come back); past its authorization: gone.
        const renewable = await issue('carol', {}, ACCESS_TTL * 2);
        clk.advance(ACCESS_TTL * 1000);
        assert.equal(await store.getAccessToken(renewable.token), null);
        assert.deepEqual((await store.listAccessTokens({ user: 'carol' })).map((s) => s.handle), [renewable.handle]);
        assert.deepEqual(await store.listAccessTokens({ user: 'alice' }), []);
        assert.deepEqual((await store.listAccessTokens({})).map((s) => s.handle), [renewable.handle]);
        clk.advance(ACCESS_TTL * 1000);
        assert.deepEqual(await store.listAccessTokens({}), []);
        assert.equal(await store.revokeAccessTokens({ user: 'carol' }), 0);
      });
    });

    describe('imported access tokens (Jira-issued values, no handle inside)', () => {
      const alnum = (n: number) => Array.from(randomBytes(n), (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[b % 62]).join('');
      function jiraToken(user = 'alice', over: Partial<ImportedAccessToken> = {}): ImportedAccessToken {
        const t = Date.now();
        return {
          token: alnum(32),
          secret: alnum(32),
          sessionHandle: alnum(32),
          linkId: LINK,
          consumerKey: CONSUMER,
          user,
          createdAt: t - DAY_MS,
          expiresAt: t + ACCESS_TTL * 1000,
          authorizationExpiresAt: t + ACCESS_TTL * 3000,
          ...over,
        };
      }

      it('verifies, claims its nonce in the same call, lists and renews like a native token', async () => {
        const j = jiraToken('Alice');
        const imported = await store.importAccessToken(j);
        assert.equal(imported.result, 'imported');
        assert.equal(imported.handle, accessHandleOfToken(j.token));
        assert.ok(isHandle(imported.handle));
        const got = await store.getAccessToken(j.token);
        assert.ok(got);
        assert.deepEqual(
          { token: got.token, secret: got.secret, sessionHandle: got.sessionHandle, user: got.user, linkId: got.linkId, consumerKey: got.consumerKey, handle: got.handle },
          { token: j.token, secret: j.secret, sessionHandle: j.sessionHandle, user: 'Alice', linkId: LINK, consumerKey: CONSUMER, handle: imported.handle },
        );
        assert.equal(got.expiresAt, j.expiresAt);
        const key = { consumerKey: CONSUMER, timestamp: '1', nonce: 'n-imported', token: j.token };
        const first = await store.claimNonceAndGetAccessToken(key, 60, LINK);
        assert.equal(first.nonceFresh, true);
        assert.equal(first.access?.handle, imported.handle);
        assert.equal((await store.claimNonceAndGetAccessToken(key, 60, LINK)).nonceFresh, false);
        const listed = await store.listAccessTokens({ user: 'alice' });
        assert.deepEqual(listed.map((x) => x.handle), [imported.handle]);
        assert.deepEqual((await store.listAccessTokens({ linkId: LINK })).map((x) => x.handle), [imported.handle]);
        assert.deepEqual(await store.inspectToken(j.token), { handle: imported.handle, linkId: LINK, consumerKey: CONSUMER, kind: 'access', state: 'live' });
        const renewed = await store.renewAccessToken(j.token, { consumerKey: CONSUMER, sessionHandle: j.sessionHandle, accessTtlSeconds: ACCESS_TTL * 2 });
        assert.ok(renewed.ok);
        assert.equal(renewed.access.token, j.token);
        assert.deepEqual(await store.renewAccessToken(j.token, { consumerKey: CONSUMER, sessionHandle: alnum(32), accessTtlSeconds: ACCESS_TTL }), { ok: false, reason: 'bad_session_handle' });
      });

      it('a value one character off, or of another shape, names nothing', async () => {
        const j = jiraToken();
        await store.importAccessToken(j);
        const off = `${j.token.slice(0, -1)}${j.token.endsWith('A') ? 'B' : 'A'}`;
        assert.equal(await store.getAccessToken(off), null);
        assert.equal((await store.claimNonceAndGetAccessToken({ consumerKey: CONSUMER, timestamp: '1', nonce: 'x', token: off }, 60, LINK)).access, null);
        assert.equal(await store.getAccessToken(`${j.token}0`), null);
        assert.equal(await store.getRequestToken(j.token), null, 'never a request token');
      });

      it('importing twice changes nothing; a revoked import is never revived by a second import', async () => {
        const j = jiraToken();
        const first = await store.importAccessToken(j);
        assert.deepEqual(await store.importAccessToken({ ...j, user: 'mallory', secret: 'other' }), { result: 'unchanged', handle: first.handle });
        assert.equal((await store.getAccessToken(j.token))?.user, 'alice');
        const revoked = await store.revokeAccessToken(first.handle, { user: 'alice' });
        assert.equal(revoked?.handle, first.handle);
        assert.equal(await store.getAccessToken(j.token), null);
        assert.deepEqual(await store.importAccessToken(j), { result: 'unchanged', handle: first.handle });
        assert.equal(await store.getAccessToken(j.token), null, 'still revoked');
        assert.deepEqual(await store.inspectToken(j.token), { handle: first.handle, linkId: LINK, consumerKey: CONSUMER, kind: 'access', state: 'revoked' });
        assert.deepEqual(await store.listAccessTokens({ user: 'alice' }), []);
      });

      it('an expired import with a live session renews; bulk revocation reaches imports', async () => {
        const t = Date.now();
        const j = jiraToken('bob', { expiresAt: t - 1000 });
        await store.importAccessToken(j);
        assert.equal(await store.getAccessToken(j.token), null);
        assert.equal((await store.inspectToken(j.token))?.kind, 'access');
        const renewed = await store.renewAccessToken(j.token, { consumerKey: CONSUMER, sessionHandle: j.sessionHandle, accessTtlSeconds: ACCESS_TTL });
        assert.ok(renewed.ok);
        assert.ok(await store.getAccessToken(j.token));
        assert.equal(await store.revokeAccessTokens({ user: 'BOB' }), 1);
        assert.equal(await store.getAccessToken(j.token), null);
      });

      it('refuses a value no handle can name and a token that can no longer be used', async () => {
        await assert.rejects(store.importAccessToken(jiraToken('alice', { token: 'short' })), TypeError);
        // Days in the past: the memory store's test clock may run behind the wall clock.
        const t = Date.now();
        await assert.rejects(store.importAccessToken(jiraToken('alice', { expiresAt: t - 10 * DAY_MS, authorizationExpiresAt: t - 5 * DAY_MS })), RangeError);
      });
    });

    describe('inspectToken: what a dead token was', () => {
      const STATUS_FIELDS = ['consumerKey', 'handle', 'kind', 'linkId', 'state'];

      function status(t: RequestToken | AccessToken, kind: TokenStatus['kind'], state: TokenStatus['state']): TokenStatus {
        return { kind, state, handle: t.handle, linkId: t.linkId, consumerKey: t.consumerKey } as TokenStatus;
      }

      it('names request tokens in every state, and the access token of the grant', async () => {
        const pending = await newRequest();
        assert.deepEqual(await store.inspectToken(pending.token), status(pending, 'request', 'pending'));
        const denied = await newRequest({ linkId: OTHER_LINK, consumerKey: OTHER_CONSUMER });
        await store.denyRequestToken(denied.token, 'bob');
        assert.deepEqual(await store.inspectToken(denied.token), status(denied, 'request', 'denied'));
        const rt = await approved('alice');
        assert.deepEqual(await store.inspectToken(rt.token), status(rt, 'request', 'approved'));
        const res = await store.exchangeRequestToken(rt.token, { consumerKey: CONSUMER, verifier: rt.verifier, accessTtlSeconds: ACCESS_TTL });
        assert.ok(res.ok);
        // One handle, two values: each names its own record.
        assert.deepEqual(await store.inspectToken(rt.token), status(rt, 'request', 'used'));
        const live = await store.inspectToken(res.access.token);
        assert.deepEqual(live, status(res.access, 'access', 'live'));
        assert.deepEqual(Object.keys(live ?? {}).sort(), STATUS_FIELDS);
        const text = JSON.stringify([live, await store.inspectToken(rt.token)]);
        for (const secret of [res.access.token, res.access.secret, res.access.sessionHandle, rt.token, rt.secret, rt.verifier ?? 'x']) {
          assert.ok(!text.includes(secret), 'no token value, secret or verifier in a status');
        }
      });

      it('null for unknown, malformed and forged values (a known handle is not enough)', async () => {
        const a = await issue();
        for (const value of ['', 'nope', '{x}.y', a.handle, forged(a.token), `${a.handle}.`, forged(a.token).slice(0, -1)]) {
          assert.equal(await store.inspectToken(value), null, value);
        }
      });

      it('an expired access token is expired while renewable, unknown after its authorization', async (t) => {
        const clock = needsClock(t);
        if (!clock) return;
        const a = await issue('alice', {}, ACCESS_TTL * 2);
        clock.advance(ACCESS_TTL * 1000);
        assert.deepEqual(await store.inspectToken(a.token), status(a, 'access', 'expired'));
        clock.advance(ACCESS_TTL * 1000);
        assert.equal(await store.inspectToken(a.token), null);
      });

      it('a request token is kept past its expiry (real TTL): expired, never usable, then gone', async (t) => {
        const clock = fx.now;
        if (!clock && !fx.keyTtlIsRealTime) {
          t.skip('needs a controllable clock');
          return;
        }
        const rt = await approved('alice', { ttlSeconds: 1 });
        const pending = await newRequest({ ttlSeconds: 1 });
        // Past its TTL by the store's clock and, for Redis, by the key's own TTL too.
        if (fx.keyTtlIsRealTime) await sleep(1100);
        clock?.advance(1000);
        assert.deepEqual(await store.inspectToken(rt.token), status(rt, 'request', 'expired'));
        assert.deepEqual(await store.inspectToken(pending.token), status(pending, 'request', 'expired'));
        assert.equal(await store.getRequestToken(rt.token), null);
        const input = { consumerKey: CONSUMER, verifier: rt.verifier, accessTtlSeconds: ACCESS_TTL };
        assert.deepEqual(await store.exchangeRequestToken(rt.token, input), { ok: false, reason: 'expired' });
        assert.deepEqual(await store.approveRequestToken(pending.token, 'alice'), { ok: false, reason: 'expired' });
        assert.deepEqual(await store.denyRequestToken(pending.token, 'alice'), { ok: false, reason: 'expired' });
        assert.deepEqual(await store.inspectToken(rt.token), status(rt, 'request', 'expired'), 'refusals change nothing');
        if (!clock) return;
        // The grace period is as long as the TTL: then gone, as if never issued.
        clock.advance(999);
        assert.equal((await store.inspectToken(pending.token))?.state, 'expired');
        clock.advance(1);
        assert.equal(await store.inspectToken(rt.token), null);
        assert.equal(await store.inspectToken(pending.token), null);
        assert.deepEqual(await store.exchangeRequestToken(rt.token, input), { ok: false, reason: 'unknown' });
        assert.deepEqual(await store.approveRequestToken(pending.token, 'alice'), { ok: false, reason: 'unknown' });
      });

      it('the grace period is capped', async (t) => {
        const clock = needsClock(t);
        if (!clock) return;
        const rt = await newRequest({ ttlSeconds: 7200 });
        const used = await approved('alice', { ttlSeconds: 7200 });
        assert.ok((await store.exchangeRequestToken(used.token, { consumerKey: CONSUMER, verifier: used.verifier, accessTtlSeconds: ACCESS_TTL })).ok);
        clock.advance(7200_000);
        assert.equal((await store.inspectToken(rt.token))?.state, 'expired');
        // An expired token says expired, even one that was used.
        assert.equal((await store.inspectToken(used.token))?.state, 'expired');
        clock.advance(REQUEST_GRACE_MAX_MS - 1);
        assert.equal((await store.inspectToken(rt.token))?.state, 'expired');
        clock.advance(1);
        assert.equal(await store.inspectToken(rt.token), null);
      });
    });

    describe('revocation leaves a tombstone', () => {
      it('a revoked token is named revoked, and never verifies, renews, lists or revokes again', async () => {
        const a = await issue('alice');
        const keep = await issue('alice');
        const rtOfA = await approved('alice');
        const x = await store.exchangeRequestToken(rtOfA.token, { consumerKey: CONSUMER, verifier: rtOfA.verifier, accessTtlSeconds: ACCESS_TTL });
        assert.ok(x.ok);
        const b = x.access;
        assert.ok(await store.revokeAccessToken(a.handle, { user: 'ALICE' }));
        assert.equal(await store.revokeAccessTokens({ user: 'alice', linkId: OTHER_LINK }), 0);
        assert.ok(await store.revokeAccessToken(b.handle));
        for (const dead of [a, b]) {
          assert.deepEqual(await store.inspectToken(dead.token), {
            kind: 'access',
            state: 'revoked',
            handle: dead.handle,
            linkId: LINK,
            consumerKey: CONSUMER,
          });
          assert.equal(await store.getAccessToken(dead.token), null);
          const tombKey = { consumerKey: CONSUMER, timestamp: '1', nonce: `tomb-${dead.handle}`, token: dead.token };
          const hot = await store.claimNonceAndGetAccessToken(tombKey, 600, LINK);
          assert.deepEqual(hot, { nonceFresh: false, access: null });
          assert.equal(await store.claimNonce(tombKey, 600), true, 'a revoked token claims no nonce');
          const renew = { consumerKey: CONSUMER, sessionHandle: dead.sessionHandle, accessTtlSeconds: ACCESS_TTL };
          assert.deepEqual(await store.renewAccessToken(dead.token, renew), { ok: false, reason: 'revoked' });
          assert.deepEqual(await store.renewAccessToken(dead.token, { ...renew, consumerKey: OTHER_CONSUMER }), {
            ok: false,
            reason: 'wrong_consumer',
          });
          assert.equal(await store.inspectToken(forged(dead.token)), null, 'a forged value is not told it was revoked');
          assert.equal(await store.revokeAccessToken(dead.handle), null, 'revoked once');
        }
        assert.equal(await store.revokeAccessTokens({ user: 'alice' }), 1, 'only the live one');
        assert.deepEqual(await store.listAccessTokens({ user: 'alice' }), []);
        assert.deepEqual(await store.listAccessTokens({}), []);
        assert.deepEqual((await store.inspectToken(keep.token))?.state, 'revoked', 'bulk revocation leaves tombstones too');
        // The grant's request token stays used: a tombstone is not a way to exchange again.
        const again = await store.exchangeRequestToken(rtOfA.token, { consumerKey: CONSUMER, verifier: rtOfA.verifier, accessTtlSeconds: ACCESS_TTL });
        assert.deepEqual(again, { ok: false, reason: 'used' });
        assert.equal((await store.inspectToken(b.token))?.state, 'revoked');
      });

      it('kept until the authorization would have ended, at most 30 days', async (t) => {
        const clock = needsClock(t);
        if (!clock) return;
        const short = await issue('alice');
        const long = await issue('alice', {}, 365 * 86_400);
        await store.revokeAccessTokens({ user: 'alice' });
        clock.advance(ACCESS_TTL * 1000 - 1);
        assert.equal((await store.inspectToken(short.token))?.state, 'revoked');
        clock.advance(1);
        assert.equal(await store.inspectToken(short.token), null);
        const renew = { consumerKey: CONSUMER, sessionHandle: short.sessionHandle, accessTtlSeconds: ACCESS_TTL };
        assert.deepEqual(await store.renewAccessToken(short.token, renew), { ok: false, reason: 'unknown' });
        clock.advance(TOMBSTONE_MAX_MS - ACCESS_TTL * 1000 - 1);
        assert.equal((await store.inspectToken(long.token))?.state, 'revoked');
        assert.equal(await store.getAccessToken(long.token), null);
        assert.deepEqual(await store.listAccessTokens({ user: 'alice' }), []);
        clock.advance(1);
        assert.equal(await store.inspectToken(long.token), null);
        assert.ok(TOMBSTONE_MAX_MS === 30 * DAY_MS);
      });

      it('a dead token is not revoked (nothing to keep)', async (t) => {
        const clock = needsClock(t);
        if (!clock) return;
        const a = await issue('alice');
        clock.advance(ACCESS_TTL * 1000);
        assert.equal(await store.revokeAccessToken(a.handle), null);
        assert.equal(await store.inspectToken(a.token), null);
      });
    });

    describe('nonces', () => {
      const key = (over: Partial<NonceKey> = {}): NonceKey => ({
        consumerKey: CONSUMER,
        timestamp: '1700000000',
        nonce: 'n-1',
        token: '',
        ...over,
      });

      it('fresh once, then used; every part of the key counts', async () => {
        assert.equal(await store.claimNonce(key(), 600), true);
        assert.equal(await store.claimNonce(key(), 600), false);
        assert.equal(await store.claimNonce(key({ consumerKey: OTHER_CONSUMER }), 600), true);
        assert.equal(await store.claimNonce(key({ timestamp: '1700000001' }), 600), true);
        assert.equal(await store.claimNonce(key({ nonce: 'n-2' }), 600), true);
        assert.equal(await store.claimNonce(key({ token: 'some-token' }), 600), true);
        assert.equal(await store.claimNonce(key({ token: 'some-token' }), 600), false);
      });

      it('a nonce can be used again after its TTL', async (t) => {
        const k = key({ nonce: 'n-expiring' });
        assert.equal(await store.claimNonce(k, 1), true);
        assert.equal(await store.claimNonce(k, 1), false);
        if (fx.nonceTtlIsRealTime) {
          await sleep(1100);
        } else {
          const clock = needsClock(t);
          if (!clock) return;
          clock.advance(999);
          assert.equal(await store.claimNonce(k, 1), false);
          clock.advance(1);
        }
        assert.equal(await store.claimNonce(k, 1), true);
      });

      it('of 20 concurrent claims exactly one is fresh', async () => {
        const k = key({ nonce: 'n-race' });
        const results = await Promise.all(Array.from({ length: 20 }, () => store.claimNonce(k, 600)));
        assert.equal(results.filter(Boolean).length, 1);
        const a = await issue();
        const hot = key({ nonce: 'n-race-hot', token: a.token });
        const lookups = await Promise.all(
          Array.from({ length: 20 }, () => store.claimNonceAndGetAccessToken(hot, 600, LINK)),
        );
        assert.equal(lookups.filter((l) => l.nonceFresh).length, 1);
        assert.ok(lookups.every((l) => l.access?.handle === a.handle));
      });

      it('claimNonceAndGetAccessToken: the hot path', async (t) => {
        const a = await issue('alice');
        const k = key({ nonce: 'hot-1', token: a.token });
        assert.deepEqual(await store.claimNonceAndGetAccessToken(k, 600, LINK), { nonceFresh: true, access: a });
        assert.deepEqual(await store.claimNonceAndGetAccessToken(k, 600, LINK), { nonceFresh: false, access: a });
        // Shares the nonce space with claimNonce.
        const k2 = key({ nonce: 'hot-2', token: a.token });
        assert.equal(await store.claimNonce(k2, 600), true);
        assert.equal((await store.claimNonceAndGetAccessToken(k2, 600, LINK)).nonceFresh, false);
        const k3 = key({ nonce: 'hot-3', token: a.token });
        assert.equal((await store.claimNonceAndGetAccessToken(k3, 600, LINK)).nonceFresh, true);
        assert.equal(await store.claimNonce(k3, 600), false);
        // 2LO: no token to read; the nonce is claimed.
        assert.deepEqual(await store.claimNonceAndGetAccessToken(key({ nonce: 'hot-4' }), 600, LINK), {
          nonceFresh: true,
          access: null,
        });
        assert.equal(await store.claimNonce(key({ nonce: 'hot-4' }), 600), false);
        // Revoked: null on the very next request, and no nonce kept for it.
        await store.revokeAccessToken(a.handle);
        const k5 = key({ nonce: 'hot-5', token: a.token });
        assert.deepEqual(await store.claimNonceAndGetAccessToken(k5, 600, LINK), { nonceFresh: false, access: null });
        assert.equal(await store.claimNonce(k5, 600), true, 'a revoked token claims no nonce');
        const clock = needsClock(t);
        if (!clock) return;
        const b = await issue('bob');
        clock.advance(ACCESS_TTL * 1000);
        const k6 = key({ nonce: 'hot-6', token: b.token });
        assert.deepEqual(await store.claimNonceAndGetAccessToken(k6, 600, LINK), { nonceFresh: false, access: null });
        assert.equal(await store.claimNonce(k6, 600), true, 'an expired token claims no nonce');
      });

      it('a flood of never-issued, forged or foreign tokens claims no nonce (hot path)', async () => {
        const a = await issue('alice');
        const other = await issue('carol', { linkId: OTHER_LINK, consumerKey: OTHER_CONSUMER });
        const refused: Array<[string, NonceKey]> = [
          ['not our shape', key({ nonce: 'flood-0', token: 'nope' })],
          ['never issued', key({ nonce: 'flood-1', token: `${'B'.repeat(16)}.${'C'.repeat(32)}` })],
          ['never imported (Jira shape)', key({ nonce: 'flood-1j', token: 'D'.repeat(32) })],
          ['forged secret part', key({ nonce: 'flood-2', token: forged(a.token) })],
          ['a request token', key({ nonce: 'flood-3', token: (await newRequest()).token })],
          ['another consumer key', key({ nonce: 'flood-4', token: a.token, consumerKey: OTHER_CONSUMER })],
          ['another link', key({ nonce: 'flood-5', token: other.token, consumerKey: OTHER_CONSUMER })],
        ];
        for (const [what, k] of refused) {
          for (let i = 0; i < 3; i++) {
            assert.deepEqual(await store.claimNonceAndGetAccessToken(k, 600, LINK), { nonceFresh: false, access: null }, what);
          }
          assert.equal(await store.claimNonce(k, 600), true, `${what}: no nonce was kept`);
        }
        // The token's own link still gets replay protection.
        const ok = key({ nonce: 'flood-ok', token: other.token, consumerKey: OTHER_CONSUMER });
        assert.equal((await store.claimNonceAndGetAccessToken(ok, 600, OTHER_LINK)).nonceFresh, true);
        assert.equal((await store.claimNonceAndGetAccessToken(ok, 600, OTHER_LINK)).nonceFresh, false);
      });
    });

    describe('health', () => {
      it('ping resolves and the store reports healthy', async () => {
        await store.ping();
        assert.equal(store.isHealthy(), true);
      });
    });
  });
}
