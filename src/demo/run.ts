// `applink-gateway demo`: the gateway (in process, memory store), a sample AppB and a scripted
// AppA, and the Trust flow walked step by step: login-dance entry, sign-in at AppB, token
// issued, approval, redirect with oauth_verifier, exchange, a call AppB runs as the user, a
// 2LOi call, a refused 2LOi call. Exits 0 only when every step did what it should.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { resolveConfig, type RuntimeConfig } from '../config/load.js';
import { createLogger, type Logger } from '../ops/logger.js';
import { startGateway, type RunningGateway } from '../server/serve.js';
import { startSampleAppA, LOGIN_DANCE_ACCESS, LOGIN_DANCE_ENTRY, type SampleAppA } from './appa.js';
import { startSampleAppB, type SampleAppB } from './appb.js';
import { Browser, postForm, type Page } from './browser.js';

export const DEMO_LINK_ID = '5a3c9e1d-0b7f-4e2a-9c6d-demo00000001';
export const DEMO_USERS: Record<string, string> = { alice: 'alice', bob: 'bob', admin: 'admin' };
const WHO_AM_I = '/rest/api/2/myself';

export interface DemoOptions {
  /** Where the narration goes (default: stdout). */
  out?: (line: string) => void;
  /** The gateway's logger (default: silent). */
  log?: Logger;
  /** Keep everything running after the walk-through, until `stop` resolves. */
  serve?: { stop: Promise<unknown> };
  /** The gateway's public port (default: any free one). */
  port?: number;
}

export interface DemoResult {
  ok: boolean;
  /** The step that failed, when one did. */
  failed?: { step: number; title: string; reason: string };
  /** Every credential the walk-through saw (tests check none reaches a log). */
  secrets: string[];
  urls: { appA: string; appB: string; gateway: string; admin: string };
}

class StepFailed extends Error {}

function keyPair(): { privateKey: KeyObject; publicPem: string; privatePem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** The demo's configuration, built in code; keys come from `env:` references, not files. */
function demoConfig(publicBaseUrl: string, listen: string, appB: string, callbackUrl: string, keys: Record<string, string>): RuntimeConfig {
  return resolveConfig(
    {
      server: { listen, publicBaseUrl },
      shutdown: { delaySeconds: 0, graceSeconds: 2 },
      admin: { listen: '127.0.0.1:0' },
      upstream: { url: appB, identity: { mode: 'oauth1', consumerKey: 'applink-gateway', signatureMethod: 'RSA-SHA1', privateKeyFile: 'env:DEMO_GATEWAY_KEY' } },
      store: { redis: null },
      userAuth: { mode: 'upstream-session', sessionCheckPath: '/rest/auth/1/session', usernameField: 'name', loginUrl: '/login.jsp?os_destination={return}', cacheSeconds: 0 },
      links: [
        {
          id: DEMO_LINK_ID,
          name: 'Sample AppA',
          consumerKey: 'demo-appa',
          signatureMethods: ['RSA-SHA1'],
          publicKeyFile: 'env:DEMO_APPA_PUBLIC_KEY',
          callbackUrls: [callbackUrl],
          gatewayInitiated: true,
          impersonation: { enabled: true, denyUsers: ['admin'] },
        },
      ],
    },
    { baseDir: process.cwd(), sourcePath: null, env: keys },
  );
}

const short = (s: string) => (s.length > 12 ? `${s.slice(0, 8)}…` : s);
/** A URL for the narration: path and query, credentials shortened. */
function shown(url: string): string {
  const u = new URL(url, 'http://relative.invalid');
  for (const name of ['oauth_token', 'oauth_verifier', 'state']) {
    const v = u.searchParams.get(name);
    if (v) u.searchParams.set(name, short(v));
  }
  return decodeURIComponent(`${u.pathname}${u.search}`);
}

export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const out = opts.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const log = opts.log ?? createLogger({ level: 'silent' });
  const secrets: string[] = [];
  const appAKeys = keyPair();
  const gatewayKeys = keyPair();
  const env = { DEMO_GATEWAY_KEY: gatewayKeys.privatePem, DEMO_APPA_PUBLIC_KEY: appAKeys.publicPem };

  let appB: SampleAppB | null = null;
  let appA: SampleAppA | null = null;
  let gateway: RunningGateway | null = null;
  const close = async () => {
    await gateway?.shutdown({ delaySeconds: 0, graceSeconds: 2 });
    await appA?.close();
    await appB?.close();
  };

  try {
    const ranAtAppB: Array<{ path: string; user: string | null; via: string }> = [];
    appB = await startSampleAppB({ users: DEMO_USERS, gatewayConsumerKey: 'applink-gateway', gatewayPublicKey: gatewayKeys.privateKey, onRequest: (r) => ranAtAppB.push(r) });
    appA = await startSampleAppA({ linkId: DEMO_LINK_ID, consumerKey: 'demo-appa', privateKey: appAKeys.privateKey, whoAmIPath: WHO_AM_I });
    const listen = `127.0.0.1:${opts.port ?? 0}`;
    // The public URL is known once the port is: start, then swap in the configuration naming it.
    gateway = await startGateway({ cfg: demoConfig('http://127.0.0.1', listen, appB.url, appA.callbackUrl, env), log, defaultMetrics: false });
    gateway.gw.setCfg(demoConfig(gateway.publicUrl, listen, appB.url, appA.callbackUrl, env));
    appB.setBaseUrl(gateway.publicUrl);
    appA.setGatewayUrl(gateway.publicUrl);
    const urls = { appA: appA.url, appB: appB.url, gateway: gateway.publicUrl, admin: gateway.adminUrl };

    out('applink-gateway demo: the Trust flow (gateway-initiated login dance), step by step');
    out(`  Sample AppB  ${appB.url}  users ${Object.keys(DEMO_USERS).map((u) => `${u}/${DEMO_USERS[u]}`).join(', ')}; trusts the gateway's RSA key (2LOi)`);
    out(`  gateway      ${gateway.publicUrl}  admin ${gateway.adminUrl}; in-memory token store`);
    out(`  Sample AppA  ${appA.url}  consumer key demo-appa, link ${DEMO_LINK_ID}`);
    out('');

    let n = 0;
    const step = async <T>(title: string, run: () => Promise<{ value: T; lines: string[] }>): Promise<T> => {
      n++;
      try {
        const { value, lines } = await run();
        out(`${String(n).padStart(2)}. ${title}`);
        for (const l of lines) out(`    ${l}`);
        return value;
      } catch (err) {
        throw Object.assign(new StepFailed((err as Error).message), { step: n, title });
      }
    };
    const expect = (cond: unknown, why: string): void => {
      if (!cond) throw new Error(why);
    };
    const browser = new Browser();
    const gw = gateway.publicUrl;
    const onGateway = (u: string) => u.startsWith(gw);

    const entry = await step('Trust: alice presses "Trust Sample AppB" in AppA; the browser goes to the login-dance entry', async () => {
      const home = await browser.navigate('GET', `${appA!.url}/`);
      expect(home.status === 200 && home.body.includes('href="/trust"'), 'AppA shows a Trust button');
      const trust = await browser.request('GET', `${appA!.url}/trust`);
      await trust.arrayBuffer();
      const location = trust.headers.get('location') ?? '';
      expect(trust.status === 302 && location.startsWith(`${gw}${LOGIN_DANCE_ENTRY}?applicationLinkID=`), `AppA redirects to the gateway's login dance (got ${trust.status} ${location})`);
      return { value: location, lines: [`GET ${shown(location)}`] };
    });

    const approvalPage = await step('Sign-in: alice is not signed in at AppB, so the gateway sends her to AppB\'s sign-in page, and back', async () => {
      const first = await browser.navigate('GET', entry);
      const login = first.hops[0];
      expect(login?.status === 302 && (login.location ?? '').includes('/login.jsp?os_destination='), `the gateway asks for an AppB sign-in (got ${login?.status} ${login?.location})`);
      const form = postForm(first.body, first.url);
      expect(first.status === 200 && form && onGateway(first.url), 'AppB\'s sign-in page, reached through the gateway');
      const fields = new URLSearchParams([...(form?.fields ?? []), ['os_username', 'alice'], ['os_password', DEMO_USERS.alice ?? '']]);
      const page = await browser.navigate('POST', form!.action, fields);
      const back = page.hops[1];
      expect(page.hops[0]?.status === 302 && back && back.url.startsWith(`${gw}${LOGIN_DANCE_ENTRY}`), `AppB signs alice in and sends her back to the dance (hops: ${page.hops.map((h) => `${h.status} ${h.url}`).join(', ')})`);
      return { value: page, lines: [`302 ${shown(login?.location ?? '')}`, `POST /login.jsp as alice → AppB sets its session cookie → 302 ${shown(back!.url)}`] };
    });

    await step('Token issued: the gateway issued a request token for the link and opened the approval page', async () => {
      const issued = approvalPage.hops.find((h) => h.status === 302 && (h.location ?? '').includes('/plugins/servlet/oauth/authorize?'));
      expect(issued, `the login dance redirects to the approval page (hops: ${approvalPage.hops.map((h) => `${h.status} ${shown(h.url)}`).join(', ')})`);
      const token = new URL(issued!.location ?? '', gw).searchParams.get('oauth_token') ?? '';
      expect(token !== '', 'the approval URL carries oauth_token');
      secrets.push(token);
      return { value: token, lines: [`302 ${shown(issued!.location ?? '')}`] };
    });

    const callback = await step('Approval: "Allow Sample AppA to access your account?" — alice presses Allow', async () => {
      const page: Page = approvalPage;
      expect(page.status === 200 && /Allow Sample AppA/.test(page.body) && /alice/.test(page.body), `the approval page names the application and the user (got ${page.status})`);
      const form = postForm(page.body, page.url);
      expect(form, 'the approval page has a form');
      const res = await browser.request('POST', form!.action, new URLSearchParams([...form!.fields, ['approve', 'Allow']]));
      await res.arrayBuffer();
      const location = res.headers.get('location') ?? '';
      expect(res.status === 302 && location.startsWith(appA!.callbackUrl), `the approval redirects to AppA's callback (got ${res.status} ${location})`);
      return { value: location, lines: [`POST ${shown(form!.action)} approve=Allow`] };
    });

    await step("Redirect: the browser returns to AppA's login-dance/access with oauth_token and oauth_verifier", async () => {
      const u = new URL(callback);
      const verifier = u.searchParams.get('oauth_verifier') ?? '';
      expect(u.pathname === LOGIN_DANCE_ACCESS && verifier !== '' && verifier !== 'denied', 'the callback carries an oauth_verifier');
      expect(u.searchParams.get('applicationLinkID') === DEMO_LINK_ID && u.searchParams.get('state') === new URL(entry).searchParams.get('state'), "AppA's applicationLinkID and state come back unchanged");
      secrets.push(verifier);
      return { value: undefined, lines: [`302 ${shown(callback)}`] };
    });

    const connection = await step('Exchange: AppA checks its state and trades the request token for an access token', async () => {
      const page = await browser.navigate('GET', callback);
      const c = appA!.lastConnection();
      expect(page.status === 200 && c?.state === 'connected' && c.access, `AppA is connected (${c?.error ?? page.status})`);
      secrets.push(c!.access!.token, c!.access!.secret);
      const years = Math.round((c!.access!.expiresIn / 31_536_000) * 10) / 10;
      return { value: { page, c: c! }, lines: [`POST /plugins/servlet/oauth/access-token (signed: request token + oauth_verifier) → oauth_token=${short(c!.access!.token)}, valid ${years} years`] };
    });

    await step("Signed call: AppA calls AppB with alice's access token; the gateway re-signs it and AppB runs it as alice", async () => {
      const r = connection.c.call;
      expect(r?.status === 200 && r.json?.name === 'alice', `AppB answered as alice (got ${r?.status} ${r?.text})`);
      expect(connection.page.body.includes('data-user="alice"'), "AppA's page shows the result");
      return { value: undefined, lines: [`GET ${WHO_AM_I} (3LO) → 200 {"name":"alice"}, via ${r!.json!.via}`] };
    });

    await step('2LOi: AppA calls as bob with no token (xoauth_requestor_id=bob); AppB runs it as bob', async () => {
      const r = await appA!.call(WHO_AM_I, { requestor: 'bob' });
      expect(r.status === 200 && r.json?.name === 'bob', `AppB answered as bob (got ${r.status} ${r.problem ?? r.text})`);
      expect(ranAtAppB.at(-1)?.user === 'bob' && ranAtAppB.at(-1)?.via.startsWith('two-legged OAuth'), "AppB verified the gateway's signature for bob");
      return { value: undefined, lines: [`GET ${WHO_AM_I}?xoauth_requestor_id=bob (oauth_token="") → 200 {"name":"bob"}`] };
    });

    await step('Refused: 2LOi as admin, whom the link never impersonates (denyUsers)', async () => {
      const seen = ranAtAppB.length;
      const r = await appA!.call(WHO_AM_I, { requestor: 'admin' });
      expect(r.status === 401 && r.problem === 'permission_denied', `the gateway refuses (got ${r.status} ${r.problem ?? r.text})`);
      expect(ranAtAppB.length === seen, 'the refused request never reached AppB');
      return { value: undefined, lines: [`GET ${WHO_AM_I}?xoauth_requestor_id=admin → 401 oauth_problem=permission_denied, AppB never saw it`] };
    });

    out('');
    out('Demo finished: every step succeeded.');
    if (opts.serve) {
      out('');
      out(`Try it in a browser: open ${appA.url}/ and press "Trust Sample AppB"`);
      out(`(sign in at AppB as ${Object.keys(DEMO_USERS).filter((u) => u !== 'admin').map((u) => `${u} / ${DEMO_USERS[u]}`).join(' or ')}).`);
      out(`Your tokens: ${gateway.publicUrl}/plugins/servlet/oauth/users/access-tokens   Metrics: ${gateway.adminUrl}/metrics`);
      out('Press Ctrl-C to stop.');
      await opts.serve.stop;
    }
    return { ok: true, secrets, urls };
  } catch (err) {
    const failed = err instanceof StepFailed ? (err as StepFailed & { step: number; title: string }) : null;
    out('');
    out(failed ? `✗ step ${failed.step} failed (${failed.title}): ${failed.message}` : `✗ the demo could not start: ${(err as Error).message}`);
    return {
      ok: false,
      failed: { step: failed?.step ?? 0, title: failed?.title ?? 'start', reason: (err as Error).message },
      secrets,
      urls: { appA: appA?.url ?? '', appB: appB?.url ?? '', gateway: gateway?.publicUrl ?? '', admin: gateway?.adminUrl ?? '' },
    };
  } finally {
    await close();
  }
}
