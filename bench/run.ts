// `npm run bench`: the gateway's throughput, latency and costs against a bare http-proxy
// baseline measured in the same run, every part in its own process:
//   upstream (bench/procs/upstream.mjs)      a minimal AppB answering 200
//   baseline (bench/procs/baseline.mjs)      http-proxy + keep-alive agent, nothing else
//   gateway  (node dist/cli.js serve)        the real CLI with a generated configuration,
//                                            production logging (info) to a file
//   redis-server                             its own, on a free port
//   wrk (bench/wrk-cycle.lua)                pre-signed requests, each nonce used once
// pinned with taskset when there are two CPUs or more (subject alone on one CPU).
// Baseline and gateway rounds alternate; medians of the rounds are reported.
// Options: --duration S (10) --rounds N (3) --connections N (50) --only id,id --out FILE
//          --smoke (every scenario briefly, checks the machinery, exits 1 on an invalid run)
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import YAML from 'yaml';
import { signRequest } from '../src/oauth1/index.js';
import { generateKeyringLine } from '../src/store/index.js';
import {
  BENCH_DIR,
  ROOT,
  commandCalls,
  cpuMicros,
  freePort,
  httpOk,
  installCleanup,
  killAll,
  median,
  non2xx,
  parseInfo,
  peakRss,
  placement,
  rate,
  requestLineCounter,
  runWrk,
  sleep,
  start,
  startedGroups,
  waitUntil,
  type Proc,
  type WrkResult,
} from './lib.js';
import { measureStoreCost, type StoreCost } from './store-cost.js';

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    connections: { type: 'string' },
    only: { type: 'string' },
    out: { type: 'string' },
    'store-count': { type: 'string' },
    'redis-cpu': { type: 'string' },
    links: { type: 'string' },
    profile: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`Usage: npm run bench -- [--duration S] [--rounds N] [--connections N] [--only ID,ID] [--out FILE] [--store-count N] [--profile DIR] [--redis-cpu load|subject] [--smoke]
  --redis-cpu    where redis-server runs when pinning: with the load generator and upstream (load, the default) or on the subject's CPU
  --profile DIR  run each gateway under node --cpu-prof, writing DIR/gateway-VARIANT-N.cpuprofile when it stops
Scenario ids: unsigned hmac-header rsa-header 2loi-rsa-oauth1 hmac-oauth1 hmac-jwt links (links-N, --links 1,100,1000)
  workers-2 store-cost rsa-bound; links-N:unsigned, workers-2:hmac-header etc. pick one of a pair.`);
  process.exit(0);
}
const SMOKE = args.smoke;
const DURATION = Number(args.duration ?? (SMOKE ? 1 : 10)); // whole seconds: wrk's unit
const ROUNDS = Number(args.rounds ?? (SMOKE ? 1 : 3));
const CONNECTIONS = Number(args.connections ?? (SMOKE ? 10 : 50));
const STORE_COUNT = Number(args['store-count'] ?? (SMOKE ? 1000 : 100_000));
const REDIS_CPU = args['redis-cpu'] ?? 'load';
if (REDIS_CPU !== 'load' && REDIS_CPU !== 'subject') {
  console.error('bench: --redis-cpu takes load or subject');
  process.exit(2);
}
// Link counts of the scaling scenarios; the smoke run checks the machinery with one (each count is
// another gateway start, and `npm test` runs the smoke).
const LINK_COUNTS = (args.links ?? (SMOKE ? '1' : '1,100,1000')).split(',').map(Number);
if (LINK_COUNTS.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error('bench: --links takes a list of link counts, e.g. 1,100,1000');
  process.exit(2);
}
const PROFILE_DIR = args.profile ? path.resolve(args.profile) : null;
const ONLY = args.only ? new Set(args.only.split(',').map((s) => s.trim())) : null;
const OUT = args.out ?? (SMOKE ? null : path.join(BENCH_DIR, 'RESULTS.md'));
const WARMUP_SECONDS = SMOKE ? 1 : 2;
const PUBLIC_BASE = 'http://gateway.bench';
const PATH = '/rest/api/2/myself?expand=groups';
if (!Number.isInteger(DURATION) || !(DURATION > 0) || !(ROUNDS >= 1) || !(CONNECTIONS >= 1) || !(STORE_COUNT >= 1)) {
  console.error('bench: --duration (whole seconds), --rounds, --connections and --store-count take positive numbers');
  process.exit(2);
}
if (!SMOKE && ROUNDS < 3) console.warn('bench: fewer than 3 rounds: medians of so few rounds are not trustworthy');

// ---------------------------------------------------------------------------------------------
// Scenarios

type Flow = 'unsigned' | '3lo-hmac' | '3lo-rsa' | '2loi-rsa';
type GatewayVariant = 'header' | 'oauth1-rsa' | 'oauth1-hmac' | 'jwt' | `links-${number}` | 'workers-2';

interface Scenario {
  id: string;
  label: string;
  variant: GatewayVariant;
  flow: Flow;
  /** Target ratio to the baseline's req/s (or, for rsaBound, to the RSA signing bound). */
  target: number | null;
  rsaBound?: boolean;
  /** Part of the main table (the rest are the scaling tables). */
  main: boolean;
}

const SCENARIOS: Scenario[] = [
  { id: 'unsigned', label: 'unsigned', variant: 'header', flow: 'unsigned', target: 0.95, main: true },
  { id: 'hmac-header', label: '3LO HMAC-SHA1 → header', variant: 'header', flow: '3lo-hmac', target: 0.8, main: true },
  { id: 'rsa-header', label: '3LO RSA-SHA1 → header', variant: 'header', flow: '3lo-rsa', target: 0.7, main: true },
  { id: '2loi-rsa-oauth1', label: '2LOi RSA-SHA1 → oauth1 RSA-SHA1', variant: 'oauth1-rsa', flow: '2loi-rsa', target: 0.7, rsaBound: true, main: true },
  { id: 'hmac-oauth1', label: '3LO HMAC-SHA1 → oauth1 HMAC-SHA1', variant: 'oauth1-hmac', flow: '3lo-hmac', target: null, main: true },
  { id: 'hmac-jwt', label: '3LO HMAC-SHA1 → jwt', variant: 'jwt', flow: '3lo-hmac', target: null, main: true },
  ...[...LINK_COUNTS.map((n) => `links-${n}` as const), 'workers-2' as const].flatMap((v): Scenario[] => [
    { id: `${v}:unsigned`, label: `${v}: unsigned`, variant: v, flow: 'unsigned', target: null, main: false },
    { id: `${v}:hmac-header`, label: `${v}: 3LO HMAC-SHA1 → header`, variant: v, flow: '3lo-hmac', target: null, main: false },
  ]),
];

const selected = (id: string) => ONLY === null || ONLY.has(id) || ONLY.has(id.split(':')[0] as string) || (id.startsWith('links-') && ONLY.has('links'));
const scenarios = SCENARIOS.filter((s) => selected(s.id));
const wantStoreCost = selected('store-cost');
const wantRsaBound = selected('rsa-bound') || scenarios.some((s) => s.rsaBound);
if (ONLY) {
  const known = new Set([...SCENARIOS.flatMap((s) => [s.id, s.id.split(':')[0] as string]), 'links', 'store-cost', 'rsa-bound']);
  const unknown = [...ONLY].filter((id) => !known.has(id));
  if (unknown.length) {
    console.error(`bench: unknown scenario id(s) ${unknown.join(', ')}; run with --help for the list`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------------------------------------
// Build, keys, configuration

function newestMtime(dir: string): number {
  let newest = 0;
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const st = statSync(path.join(dir, f));
    if (st.isFile()) newest = Math.max(newest, st.mtimeMs);
  }
  return newest;
}

const CLI = path.join(ROOT, 'dist/cli.js');

/** dist/ compiled from the current src/: built when missing or older than any source file. */
function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    /* not built */
  }
  const sources = Math.max(newestMtime(path.join(ROOT, 'src')), statSync(path.join(ROOT, 'tsconfig.build.json')).mtimeMs, statSync(path.join(ROOT, 'package-lock.json')).mtimeMs);
  if (built > sources) return;
  console.log('bench: dist/ is missing or older than src/: npm run build');
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
}

function gatewayCli(): string {
  return CLI;
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'applink-bench-'));
const write = (name: string, content: string) => {
  writeFileSync(path.join(tmp, name), content, { mode: 0o600 });
  return path.join(tmp, name);
};
function rsaKeys(): { privatePem: string; publicPem: string; key: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { privatePem, publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), key: createPrivateKey(privatePem) };
}

const appA = rsaKeys(); // AppA's client key (RSA-SHA1 link)
const gatewayKey = rsaKeys(); // the gateway's own key (oauth1 RSA-SHA1 re-signing; the RSA bound)
const jwtKey = rsaKeys();
const HMAC_SECRET = randomBytes(16).toString('hex');
write('app-a.pub.pem', appA.publicPem);
write('gateway.pem', gatewayKey.privatePem);
write('jwt.pem', jwtKey.privatePem);
write('app-h.secret', `${HMAC_SECRET}\n`);
write('filler.secret', `${randomBytes(16).toString('hex')}\n`);
write('gateway-hmac.secret', `${randomBytes(16).toString('hex')}\n`);
write('header.secret', randomBytes(24).toString('hex'));
write('store.key', `${generateKeyringLine()}\n`);

const RSA_LINK = {
  id: '0f9a3c1e-5b7d-4c1a-9e2f-3a4b5c6d7e8f',
  name: 'AppA',
  consumerKey: 'app-a',
  signatureMethods: ['RSA-SHA1'],
  publicKeyFile: 'app-a.pub.pem',
  callbackUrls: ['http://appa.bench/callback'],
  impersonation: { enabled: true, denyUsers: ['admin'] },
};
const HMAC_LINK = {
  id: 'link-hmac',
  name: 'AppH',
  consumerKey: 'app-h',
  signatureMethods: ['HMAC-SHA1'],
  sharedSecretFile: 'app-h.secret',
  callbackUrls: ['http://apph.bench/callback'],
  impersonation: { enabled: true, denyUsers: ['admin'] },
};
function fillerLinks(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: `filler-${i}`,
    name: `Filler ${i}`,
    consumerKey: `filler-${i}`,
    signatureMethods: ['HMAC-SHA1'],
    sharedSecretFile: 'filler.secret',
    callbackUrls: [`http://filler-${i}.bench/callback`],
  }));
}

function gatewayConfig(variant: GatewayVariant, ports: { public: number; admin: number }, upstreamUrl: string, redisUrl: string): string {
  const identity =
    variant === 'oauth1-rsa'
      ? { mode: 'oauth1', consumerKey: 'applink-gateway', signatureMethod: 'RSA-SHA1', privateKeyFile: 'gateway.pem' }
      : variant === 'oauth1-hmac'
        ? { mode: 'oauth1', consumerKey: 'applink-gateway', signatureMethod: 'HMAC-SHA1', sharedSecretFile: 'gateway-hmac.secret' }
        : variant === 'jwt'
          ? { mode: 'jwt', privateKeyFile: 'jwt.pem' }
          : { mode: 'header', sharedSecretFile: 'header.secret' };
  // The real links come last: a lookup that scans the list pays for every filler link.
  const linkCount = variant.startsWith('links-') ? Number(variant.slice('links-'.length)) : null;
  const links = linkCount !== null ? [...fillerLinks(linkCount - 1), HMAC_LINK] : [RSA_LINK, HMAC_LINK];
  const cfg = {
    server: { listen: `127.0.0.1:${ports.public}`, publicBaseUrl: PUBLIC_BASE, workers: variant === 'workers-2' ? 2 : 1 },
    shutdown: { delaySeconds: 0, graceSeconds: 2 },
    admin: { listen: `127.0.0.1:${ports.admin}` },
    upstream: { url: upstreamUrl, identity },
    store: { redis: { url: redisUrl, keyPrefix: 'bench:' }, encryptionKeyFile: 'store.key' },
    userAuth: { mode: 'trusted-header', header: 'X-Remote-User', trustedSources: ['127.0.0.1/32'] },
    logging: { level: 'info' },
    links,
  };
  return write(`gateway-${variant}.yaml`, YAML.stringify(cfg));
}

// ---------------------------------------------------------------------------------------------
// Pre-signed requests

const CONSUMER = {
  'app-a': { consumerKey: 'app-a', signatureMethod: 'RSA-SHA1' as const, privateKey: appA.key },
  'app-h': { consumerKey: 'app-h', signatureMethod: 'HMAC-SHA1' as const, consumerSecret: HMAC_SECRET },
};
interface TokenPair {
  token: string;
  secret: string;
}
const tokens: { hmac?: TokenPair; rsa?: TokenPair } = {};

function pathOf(flow: Flow): string {
  return flow === '2loi-rsa' ? `${PATH}&xoauth_requestor_id=alice` : PATH;
}

let fileSeq = 0;
/** Writes `n` Authorization headers for `flow`, each with its own nonce; returns the file. */
async function presign(flow: Flow, n: number): Promise<string> {
  const file = path.join(tmp, `requests-${fileSeq++}.txt`);
  if (flow === 'unsigned') {
    writeFileSync(file, '-\n');
    return file;
  }
  const consumer = flow === '3lo-hmac' ? CONSUMER['app-h'] : CONSUMER['app-a'];
  const token = flow === '3lo-hmac' ? tokens.hmac : flow === '3lo-rsa' ? tokens.rsa : { token: '', secret: '' };
  if (!token) throw new Error(`no access token for ${flow}`);
  const lines: string[] = [];
  const url = `${PUBLIC_BASE}${pathOf(flow)}`;
  const BATCH = 512;
  for (let i = 0; i < n; i += BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(BATCH, n - i) }, () =>
        signRequest({ method: 'GET', url, ...consumer, token: token.token, tokenSecret: token.secret, nonce: randomBytes(16).toString('hex') }),
      ),
    );
    for (const s of batch) lines.push(s.authorization);
  }
  if (new Set(lines.map((l) => /oauth_nonce="([^"]+)"/.exec(l)?.[1])).size !== lines.length) throw new Error('pre-signing produced a repeated nonce');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

// ---------------------------------------------------------------------------------------------
// The processes

const place = placement();
installCleanup();
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

interface Gateway {
  variant: GatewayVariant;
  proc: Proc;
  url: string;
  adminUrl: string;
  logFile: string;
  served: () => number;
}

let redis!: Redis;
let redisProc: Proc;
let upstreamUrl = '';
let baseline: { proc: Proc; url: string };

async function startRedis(): Promise<void> {
  const port = await freePort();
  // The slow log is off except in the round-trip counting rounds (see roundTrips).
  redisProc = start('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--slowlog-log-slower-than', '-1'], { cpus: REDIS_CPU === 'subject' ? place.subject : place.load });
  redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // refused while redis-server starts: waitUntil retries
  await waitUntil(redisProc, 'redis-server answers PING', async () => {
    try {
      await redis.connect();
      return (await redis.ping()) === 'PONG';
    } catch {
      redis.disconnect();
      return false;
    }
  });
}

async function startNodeServer(name: string, script: string, cpus: string | null, extra: string[] = []): Promise<{ proc: Proc; url: string }> {
  const port = await freePort();
  const proc = start(name, process.execPath, [path.join(BENCH_DIR, 'procs', script), String(port), ...extra], { cpus });
  const url = `http://127.0.0.1:${port}`;
  await waitUntil(proc, `${name} listening`, () => httpOk(`${url}/`));
  return { proc, url };
}

let gatewayStarts = 0;
async function startGateway(variant: GatewayVariant): Promise<Gateway> {
  const ports = { public: await freePort(), admin: await freePort() };
  const redisUrl = `redis://127.0.0.1:${redis.options.port}`;
  const config = gatewayConfig(variant, ports, upstreamUrl, redisUrl);
  const logFile = path.join(tmp, `gateway-${variant}.log`);
  const cpus = variant === 'workers-2' ? place.all : place.subject;
  const profiling = PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR, '--cpu-prof-name', `gateway-${variant}-${++gatewayStarts}.cpuprofile`] : [];
  const proc = start(`gateway (${variant})`, process.execPath, [...profiling, gatewayCli(), 'serve', '--config', config], {
    cpus,
    logFile,
    // REDIS_URL would override store.redis.url (npm test sets it to the test run's Redis).
    env: { NODE_ENV: 'production', REDIS_URL: redisUrl },
  });
  const adminUrl = `http://127.0.0.1:${ports.admin}`;
  await waitUntil(proc, 'the gateway is ready', async () => (await httpOk(`${adminUrl}/readyz`)) && (await httpOk(`${adminUrl}/readyz/redis`)), 60_000);
  return { variant, proc, url: `http://127.0.0.1:${ports.public}`, adminUrl, logFile, served: requestLineCounter(logFile) };
}

// ---------------------------------------------------------------------------------------------
// The OAuth dance against the running gateway (trusted-header user auth: no browser needed)

async function form(res: Response): Promise<URLSearchParams> {
  const text = await res.text();
  if (res.status !== 200) throw new Error(`dance: ${res.url} answered ${res.status}: ${text}`);
  return new URLSearchParams(text);
}

async function dance(gw: Gateway, who: keyof typeof CONSUMER, callback: string): Promise<TokenPair> {
  const consumer = CONSUMER[who];
  const rtPath = '/plugins/servlet/oauth/request-token';
  const s1 = await signRequest({ method: 'POST', url: PUBLIC_BASE + rtPath, ...consumer, extraOAuth: { oauth_callback: callback } });
  const rt = await form(await fetch(gw.url + rtPath, { method: 'POST', headers: { authorization: s1.authorization } }));
  const token = rt.get('oauth_token') ?? '';
  const tokenSecret = rt.get('oauth_token_secret') ?? '';
  const user = { 'x-remote-user': 'alice' };
  const authPath = `/plugins/servlet/oauth/authorize?oauth_token=${encodeURIComponent(token)}`;
  const page = await fetch(gw.url + authPath, { headers: user, redirect: 'manual' });
  const html = await page.text();
  if (page.status !== 200) throw new Error(`dance: approval page answered ${page.status}: ${html}`);
  const cookie = page.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const input = (name: string) => {
    const tag = new RegExp(`<input[^>]*name="${name}"[^>]*>`).exec(html)?.[0] ?? '';
    return (/value="([^"]*)"/.exec(tag)?.[1] ?? '').replaceAll('&amp;', '&');
  };
  const body = new URLSearchParams({ oauth_token: input('oauth_token'), atl_token: input('atl_token'), approve: 'Allow' });
  const approved = await fetch(`${gw.url}/plugins/servlet/oauth/authorize`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...user, cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: body.toString(),
  });
  const location = approved.headers.get('location') ?? '';
  const verifier = location ? new URL(location).searchParams.get('oauth_verifier') : null;
  if (approved.status !== 302 || !verifier) throw new Error(`dance: approval answered ${approved.status} ${location}: ${await approved.text()}`);
  const atPath = '/plugins/servlet/oauth/access-token';
  const s2 = await signRequest({ method: 'POST', url: PUBLIC_BASE + atPath, ...consumer, token, tokenSecret, extraOAuth: { oauth_verifier: verifier } });
  const at = await form(await fetch(gw.url + atPath, { method: 'POST', headers: { authorization: s2.authorization } }));
  return { token: at.get('oauth_token') ?? '', secret: at.get('oauth_token_secret') ?? '' };
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface Round {
  rps: number;
  requests: number;
  bad: number;
  /** What the non-2xx answers were: HTTP statuses ≥ 400 and socket errors by kind. */
  badDetail: string;
  exhausted: number;
  cpuUsPerReq: number;
  redisPerReq: number;
  /** Commands per request by name, e.g. { evalsha: 1 }. */
  redisByCommand: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
}

interface Outcome {
  scenario: Scenario;
  /** Commands sent to Redis per request (round trips), from the counting round. */
  roundTrips: number;
  peak: { gw: Round[]; base: Round[] };
  half: { rate: number; gw: Round[]; base: Round[] };
  rssMb: number | null;
  invalid: string[];
}

async function redisCalls(): Promise<ReturnType<typeof commandCalls>> {
  return commandCalls(await redis.info('commandstats'));
}

interface Target {
  url: string;
  pid: number;
  /** Requests served since the previous call (the gateway's log); absent for the baseline. */
  served?: () => number;
}

async function round(target: Target, flow: Flow, file: string, opts: { rate: number; cycle: boolean; cpus: string | null; seconds: number }): Promise<Round> {
  target.served?.();
  const cpu0 = cpuMicros(target.pid);
  const calls0 = await redisCalls();
  const r: WrkResult = await runWrk({
    url: target.url,
    method: 'GET',
    path: pathOf(flow),
    host: 'gateway.bench',
    file,
    seconds: opts.seconds,
    connections: CONNECTIONS,
    rate: opts.rate,
    cycle: opts.cycle,
    cpus: opts.cpus,
  });
  // Requests still in flight when wrk stopped finish (or abort) within moments: their CPU and
  // Redis work counts, and so do they, from the gateway's own request log lines.
  if (target.served) await sleep(300);
  const cpu1 = cpuMicros(target.pid);
  const calls1 = await redisCalls();
  const n = Math.max(1, target.served ? target.served() : r.requests);
  return {
    rps: rate(r),
    requests: r.requests,
    bad: non2xx(r),
    badDetail: `status ≥ 400: ${r.status}, connect errors: ${r.connect}, read errors: ${r.read}, write errors: ${r.write}, timeouts: ${r.timeout}`,
    exhausted: r.exhausted,
    cpuUsPerReq: (cpu1 - cpu0) / n,
    redisPerReq: (calls1.total - calls0.total) / n,
    redisByCommand: Object.fromEntries(
      Object.entries(calls1.byCommand)
        .map(([k, v]) => [k, (v - (calls0.byCommand[k] ?? 0)) / n] as const)
        .filter(([, v]) => v > 0),
    ),
    p50Ms: r.p50Us / 1000,
    p99Ms: r.p99Us / 1000,
  };
}

/**
 * Redis round trips per request. INFO commandstats also counts the commands a Lua script runs
 * (one EVALSHA that runs SET and HGETALL counts 3), so round trips are counted apart: a short
 * paced round with the slow log recording every command (threshold 0), counting the entries
 * whose client is a connection (script-internal commands are logged with client "?:0") other
 * than the bench's own. Not timed: the slow log costs Redis a little per command.
 */
const SLOWLOG_MAX = 500_000;
async function roundTrips(target: Target, flow: Flow, ratePerSecond: number): Promise<{ perRequest: number; bad: number; exhausted: number }> {
  const seconds = SMOKE ? 1 : 2;
  const file = await presign(flow, count(ratePerSecond, seconds));
  target.served?.();
  const own = `127.0.0.1:${(redis.stream as { localPort?: number }).localPort}`;
  await redis.config('SET', 'slowlog-max-len', String(SLOWLOG_MAX));
  await redis.slowlog('RESET');
  await redis.config('SET', 'slowlog-log-slower-than', '0');
  let r: WrkResult;
  try {
    r = await runWrk({ url: target.url, method: 'GET', path: pathOf(flow), host: 'gateway.bench', file, seconds, connections: CONNECTIONS, rate: ratePerSecond, cycle: flow === 'unsigned', cpus: place.load });
  } finally {
    await redis.config('SET', 'slowlog-log-slower-than', '-1');
  }
  await sleep(300); // requests in flight at the end finish and are counted below
  const entries = (await redis.slowlog('GET', SLOWLOG_MAX)) as Array<[number, number, number, string[], string, string]>;
  await redis.slowlog('RESET');
  if (entries.length >= SLOWLOG_MAX) throw new Error('the slow log filled up: round trips would be undercounted');
  const sent = entries.filter((e) => e[4] !== '?:0' && e[4] !== own).length;
  return { perRequest: sent / Math.max(1, target.served?.() ?? r.requests), bad: non2xx(r), exhausted: r.exhausted };
}

/** An upper bound for a signed scenario's rate: the same gateway's unsigned rate. */
const unsignedPeak = new Map<GatewayVariant, number>();

async function calibrate(gw: Gateway): Promise<number> {
  const file = await presign('unsigned', 1);
  const r = await round({ url: gw.url, pid: gw.proc.pid, served: gw.served }, 'unsigned', file, { rate: 0, cycle: true, cpus: place.load, seconds: WARMUP_SECONDS });
  if (r.bad > 0) throw new Error(`gateway ${gw.variant}: ${r.bad} non-2xx answers to unsigned requests during the warm-up`);
  unsignedPeak.set(gw.variant, r.rps);
  return r.rps;
}

/** Requests to pre-sign for a round: twice the expected count, plus a floor (load varies). */
function count(ratePerSecond: number, seconds: number): number {
  return Math.ceil(ratePerSecond * seconds * 2) + 1000;
}

async function measure(s: Scenario, gw: Gateway): Promise<Outcome> {
  const gwTarget: Target = { url: gw.url, pid: gw.proc.pid, served: gw.served };
  const baseTarget = { url: baseline.url, pid: baseline.proc.pid };
  const invalid: string[] = [];
  const check = (what: string, r: Round) => {
    if (r.bad > 0) invalid.push(`${what}: ${r.bad} non-2xx answers (${r.badDetail})`);
    if (r.exhausted > 0) invalid.push(`${what}: ran out of pre-signed requests (${r.exhausted} resent)`);
  };
  // The baseline sends the same bytes (a few thousand lines, reused: it checks no nonce).
  const baseFile = await presign(s.flow, s.flow === 'unsigned' ? 1 : 2000);
  let expected = unsignedPeak.get(gw.variant) ?? 10_000;
  // Warm-up of this scenario's code path (JIT), not counted (the smoke run skips it).
  if (!SMOKE) await round(gwTarget, s.flow, await presign(s.flow, count(expected, WARMUP_SECONDS)), { rate: 0, cycle: s.flow === 'unsigned', cpus: place.load, seconds: WARMUP_SECONDS });
  const peak = { gw: [] as Round[], base: [] as Round[] };
  for (let i = 0; i < ROUNDS; i++) {
    const b = await round(baseTarget, s.flow, baseFile, { rate: 0, cycle: true, cpus: place.load, seconds: DURATION });
    check(`baseline round ${i + 1}`, b);
    peak.base.push(b);
    const file = await presign(s.flow, count(expected, DURATION));
    const g = await round(gwTarget, s.flow, file, { rate: 0, cycle: s.flow === 'unsigned', cpus: place.load, seconds: DURATION });
    check(`gateway round ${i + 1}`, g);
    peak.gw.push(g);
    if (s.flow !== 'unsigned') expected = Math.max(...peak.gw.map((r) => r.rps)) * 1.5;
  }
  const halfRate = Math.max(1, Math.round(median(peak.gw.map((r) => r.rps)) / 2));
  const half = { rate: halfRate, gw: [] as Round[], base: [] as Round[] };
  for (let i = 0; i < ROUNDS; i++) {
    const b = await round(baseTarget, s.flow, baseFile, { rate: halfRate, cycle: true, cpus: place.load, seconds: DURATION });
    check(`baseline at ${halfRate}/s, round ${i + 1}`, b);
    half.base.push(b);
    const file = await presign(s.flow, count(halfRate, DURATION));
    const g = await round(gwTarget, s.flow, file, { rate: halfRate, cycle: s.flow === 'unsigned', cpus: place.load, seconds: DURATION });
    check(`gateway at ${halfRate}/s, round ${i + 1}`, g);
    half.gw.push(g);
  }
  const trips = await roundTrips(gwTarget, s.flow, halfRate);
  if (trips.bad > 0) invalid.push(`round-trip counting round: ${trips.bad} non-2xx answers`);
  if (trips.exhausted > 0) invalid.push(`round-trip counting round: ran out of pre-signed requests`);
  return { scenario: s, roundTrips: trips.perRequest, peak, half, rssMb: null, invalid };
}

// ---------------------------------------------------------------------------------------------
// Reporting

const f0 = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '—');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '—');

function row(o: Outcome, rsaBound: number | null) {
  const gw = median(o.peak.gw.map((r) => r.rps));
  const base = median(o.peak.base.map((r) => r.rps));
  const ratio = gw / base;
  const bad = [...o.peak.gw, ...o.peak.base, ...o.half.gw, ...o.half.base].reduce((a, r) => a + r.bad, 0);
  const p50 = median(o.half.gw.map((r) => r.p50Ms));
  const p99 = median(o.half.gw.map((r) => r.p99Ms));
  const bp99 = median(o.half.base.map((r) => r.p99Ms));
  const cpu = median(o.peak.gw.map((r) => r.cpuUsPerReq));
  const bcpu = median(o.peak.base.map((r) => r.cpuUsPerReq));
  const cmds = median(o.peak.gw.map((r) => r.redisPerReq));
  const last = o.peak.gw[o.peak.gw.length - 1];
  const cmdsDetail = last ? Object.entries(last.redisByCommand).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ') : '';
  const boundRatio = o.scenario.rsaBound && rsaBound ? gw / rsaBound : NaN;
  const targets: string[] = [];
  const verdicts: boolean[] = [];
  if (o.scenario.target !== null) {
    if (o.scenario.rsaBound) {
      targets.push(`≥ ${o.scenario.target.toFixed(2)} of RSA bound`);
      verdicts.push(boundRatio >= o.scenario.target);
    } else {
      targets.push(`≥ ${o.scenario.target.toFixed(2)}`);
      verdicts.push(ratio >= o.scenario.target);
    }
  }
  const wantCmds = o.scenario.flow === 'unsigned' ? 0 : 1;
  verdicts.push(Math.abs(o.roundTrips - wantCmds) < 0.02);
  verdicts.push(p99 - bp99 <= 2);
  if (o.rssMb !== null) verdicts.push(o.rssMb <= 150);
  return {
    label: o.scenario.label,
    gw,
    base,
    ratio,
    boundRatio,
    target: targets.join(' '),
    halfRate: o.half.rate,
    p50,
    p99,
    bp99,
    addedP99: p99 - bp99,
    cpu,
    bcpu,
    cmds,
    trips: o.roundTrips,
    cmdsDetail,
    wantCmds,
    rss: o.rssMb,
    bad,
    valid: o.invalid.length === 0,
    met: verdicts.every(Boolean),
  };
}

function table(outcomes: Outcome[], rsaBound: number | null): string {
  const head =
    '| scenario | gateway req/s | baseline req/s | ratio (target) | at ½ peak: req/s | p50 / p99 ms | baseline p99 ms | added p99 ms (≤ 2) | CPU µs/req (baseline) | Redis round trips/req (target) | Redis commands run/req | peak RSS MB (≤ 150) | non-2xx | targets |\n' +
    '|---|---:|---:|---|---:|---|---:|---:|---|---|---|---:|---:|---|';
  const lines = outcomes.map((o) => {
    const r = row(o, rsaBound);
    const ratioCell = o.scenario.rsaBound ? `${f2(r.ratio)}; ${f2(r.boundRatio)} of RSA bound (≥ 0.70)` : `${f2(r.ratio)}${o.scenario.target !== null ? ` (≥ ${o.scenario.target.toFixed(2)})` : ''}`;
    const verdict = !r.valid ? '**INVALID**' : r.met ? 'met' : '**missed**';
    return `| ${r.label} | ${r.valid ? f0(r.gw) : 'INVALID'} | ${f0(r.base)} | ${ratioCell} | ${f0(r.halfRate)} | ${f2(r.p50)} / ${f2(r.p99)} | ${f2(r.bp99)} | ${f2(r.addedP99)} | ${f0(r.cpu)} (${f0(r.bcpu)}) | ${f2(r.trips)} (${r.wantCmds}) | ${f2(r.cmds)}${r.cmdsDetail ? `: ${r.cmdsDetail}` : ''} | ${r.rss === null ? '—' : f0(r.rss)} | ${r.bad} | ${verdict} |`;
  });
  return [head, ...lines].join('\n');
}

// Read when the run starts: the code measured is the code of that moment.
const COMMIT = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
const DIRTY = spawnSync('git', ['status', '--porcelain', '--', 'src', 'bench'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() ? ' (with uncommitted changes in src/ or bench/)' : '';

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  return [
    `* machine: ${cpu}, ${os.cpus().length} CPUs; ${place.note}${REDIS_CPU === 'subject' && place.subject !== null ? ` (--redis-cpu subject: Redis on CPU ${place.subject}, beside the subject)` : ''}`,
    `* node ${process.version}, ${os.type()} ${os.release()}; redis-server ${spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout.match(/v=(\S+)/)?.[1] ?? '?'}; wrk ${spawnSync('wrk', ['-v'], { encoding: 'utf8' }).stdout.match(/wrk (\S+)/)?.[1] ?? '?'}`,
    `* date ${new Date().toISOString()}, git commit ${COMMIT}${DIRTY} at the start; load average at the end ${load}`,
    `* ${ROUNDS} round(s) of ${DURATION} s per figure (medians), ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up per scenario`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const started = Date.now();
  console.log(`applink-gateway bench${SMOKE ? ' (smoke)' : ''}: ${place.note}${REDIS_CPU === 'subject' && place.subject !== null ? '; Redis on the subject CPU (--redis-cpu subject)' : ''}`);
  ensureBuilt();
  await startRedis();
  const up = await startNodeServer('upstream', 'upstream.mjs', place.load);
  upstreamUrl = up.url;
  baseline = await startNodeServer('baseline', 'baseline.mjs', place.subject, [upstreamUrl]);

  let rsaBound: number | null = null;
  if (wantRsaBound) {
    const keyFile = path.join(tmp, 'gateway.pem');
    const p = start('rsa-bound', process.execPath, [path.join(BENCH_DIR, 'procs/rsa-bound.mjs'), keyFile, String(Math.max(1, DURATION))], { cpus: place.subject });
    let out = '';
    p.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const code = await p.exited;
    await p.stop();
    if (code !== 0) throw new Error(`rsa-bound failed: ${p.tail()}`);
    rsaBound = (JSON.parse(out) as { perSecond: number }).perSecond;
    console.log(`RSA-SHA1 signing bound (2048-bit, crypto.sign as the gateway calls it, one process on the subject's CPU): ${f0(rsaBound)} signatures/s`);
  }

  const outcomes: Outcome[] = [];
  const variants = [...new Set(scenarios.map((s) => s.variant))];
  const needTokens = scenarios.some((s) => s.flow === '3lo-hmac' || s.flow === '3lo-rsa');
  // The dance runs once, against the header-mode gateway; the tokens live in Redis for the others.
  if (needTokens) {
    const gw = await startGateway('header');
    try {
      tokens.hmac = await dance(gw, 'app-h', 'http://apph.bench/callback');
      tokens.rsa = await dance(gw, 'app-a', 'http://appa.bench/callback');
      console.log('access tokens obtained through the OAuth dance (request-token, approval, access-token)');
    } finally {
      await gw.proc.stop();
    }
  }

  for (const variant of variants) {
    const gw = await startGateway(variant);
    try {
      const peak = await calibrate(gw);
      console.log(`gateway ${variant} (pid ${gw.proc.pid}): warm-up ${f0(peak)} unsigned req/s`);
      for (const s of scenarios.filter((x) => x.variant === variant)) {
        const o = await measure(s, gw);
        outcomes.push(o);
        const r = row(o, rsaBound);
        console.log(
          `  ${s.label}: ${f0(r.gw)} req/s vs baseline ${f0(r.base)} (×${f2(r.ratio)}), p99 at ${f0(r.halfRate)}/s ${f2(r.p99)} ms (baseline ${f2(r.bp99)}), ${f0(r.cpu)} µs CPU/req, ${f2(r.trips)} Redis round trips/req, ${f2(r.cmds)} commands run/req${r.cmdsDetail ? ` (${r.cmdsDetail})` : ''}, non-2xx ${r.bad}${o.invalid.length ? `  INVALID: ${o.invalid.join('; ')}` : ''}`,
        );
      }
      const rss = Math.max(...peakRss(gw.proc.pid)) / 1024 / 1024;
      for (const o of outcomes.filter((x) => x.scenario.variant === variant)) o.rssMb = rss;
    } finally {
      await gw.proc.stop();
    }
    // The gateway's log must show it served with production logging on.
    const logged = readFileSync(gw.logFile, 'utf8').split('\n').filter((l) => l.includes('"msg":"request"')).length;
    if (logged === 0) throw new Error(`gateway ${variant}: no request lines in its log (${gw.logFile}): was logging on?`);
  }

  let storeCost: StoreCost | null = null;
  if (wantStoreCost) {
    // Alone on the Redis: no gateway runs now, so used_memory moves only with what is written.
    await redis.flushall();
    storeCost = await measureStoreCost(`redis://127.0.0.1:${redis.options.port}`, readFileSync(path.join(tmp, 'store.key'), 'utf8'), STORE_COUNT, () => redis.info('memory').then((t) => Number(parseInfo(t).get('used_memory'))), () => redis.dbsize());
    console.log(`Redis memory: ${f0(storeCost.bytesPerAccessToken)} B per live access token, ${f0(storeCost.bytesPerNonce)} B per remembered nonce (${storeCost.count} of each)`);
  }

  // ------ Report
  const main = outcomes.filter((o) => o.scenario.main);
  const scaling = outcomes.filter((o) => !o.scenario.main);
  const invalid = outcomes.filter((o) => o.invalid.length > 0);
  const sections: string[] = [];
  sections.push(machine());
  if (main.length) sections.push(`### Scenarios (baseline = bare http-proxy, same run)\n\n${table(main, rsaBound)}`);
  if (rsaBound !== null) sections.push(`RSA-SHA1 signing bound: **${f0(rsaBound)} signatures/s** (2048-bit key, crypto.sign as the gateway calls it: on the thread pool with more than one CPU, in place on one; one process alone on the subject's CPU). Target for 2LOi → oauth1 RSA re-signing: ≥ 0.70 of it.`);
  if (scaling.length) {
    sections.push(
      `### Links configured, and server.workers: 2\n\n${table(scaling, rsaBound)}\n\nlinks-N: the gateway with N links (the signing link last). workers-2: \`server.workers: 2\`, pinned to both CPUs — on two CPUs the load generator, upstream and Redis share them with the workers, so this figure understates what two workers give on a bigger machine. Compare with the header-mode rows above (one worker, one CPU). Peak RSS for workers-2 is the largest process (primary or worker).`,
    );
  }
  if (storeCost) {
    sections.push(
      `### Redis memory\n\n| what | bytes each | measured with |\n|---|---:|---|\n| live access token (everything the dance leaves in Redis: token records and the user and link index entries) | ${f0(storeCost.bytesPerAccessToken)} | ${storeCost.count} tokens, ${storeCost.keysPerToken.toFixed(1)} keys each |\n| remembered nonce (3LO, kept 2 × timestampSkewSeconds) | ${f0(storeCost.bytesPerNonce)} | ${storeCost.count} nonces |\n\nFrom INFO memory \`used_memory\` deltas on the bench's own redis-server, nothing else connected.`,
    );
  }
  if (invalid.length) sections.push(`### INVALID runs\n\n${invalid.map((o) => `* ${o.scenario.label}: ${o.invalid.join('; ')}`).join('\n')}`);
  sections.push(
    `Columns: req/s = median of the rounds at full speed (wrk, ${CONNECTIONS} connections); ratio = gateway ÷ baseline of the same run; at ½ peak = a second, paced run at half the gateway's median peak, the baseline paced at that same rate; p50/p99 measured by wrk from the moment each request is written; added p99 = gateway p99 − baseline p99 at that rate; CPU µs/req = user+system CPU of the subject's processes (/proc stat) over a full-speed round ÷ requests (for the gateway: the requests its log shows it answered, those in flight when wrk stopped included); Redis round trips/req = commands sent to Redis by clients per request (a short paced counting round with the slow log recording every command, script-internal commands excluded); Redis commands run/req = INFO commandstats calls over a full-speed round ÷ requests, which also counts what a Lua script runs (INFO itself excluded); peak RSS = VmHWM of the gateway at the end of its scenarios; non-2xx = HTTP status ≥ 400 plus socket errors over every round — any makes the scenario INVALID.`,
  );
  const report = sections.join('\n\n');
  console.log(`\n${report}\n`);
  if (OUT) {
    writeFileSync(OUT, `# Benchmark results\n\nWritten by \`npm run bench\` (see README, Performance).\n\n${report}\n`);
    console.log(`written to ${path.relative(process.cwd(), OUT)}`);
  }
  console.log(`bench took ${((Date.now() - started) / 1000).toFixed(0)} s`);

  if (SMOKE) {
    const problems: string[] = invalid.map((o) => `${o.scenario.label}: ${o.invalid.join('; ')}`);
    for (const o of outcomes) {
      const cmds = median(o.peak.gw.map((r) => r.redisPerReq));
      if (!Number.isFinite(cmds)) problems.push(`${o.scenario.label}: Redis commands per request not measured`);
      if (o.scenario.flow !== 'unsigned' && !(cmds > 0 && o.roundTrips > 0)) problems.push(`${o.scenario.label}: signed requests but no Redis command or round trip counted`);
      if (!Number.isFinite(o.roundTrips)) problems.push(`${o.scenario.label}: Redis round trips not measured`);
      if (!(median(o.peak.gw.map((r) => r.requests)) > 0)) problems.push(`${o.scenario.label}: no request completed`);
      if (!(o.rssMb !== null && o.rssMb > 0)) problems.push(`${o.scenario.label}: peak RSS not measured`);
    }
    if (storeCost && !(storeCost.bytesPerAccessToken > 0 && storeCost.bytesPerNonce > 0)) problems.push('store cost not measured');
    if (problems.length) {
      console.error(`bench smoke FAILED:\n${problems.map((p) => `  ${p}`).join('\n')}`);
      return 1;
    }
    console.log(`bench smoke ok: ${outcomes.length} scenarios, every answer 2xx, Redis commands counted`);
  }
  return invalid.length > 0 ? 1 : 0;
}

let code: number;
try {
  code = await main();
} catch (err) {
  console.error('bench failed:', err instanceof Error ? err.message : err);
  code = 1;
} finally {
  (redis as Redis | undefined)?.disconnect();
  killAll();
  console.log(`bench: process groups started (all killed): ${startedGroups.join(' ')}`);
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(code);
