// `npm run bench`: latency of the gateway against a baseline measured in the same run.
// Everything in this process on loopback: a minimal AppB, two gateways (oauth1 HMAC-SHA1 and
// oauth1 RSA-SHA1 identity), and a bounded request loop per case:
//   (a) direct to AppB (baseline)   (b) unsigned through the gateway
//   (c) 3LO HMAC-SHA1 through the gateway in oauth1 HMAC mode
//   (d) 3LO RSA-SHA1 through the gateway in oauth1 RSA mode
// Token store: Redis when REDIS_URL is set, else the memory store. Requests are signed before
// the clock starts, so AppA's own signing cost is not counted.
// Options: BENCH_REQUESTS (default 2000), BENCH_CONCURRENCY (default 20).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPrivateKey } from 'node:crypto';
import { signRequest } from '../src/oauth1/index.js';
import { startGateway, type RunningGateway } from '../src/serve.js';
import { createLogger } from '../src/ops/logger.js';
import { LINK_ID, deepMerge, rsaPair, runtimeConfig, tempDir, testConfigObject } from '../test/helpers/fixtures.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const WARMUP = Math.min(200, REQUESTS);
const PUBLIC_BASE = 'http://gateway.bench';
const PATH = '/rest/api/2/myself?expand=groups';

/** A minimal AppB: drains the body, answers a small JSON (no verification: only the gateway is measured). */
async function startAppB(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ name: 'alice', path: req.url });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function startBenchGateway(t: ReturnType<typeof tempDir>, appbUrl: string, method: 'RSA-SHA1' | 'HMAC-SHA1'): Promise<RunningGateway> {
  t.write('gateway-hmac.secret', 'bench-gateway-secret\n');
  const base = testConfigObject(t, { redisUrl: process.env.REDIS_URL || undefined, upstreamUrl: appbUrl, publicBaseUrl: PUBLIC_BASE });
  const obj = deepMerge(base, { logging: { level: 'silent' } });
  (obj.upstream as Record<string, unknown>).identity =
    method === 'RSA-SHA1'
      ? { mode: 'oauth1', consumerKey: 'applink-gateway', signatureMethod: 'RSA-SHA1', privateKeyFile: 'gateway.pem' }
      : { mode: 'oauth1', consumerKey: 'applink-gateway', signatureMethod: 'HMAC-SHA1', sharedSecretFile: 'gateway-hmac.secret' };
  const cfg = runtimeConfig(t, obj, { REDIS_URL: process.env.REDIS_URL ?? '' });
  return startGateway({ cfg, log: createLogger({ level: 'silent' }), defaultMetrics: false });
}

async function accessToken(gw: RunningGateway, consumerKey: string, linkId: string): Promise<{ token: string; secret: string }> {
  const store = gw.gw.store;
  const rt = await store.createRequestToken({ linkId, consumerKey, callback: 'oob', version: '1.0a', ttlSeconds: 600 });
  const approved = await store.approveRequestToken(rt.token, 'alice');
  if (!approved.ok) throw new Error(`approve: ${approved.reason}`);
  const ex = await store.exchangeRequestToken(rt.token, { consumerKey, verifier: approved.token.verifier, accessTtlSeconds: 3600 });
  if (!ex.ok) throw new Error(`exchange: ${ex.reason}`);
  return ex.access;
}

interface Case {
  name: string;
  url: string;
  /** One Authorization header per request (a fresh nonce each), or none. */
  authorizations?: string[];
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function request(base: string, authorization: string | undefined): Promise<number> {
  const u = new URL(base);
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: PATH, agent, headers: authorization ? { authorization } : {} }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${base}: status ${res.statusCode}`));
        else resolve(Number(process.hrtime.bigint() - started) / 1e6);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function run(c: Case, count: number, offset: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      latencies.push(await request(c.url, c.authorizations?.[offset + i]));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return latencies;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function signAll(n: number, link: 'rsa' | 'hmac', token: { token: string; secret: string }): Promise<string[]> {
  const privateKey = createPrivateKey(rsaPair(0).privatePem);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const signed = await signRequest({
      method: 'GET',
      url: `${PUBLIC_BASE}${PATH}`,
      consumerKey: link === 'rsa' ? 'app-a' : 'app-h',
      signatureMethod: link === 'rsa' ? 'RSA-SHA1' : 'HMAC-SHA1',
      ...(link === 'rsa' ? { privateKey } : { consumerSecret: 'hmac-secret-of-app-h' }),
      token: token.token,
      tokenSecret: token.secret,
    });
    out.push(signed.authorization);
  }
  return out;
}

async function main(): Promise<void> {
  const appb = await startAppB();
  const t = tempDir('applink-bench-');
  const hmacGw = await startBenchGateway(t, appb.url, 'HMAC-SHA1');
  const rsaGw = await startBenchGateway(t, appb.url, 'RSA-SHA1');
  try {
    const total = WARMUP + REQUESTS;
    const cases: Case[] = [
      { name: '(a) direct to AppB (baseline)', url: appb.url },
      { name: '(b) unsigned through the gateway', url: hmacGw.publicUrl },
      { name: '(c) 3LO HMAC-SHA1, oauth1 HMAC mode', url: hmacGw.publicUrl, authorizations: await signAll(total, 'hmac', await accessToken(hmacGw, 'app-h', 'link-hmac')) },
      { name: '(d) 3LO RSA-SHA1, oauth1 RSA mode', url: rsaGw.publicUrl, authorizations: await signAll(total, 'rsa', await accessToken(rsaGw, 'app-a', LINK_ID)) },
    ];
    console.log(`applink-gateway bench: ${REQUESTS} requests per case (after ${WARMUP} warm-up), concurrency ${CONCURRENCY}, store ${process.env.REDIS_URL ? 'redis' : 'memory'}, node ${process.version}`);
    const results: Array<{ name: string; p50: number; p99: number }> = [];
    for (const c of cases) {
      await run(c, WARMUP, 0);
      const sorted = (await run(c, REQUESTS, WARMUP)).sort((x, y) => x - y);
      results.push({ name: c.name, p50: percentile(sorted, 50), p99: percentile(sorted, 99) });
    }
    const base = results[0] as { p50: number; p99: number };
    const pad = Math.max(...results.map((r) => r.name.length));
    console.log(`${'case'.padEnd(pad)}   p50 ms   p99 ms   p50 ×base   p99 ×base`);
    for (const r of results) {
      console.log(`${r.name.padEnd(pad)}  ${r.p50.toFixed(3).padStart(7)}  ${r.p99.toFixed(3).padStart(7)}  ${(r.p50 / base.p50).toFixed(2).padStart(9)}  ${(r.p99 / base.p99).toFixed(2).padStart(10)}`);
    }
  } finally {
    agent.destroy();
    await hmacGw.close();
    await rsaGw.close();
    await appb.close();
    t.cleanup();
  }
}

await main();
