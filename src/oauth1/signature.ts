// Signature methods of RFC 5849 §3.4.2–3.4.4, key loading, and constant-time comparison.
import {
  X509Certificate,
  constants,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign,
  timingSafeEqual,
  verify,
  type KeyObject,
  type SignKeyObjectInput,
} from 'node:crypto';
import { availableParallelism } from 'node:os';
import { percentEncode } from './encode.js';

export type SignatureMethod = 'HMAC-SHA1' | 'RSA-SHA1' | 'PLAINTEXT';

const SIGNATURE_METHODS: readonly string[] = ['HMAC-SHA1', 'RSA-SHA1', 'PLAINTEXT'] satisfies SignatureMethod[];

/** Case-sensitive, as RFC 5849 names them: 'hmac-sha1' is not a signature method. */
export function isSignatureMethod(s: string): s is SignatureMethod {
  return SIGNATURE_METHODS.includes(s);
}

/** §3.4.2: encoded consumer secret '&' encoded token secret ('&' kept when the token secret is empty). */
export function signingKey(consumerSecret: string, tokenSecret: string): string {
  return `${percentEncode(consumerSecret)}&${percentEncode(tokenSecret)}`;
}

export function hmacSha1(baseString: string, consumerSecret: string, tokenSecret: string): string {
  return createHmac('sha1', signingKey(consumerSecret, tokenSecret)).update(baseString).digest('base64');
}

/** §3.4.4: the signing key itself; it is percent-encoded once more when put in a header or form. */
export function plaintextSignature(consumerSecret: string, tokenSecret: string): string {
  return signingKey(consumerSecret, tokenSecret);
}

/** oauth_body_hash extension: base64(SHA-1(raw body bytes)). */
export function bodyHash(raw: Buffer | string): string {
  return createHash('sha1').update(raw).digest('base64');
}

function pemLabel(pem: string): string | undefined {
  return /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
}

function requireRsa(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`${what} is a ${key.asymmetricKeyType ?? 'non-asymmetric'} key, RSA-SHA1 needs an RSA key`);
  return key;
}

/** RSA public key from PEM: PUBLIC KEY (SPKI), RSA PUBLIC KEY (PKCS#1) or CERTIFICATE. */
export function loadRsaPublicKey(pem: string): KeyObject {
  const label = pemLabel(pem);
  switch (label) {
    case 'PUBLIC KEY':
      return requireRsa(createPublicKey({ key: pem, format: 'pem', type: 'spki' }), 'public key');
    case 'RSA PUBLIC KEY':
      return requireRsa(createPublicKey({ key: pem, format: 'pem', type: 'pkcs1' }), 'public key');
    case 'CERTIFICATE':
      return requireRsa(new X509Certificate(pem).publicKey, 'certificate key');
    default:
      // Refuse private keys here too: createPublicKey would silently derive the public half.
      throw new Error(
        `unsupported public key: expected PEM "PUBLIC KEY", "RSA PUBLIC KEY" or "CERTIFICATE", found ${label === undefined ? 'no PEM block' : `"${label}"`} ` +
          '(a bare base64 key, as Atlassian shows it, must be wrapped in -----BEGIN PUBLIC KEY----- / -----END PUBLIC KEY----- lines)',
      );
  }
}

/** RSA private key from PEM: RSA PRIVATE KEY (PKCS#1) or PRIVATE KEY (PKCS#8), unencrypted. */
export function loadRsaPrivateKey(pem: string): KeyObject {
  const label = pemLabel(pem);
  switch (label) {
    case 'RSA PRIVATE KEY':
      return requireRsa(createPrivateKey({ key: pem, format: 'pem', type: 'pkcs1' }), 'private key');
    case 'PRIVATE KEY':
      return requireRsa(createPrivateKey({ key: pem, format: 'pem', type: 'pkcs8' }), 'private key');
    default:
      throw new Error(
        `unsupported private key: expected unencrypted PEM "RSA PRIVATE KEY" or "PRIVATE KEY", found ${label === undefined ? 'no PEM block' : `"${label}"`}`,
      );
  }
}

/** §3.4.3: RSASSA-PKCS1-v1_5 over SHA-1, base64. Synchronous: blocks the event loop for ~1 ms. */
export function rsaSha1Sign(baseString: string, key: KeyObject): string {
  return sign('sha1', Buffer.from(baseString), { key, padding: constants.RSA_PKCS1_PADDING }).toString('base64');
}

/**
 * Whether private-key signatures run on libuv's thread pool. Only when the process may use more
 * than one CPU: on one (a pinned sidecar, a cpuset), the pool adds a hand-off and a context
 * switch per signature and no parallelism, so the signature is computed in place (README
 * "Performance": 2LOi → oauth1 RSA re-signing).
 */
export const SIGN_ON_THREAD_POOL = availableParallelism() > 1;

/**
 * crypto.sign(algorithm, data, key) on the thread pool (its callback form) when SIGN_ON_THREAD_POOL,
 * else in place: the one rule for every private-key signature of the gateway (RSA-SHA1 re-signing, jwt).
 */
export function signOffLoop(algorithm: string | null, data: Buffer, key: KeyObject | SignKeyObjectInput): Promise<Buffer> | Buffer {
  if (!SIGN_ON_THREAD_POOL) return sign(algorithm, data, key);
  return new Promise((resolve, reject) => {
    sign(algorithm, data, key, (err, signature) => (err ? reject(err) : resolve(signature)));
  });
}

/** Same as rsaSha1Sign, by signOffLoop. */
export function rsaSha1SignAsync(baseString: string, key: KeyObject): Promise<string> | string {
  const signature = signOffLoop('sha1', Buffer.from(baseString), { key, padding: constants.RSA_PKCS1_PADDING });
  return signature instanceof Promise ? signature.then((b) => b.toString('base64')) : signature.toString('base64');
}

// Canonical, padded base64 only: Buffer.from(s, 'base64') would silently skip garbage.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True when any of the keys (e.g. old and new during rotation) verifies; never throws. */
export function rsaSha1Verify(baseString: string, signatureB64: string, keys: KeyObject[]): boolean {
  if (signatureB64 === '' || !BASE64.test(signatureB64)) return false;
  const signature = Buffer.from(signatureB64, 'base64');
  // The last character before '=' / '==' carries bits the decoder drops: 'AQ==' and 'AR==' are one
  // signature. Only the canonical spelling verifies, so no changed signature ever passes.
  if (signature.toString('base64') !== signatureB64) return false;
  const data = Buffer.from(baseString);
  return keys.some((key) => {
    try {
      return verify('sha1', data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
    } catch {
      return false;
    }
  });
}

// Per-process key: comparing MACs of both sides hides where and whether the lengths differ.
const COMPARE_KEY = randomBytes(32);

/**
 * Equality of a signature computed here (fixed length: HMAC-SHA1 in base64 is 28 characters) with
 * the one received, in constant time over their bytes. Only the received value's length, which
 * its sender knows, can end the comparison early.
 */
export function signatureEquals(computed: string, received: string): boolean {
  const a = Buffer.from(computed);
  const b = Buffer.from(received);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Constant-time string equality (secrets of unknown length: PLAINTEXT signatures, verifiers, CSRF tokens). */
export function safeEqual(a: string, b: string): boolean {
  const da = createHmac('sha256', COMPARE_KEY).update(a).digest();
  const db = createHmac('sha256', COMPARE_KEY).update(b).digest();
  return timingSafeEqual(da, db);
}

export interface VerifyInput {
  method: SignatureMethod;
  baseString: string;
  /** Decoded oauth_signature. */
  signature: string;
  consumerSecret?: string;
  tokenSecret: string;
  publicKeys?: KeyObject[];
  /** The request reached us over TLS (PLAINTEXT sends the secrets in clear otherwise). */
  secureTransport: boolean;
}

/** Checks an incoming signature. PLAINTEXT only over TLS; HMAC needs consumerSecret; RSA needs publicKeys. */
export function verifySignature(v: VerifyInput): boolean {
  switch (v.method) {
    case 'HMAC-SHA1':
      return v.consumerSecret !== undefined && signatureEquals(hmacSha1(v.baseString, v.consumerSecret, v.tokenSecret), v.signature);
    case 'RSA-SHA1':
      return v.publicKeys !== undefined && rsaSha1Verify(v.baseString, v.signature, v.publicKeys);
    case 'PLAINTEXT':
      return v.secureTransport && v.consumerSecret !== undefined && safeEqual(plaintextSignature(v.consumerSecret, v.tokenSecret), v.signature);
    default:
      // Unreachable for typed callers; a string that slipped through is simply not valid.
      return false;
  }
}
