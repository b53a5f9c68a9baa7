// Redis Sentinel for real: one master, one replica, three sentinels (test/helpers/sentinel.ts).
// The store contract runs against it; token writes wait for a replica (WAIT) and are refused,
// never acknowledged, when none confirms them; and a real gateway under steady signed traffic
// and dances survives a planned (SENTINEL FAILOVER) and an unplanned (master killed) failover:
// no 500, no hang, 503 only while there is no master, the new master followed by itself, and
// every access token acknowledged to AppA before, during and just after the switch still
// verifies once the deposed master has resynced.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { Redis } from 'ioredis';
import type OAuth10a from 'oauth-1.0a';
import { generateKeyringLine, parseKeyring } from '../../src/store/crypto.js';
import { createRedisStore } from '../../src/store/redis/index.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { startGateway, type RunningGateway } from '../../src/server/serve.js';
import { createLogger } from '../../src/ops/logger.js';
import { runtimeConfig, tempDir, testConfigObject, ACCESS_PATH, PUBLIC_BASE } from '../helpers/fixtures.js';
import { TEST_REDIS_TIMINGS, startRedis, testKeyPrefix } from '../helpers/redis.js';
import { startSentinel, type EphemeralSentinel } from '../helpers/sentinel.js';
import { startStubAppB, type StubAppB } from '../helpers/stub-appb.js';
import { startCallbackServer } from '../helpers/harness.js';
import { Browser, decide, demoLogin, oauth10aClient, signedPost, type GatewayAt } from '../helpers/clients.js';
import { fakeClock, storeContract } from './contract.js';

const newKeys = () => parseKeyring(generateKeyringLine());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** `p`, or 'hang' when it takes longer than `ms` (the timer is cleared either way). */
async function orHang<T>(p: Promise<T>, ms: number): Promise<T | 'hang'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

let setup: Promise<EphemeralSentinel> | null = null;
const sentinelSetup = () => (setup ??= startSentinel());
after(async () => {
  if (setup) await (await setup.catch(() => null))?.stop();
});

storeContract('redis sentinel (token writes wait for the replica)', async () => {
  const s = await sentinelSetup();
  const clock = fakeClock();
  const store = createRedisStore({ sentinels: s.sentinels, sentinelName: s.name, keyPrefix: testKeyPrefix(), encryptionKeys: newKeys(), now: clock.now, ...TEST_REDIS_TIMINGS });
  return { store, now: clock, nonceTtlIsRealTime: true, keyTtlIsRealTime: true, cleanup: () => store.close() };
});

async function waitCalls(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  return Number(/^cmdstat_wait:calls=(\d+)/m.exec(stats)?.[1] ?? 0);
}

describe('durable token writes (WAIT)', () => {
  it('a token write that no replica confirms is refused as unavailable, never acknowledged; nonce claims never wait', async () => {
    // A master without replicas: WAIT 1 can only time out.
    const lone = await startRedis();
    const admin = new Redis(lone.url);
    const store = createRedisStore({ url: lone.url, keyPrefix: testKeyPrefix(), encryptionKeys: newKeys(), waitReplicas: 1, commandTimeoutMs: TEST_REDIS_TIMINGS.commandTimeoutMs, waitTimeoutMs: 100 });
    try {
      const started = Date.now();
      await assert.rejects(
        store.createRequestToken({ linkId: 'l', consumerKey: 'c', callback: 'oob', version: '1.0a', ttlSeconds: 60 }),
        (err: unknown) => err instanceof StoreUnavailableError && /reached 0 of 1 Redis replica/.test((err as Error).message),
      );
      assert.ok(Date.now() - started < 1500, 'within the command budget');
      assert.equal(await waitCalls(admin), 1);
      // The hot path: nonce claims and token reads send no WAIT.
      const before = await waitCalls(admin);
      for (let i = 0; i < 5; i++) await store.claimNonceAndGetAccessToken({ consumerKey: 'c', token: '', nonce: `n${i}`, timestamp: '1' }, 60, 'l');
      assert.equal(await waitCalls(admin), before, 'no WAIT on nonce claims');
    } finally {
      await store.close();
      admin.disconnect();
      await lone.stop();
    }
  });

  it('waitReplicas defaults to 1 with sentinels and 0 otherwise; Cluster refuses it', async () => {
    const { replicasToWait } = await import('../../src/store/redis/connection.js');
    assert.equal(replicasToWait({ sentinels: [{ host: 'h', port: 1 }] }), 1);
    assert.equal(replicasToWait({}), 0);
    assert.equal(replicasToWait({ sentinels: [{ host: 'h', port: 1 }], waitReplicas: 0 }), 0);
    assert.throws(() => replicasToWait({ clusterNodes: [{ host: 'h', port: 1 }], waitReplicas: 1 }), /not supported with clusterNodes/);
    // The configuration refuses what the store would refuse, naming the key.
    const t = tempDir('applink-wait-config-');
    try {
      const load = (redis: Record<string, unknown>) => runtimeConfig(t, testConfigObject(t, { patch: { store: { redis, encryptionKeyFile: 'store.key' } } }), {});
      assert.equal(load({ sentinels: [{ host: 'h', port: 26379 }], sentinelName: 'm' }).config.store.redis?.waitTimeoutMs, 500);
      assert.throws(() => load({ url: 'redis://h:6379', commandTimeoutMs: 500, waitTimeoutMs: 500 }), /waitTimeoutMs/);
      assert.throws(() => load({ clusterNodes: [{ host: 'h', port: 6379 }], waitReplicas: 1 }), /waitReplicas/);
    } finally {
      t.cleanup();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// A gateway on Sentinel under traffic, through two failovers.

interface Grant {
  key: string;
  secret: string;
  at: number;
}

describe('Sentinel failover under signed traffic', () => {
  let s: EphemeralSentinel;
  let running: RunningGateway;
  let appb: StubAppB;
  let callback: Awaited<ReturnType<typeof startCallbackServer>>;
  let t: ReturnType<typeof tempDir>;
  let client: OAuth10a;
  let h: GatewayAt;

  before(async () => {
    t = tempDir('applink-sentinel-gw-');
    try {
      s = await sentinelSetup();
      appb = await startStubAppB();
      callback = await startCallbackServer();
      const build = (publicBaseUrl: string) => {
        const obj = testConfigObject(t, {
          upstreamUrl: appb.url,
          publicBaseUrl,
          patch: {
            store: { redis: { sentinels: s.sentinels, sentinelName: s.name, keyPrefix: testKeyPrefix(), commandTimeoutMs: 1000, waitTimeoutMs: 300 }, encryptionKeyFile: 'store.key' },
            logging: { level: 'error' },
          },
        });
        (obj.links as Array<Record<string, unknown>>)[0]!.callbackUrls = [`${callback.url}${ACCESS_PATH}`];
        return runtimeConfig(t, obj, {});
      };
      const log = createLogger({ level: 'error', destination: { write: () => undefined } });
      running = await startGateway({ cfg: build(PUBLIC_BASE), log, listen: '127.0.0.1:0', adminListen: '127.0.0.1:0', defaultMetrics: false });
      running.gw.setCfg(build(running.publicUrl));
      h = { url: running.publicUrl };
      client = oauth10aClient('rsa');
    } catch (err) {
      await running?.close();
      await appb?.close();
      await callback?.close();
      t.cleanup();
      throw err;
    }
  });
  after(async () => {
    await running?.close();
    await appb?.close();
    await callback?.close();
    t.cleanup();
  });

  const TIMEOUT_MS = 8000; // a request that takes longer counts as a hang
  const statuses = new Map<number, number>();
  const callStatuses = new Map<number, number>();
  const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

  /** One dance; the access token when the gateway acknowledged it (200), else null. */
  async function dance(): Promise<Grant | null> {
    const rt = await signedPost(h, client, '/plugins/servlet/oauth/request-token', { oauth: { oauth_callback: `${callback.url}${ACCESS_PATH}` } });
    count(rt.status);
    if (rt.status !== 200) return null;
    const browser = new Browser(h.url);
    await demoLogin(browser);
    const answer = await decide(browser, rt.form.get('oauth_token') ?? '').catch(() => null);
    if (!answer) return null; // the approval page itself answered 503
    count(answer.status);
    if (answer.status !== 302) return null;
    const verifier = new URL(answer.location ?? '').searchParams.get('oauth_verifier') ?? '';
    const token = { key: rt.form.get('oauth_token') ?? '', secret: rt.form.get('oauth_token_secret') ?? '' };
    const at = await signedPost(h, client, '/plugins/servlet/oauth/access-token', { token, oauth: { oauth_verifier: verifier } });
    count(at.status);
    if (at.status !== 200) return null;
    return { key: at.form.get('oauth_token') ?? '', secret: at.form.get('oauth_token_secret') ?? '', at: Date.now() };
  }

  async function call(g: Grant): Promise<number> {
    const res = await orHang(signedPost(h, client, '/rest/api/2/myself', { token: { key: g.key, secret: g.secret } }), TIMEOUT_MS);
    return res === 'hang' ? -1 : res.status;
  }

  /**
   * Runs dances and signed calls until `stop` resolves; every acknowledged token is kept.
   * Records the first and last 503 (the time without a master, as the clients saw it).
   */
  async function traffic(grants: Grant[], stop: Promise<void>) {
    let done = false;
    void stop.then(() => (done = true));
    const unavailable: number[] = [];
    const worker = async (kind: 'dance' | 'call') => {
      while (!done) {
        if (kind === 'dance') {
          const g = await orHang(dance(), 3 * TIMEOUT_MS);
          if (g === 'hang') assert.fail('a dance hung');
          if (g) grants.push(g);
        } else {
          const g = grants[Math.floor(Math.random() * grants.length)];
          if (!g) {
            await sleep(20);
            continue;
          }
          const status = await call(g);
          callStatuses.set(status, (callStatuses.get(status) ?? 0) + 1);
          if (status === 503) unavailable.push(Date.now());
          assert.ok(status === 200 || status === 503, `a signed call answered ${status} (200 or 503 only; -1 = no answer in ${TIMEOUT_MS} ms)`);
        }
      }
    };
    await Promise.all([worker('dance'), worker('dance'), worker('call'), worker('call')]);
    return unavailable;
  }

  async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<number> {
    const start = Date.now();
    while (!(await check().catch(() => false))) {
      if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
      await sleep(25);
    }
    return Date.now() - start;
  }

  // Sentinel demotes a deposed master after about 10 s; following +switch-master takes milliseconds.
  const FOLLOW_WITHIN_MS = 5000;
  const follow: number[] = [];
  const storeReady = async () => (await fetch(`${running.adminUrl}/readyz/redis`)).status === 200;

  async function failover(t: TestContext, label: string, trigger: (oldPort: number) => Promise<void>, grants: Grant[], danceAfter: boolean) {
    const oldPort = await s.masterPort();
    // Times (ms since epoch) and figures of this run.
    const m = { before: 0, triggeredAt: 0, switchedAt: 0, danceWait: 0, firstDanceAt: 0 };
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    statuses.clear();
    callStatuses.clear();
    // Settled here so that a failure below still stops the traffic and leaves nothing running.
    const trafficDone = traffic(grants, stopped).then((u) => ({ u }), (e: unknown) => ({ e }));
    const issuedBefore = grants.length;
    try {
      await sleep(1000);
      m.before = grants.length;
      m.triggeredAt = Date.now();
      await trigger(oldPort);
      await until('a new master', 20_000, async () => (await s.masterPort()) !== oldPort);
      m.switchedAt = Date.now();
      await until('the gateway to reach the new master', 10_000, storeReady);
      // Followed at once (+switch-master), not only once Sentinel demotes the old master (~10 s):
      // the gateway's connection is on the new master within a few seconds of the switch.
      const newMaster = new Redis({ port: await s.masterPort(), host: '127.0.0.1', maxRetriesPerRequest: 1 }).on('error', () => undefined);
      try {
        follow.push(await until('the gateway on the new master', FOLLOW_WITHIN_MS, async () => ((await newMaster.client('LIST')) as string).includes('name=applink-gateway')));
      } finally {
        newMaster.disconnect();
      }
      if (danceAfter) {
        // A dance completed just after the switch: the first one that a replica confirms (with one
        // replica, none can until the deposed master rejoins as a replica of the new one).
        let justAfter: Grant | null = null;
        m.danceWait = await until('a dance after the switch to complete', 30_000, async () => {
          justAfter = await dance();
          return justAfter !== null;
        });
        m.firstDanceAt = Date.now();
        grants.push(justAfter!);
      }
      await sleep(1000);
    } finally {
      stop();
    }
    const outcome = await trafficDone;
    if ('e' in outcome) throw outcome.e;
    const unavailable = outcome.u;
    const without = unavailable.length > 0 ? (unavailable.at(-1)! - unavailable[0]!) : 0;
    const figures = {
      tokensAcknowledgedDuringRun: grants.length - issuedBefore,
      inTheSecondBeforeTrigger: grants.filter((g) => g.at >= m.triggeredAt - 1000 && g.at < m.triggeredAt).length,
      betweenTriggerAndNewMaster: grants.filter((g) => g.at >= m.triggeredAt && g.at <= m.switchedAt).length,
      beforeTrigger: m.before - issuedBefore,
      signedCalls: Object.fromEntries([...callStatuses].sort()),
      danceSteps: Object.fromEntries([...statuses].sort()),
      signedCallsFirstToLast503Ms: without,
      triggerToNewMasterMs: m.switchedAt - m.triggeredAt,
      switchToFirstDanceMs: danceAfter ? m.firstDanceAt - m.switchedAt : null,
      danceRetryMs: m.danceWait,
      switchToGatewayOnNewMasterMs: follow.at(-1),
    };
    t.diagnostic(`${label}: ${JSON.stringify(figures)}`);
    console.log(`sentinel ${label}: ${JSON.stringify(figures)}`);
    for (const status of statuses.keys()) assert.ok([200, 302, 503].includes(status), `a dance step answered ${status} (never a 500)`);
    for (const status of callStatuses.keys()) assert.ok([200, 503].includes(status), `a signed call answered ${status}`);
    return { oldPort };
  }

  /** Every acknowledged token verifies: a signed call through the gateway answers 200. */
  async function allVerify(grants: Grant[]) {
    const failed: number[] = [];
    for (const g of grants) {
      const status = await call(g);
      if (status !== 200) failed.push(status);
    }
    assert.deepEqual(failed, [], `${failed.length} of ${grants.length} acknowledged tokens no longer verify`);
  }

  /** Waits until the deposed master replicates from the new one (its own late writes gone). */
  async function resynced(oldPort: number) {
    const old = new Redis({ port: oldPort, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    try {
      await until('the deposed master to resync as a replica', 20_000, async () => {
        const info = await old.info('replication');
        return info.includes('role:slave') && info.includes('master_link_status:up');
      });
    } finally {
      old.disconnect();
    }
  }

  it('planned (SENTINEL FAILOVER) then unplanned (master killed): 503 only without a master, no acknowledged token lost', { timeout: 120_000 }, async (t) => {
    const grants: Grant[] = [];
    // Planned: Sentinel promotes the replica; the gateway follows the +switch-master at once.
    const planned = await failover(t, 'planned', async () => {
      await s.sentinel().call('SENTINEL', 'FAILOVER', s.name);
    }, grants, true);
    await resynced(planned.oldPort);
    await allVerify(grants);

    // Unplanned: the master dies (SIGKILL, as a crashed node); no master until Sentinel elects one.
    // The dead node stays down: with one replica left as master, token writes answer 503 from
    // then on (no replica to confirm them), which the traffic sees and accepts.
    await failover(t, 'unplanned', async (oldPort) => {
      process.kill(s.servers.get(oldPort)!.pid, 'SIGKILL');
    }, grants, false);
    await allVerify(grants);
    assert.ok(grants.length >= 6, `${grants.length} tokens acknowledged in all`);
  });
});
