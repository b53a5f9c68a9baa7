// The RSA signing bound: how many RSA-SHA1 signatures (PKCS#1 v1.5) one process computes per
// second the way the gateway computes them (src/oauth1/signature.ts: asynchronous crypto.sign on
// libuv's thread pool when the process may use more than one CPU, in place on one), with the
// same key size, doing nothing else. Run it pinned to the subject's core(s).
// Usage: node rsa-bound.mjs PRIVATE_KEY_PEM_FILE SECONDS   (prints one JSON line)
/* global process, console, Buffer, setTimeout, setImmediate */
import { constants, createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const key = createPrivateKey(readFileSync(process.argv[2], 'utf8'));
const seconds = Number(process.argv[3] ?? 3);
// A base string of the size the gateway signs when re-signing (≈ 300 bytes).
const base = Buffer.from(`GET&http%3A%2F%2Fbench.appb%2Frest%2Fapi%2F2%2Fmyself&expand%3Dgroups%26oauth_consumer_key%3Dapplink-gateway%26oauth_nonce%3D${'a'.repeat(32)}%26oauth_signature_method%3DRSA-SHA1%26oauth_timestamp%3D1700000000%26oauth_token%3D%26oauth_version%3D1.0%26xoauth_requestor_id%3Dalice`);
const IN_FLIGHT = 64;
let done = 0;
let stop = false;
const onThreadPool = availableParallelism() > 1;
const one = () =>
  onThreadPool
    ? new Promise((resolve, reject) =>
        sign('sha1', base, { key, padding: constants.RSA_PKCS1_PADDING }, (err) => (err ? reject(err) : resolve()))
      )
    : // In place; a macrotask between signatures, as between the gateway's requests, lets the timer fire.
      new Promise((resolve) => setImmediate(() => resolve(sign('sha1', base, { key, padding: constants.RSA_PKCS1_PADDING }))));
async function lane() {
  while (!stop) {
    await one();
    done++;
  }
}
// Warm-up, then the timed window.
await Promise.all(Array.from({ length: 8 }, () => one()));
const started = process.hrtime.bigint();
setTimeout(() => (stop = true), seconds * 1000);
await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ signatures: done, seconds: elapsed, perSecond: done / elapsed, threadPool: onThreadPool ? Number(process.env.UV_THREADPOOL_SIZE ?? 4) : 0 }));
