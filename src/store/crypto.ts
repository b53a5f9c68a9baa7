// Token secrets at rest (DESIGN.md section 6): AES-256-GCM under a keyring, plus the random
// values and digests the stores use. The first key of the keyring encrypts, every key decrypts.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import * as cryptoModule from 'node:crypto';

export interface EncryptionKey {
  /** Short non-secret name written in front of each ciphertext, so rotation can find the key. */
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

const FORMAT_VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;
// Standard or URL-safe alphabet; 43 characters plus optional padding carry exactly 32 bytes.
const BASE64_KEY = /^[A-Za-z0-9+/_-]{43}=?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

// crypto.hash (Node 20.12+): a one-shot digest without a Hash object, a third of createHash's cost.
const oneShotHash = (cryptoModule as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** Hex SHA-256 of a token (or any string): what the stores keep instead of token values. */
export function tokenDigest(token: string): string {
  if (oneShotHash !== undefined) return oneShotHash('sha256', token, 'hex');
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** `bytes` random bytes as base64url: token values, secrets, verifiers, session handles. */
export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * Constant-time string comparison. Both sides are hashed first so that neither the content
 * nor the length of the expected value leaks through timing.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** The default key id: the first 8 hex digits of SHA-256(key). Not secret. */
export function defaultKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

function decodeKeyMaterial(text: string): Buffer | null {
  if (HEX_KEY.test(text)) return Buffer.from(text, 'hex');
  if (BASE64_KEY.test(text)) {
    const key = Buffer.from(text, 'base64');
    return key.length === KEY_BYTES ? key : null;
  }
  return null;
}

/**
 * Parses a key file: one key per line, `[id:]<base64 or 64 hex digits>`, blank lines and
 * `#` comments ignored. Errors name the line, never its content.
 */
export function parseKeyring(text: string): EncryptionKey[] {
  const keys: EncryptionKey[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const lineNo = i + 1;
    const colon = line.indexOf(':');
    const explicitId = colon >= 0 ? line.slice(0, colon).trim() : null;
    const material = colon >= 0 ? line.slice(colon + 1).trim() : line;
    if (explicitId !== null && !KEY_ID.test(explicitId)) {
      throw new Error(
        `encryption key file, line ${lineNo}: the key id must be 1-64 characters of A-Z a-z 0-9 _ -`,
      );
    }
    const key = decodeKeyMaterial(material);
    if (key === null) {
      throw new Error(
        `encryption key file, line ${lineNo}: expected a 32-byte key as base64 or 64 hex digits, optionally prefixed by "id:"`,
      );
    }
    const id = explicitId ?? defaultKeyId(key);
    if (seen.has(id)) {
      throw new Error(`encryption key file, line ${lineNo}: key id "${id}" appears twice`);
    }
    seen.add(id);
    keys.push({ id, key });
  }
  if (keys.length === 0) {
    throw new Error('encryption key file holds no key: add a line with a 32-byte base64 key');
  }
  return keys;
}

/** A fresh key-file line, `<id>:<base64 key>`. */
export function generateKeyringLine(): string {
  const key = randomBytes(KEY_BYTES);
  return `${defaultKeyId(key)}:${key.toString('base64')}`;
}

function assertKeyring(keys: readonly EncryptionKey[]): EncryptionKey {
  const first = keys[0];
  if (first === undefined) throw new Error('the encryption keyring is empty');
  for (const k of keys) {
    if (k.key.length !== KEY_BYTES || !KEY_ID.test(k.id)) {
      throw new Error(`encryption key "${k.id}" is not a 32-byte key with a valid id`);
    }
  }
  return first;
}

function additionalData(keyId: string, context: string | undefined): Buffer {
  // Binds the ciphertext to its header and, when given, to where it is stored, so a blob
  // copied into another record or field fails authentication.
  return Buffer.from(`${FORMAT_VERSION}.${keyId}\u0000${context ?? ''}`, 'utf8');
}

/**
 * Encrypts with the first key: `v1.<keyId>.<base64url iv>.<base64url ciphertext+tag>`.
 * `context` (optional) is authenticated, not stored: decrypt must pass the same value.
 */
export function encryptSecret(
  plain: string,
  keys: readonly EncryptionKey[],
  context?: string,
): string {
  const { id, key } = assertKeyring(keys);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(id, context));
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${FORMAT_VERSION}.${id}.${iv.toString('base64url')}.${body.toString('base64url')}`;
}

/** Decrypts a blob of encryptSecret with whichever key it names; throws when unknown or tampered. */
export function decryptSecret(
  blob: string,
  keys: readonly EncryptionKey[],
  context?: string,
): string {
  // A token's secret is decrypted on every HMAC request that uses it: the answer for this exact
  // ciphertext and context is remembered, per keyring object (a reload's new keyring starts empty,
  // so a key taken out of the keyring stops decrypting at once). Bounded; cleared when full.
  let known = decrypted.get(keys);
  if (known === undefined) {
    known = new Map();
    decrypted.set(keys, known);
  }
  const memo = context === undefined ? blob : `${context}\u0000${blob}`;
  const hit = known.get(memo);
  if (hit !== undefined) return hit;
  const plain = decryptUncached(blob, keys, context);
  if (known.size >= DECRYPTED_REMEMBERED) known.clear();
  known.set(memo, plain);
  return plain;
}

const DECRYPTED_REMEMBERED = 10_000;
const decrypted = new WeakMap<readonly EncryptionKey[], Map<string, string>>();

function decryptUncached(blob: string, keys: readonly EncryptionKey[], context: string | undefined): string {
  const parts = blob.split('.');
  const [version, keyId, ivText, bodyText] = parts;
  if (
    parts.length !== 4 ||
    version !== FORMAT_VERSION ||
    keyId === undefined ||
    ivText === undefined ||
    bodyText === undefined ||
    !BASE64URL.test(ivText) ||
    !BASE64URL.test(bodyText)
  ) {
    throw new Error('encrypted secret is malformed');
  }
  const entry = keys.find((k) => k.id === keyId);
  if (entry === undefined) {
    throw new Error(
      `secret is encrypted under key id "${keyId}", which is not in the keyring (keep old keys until their tokens expire)`,
    );
  }
  const iv = Buffer.from(ivText, 'base64url');
  const body = Buffer.from(bodyText, 'base64url');
  if (iv.length !== IV_BYTES || body.length < TAG_BYTES) {
    throw new Error('encrypted secret is malformed');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', entry.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(keyId, context));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    const plain = Buffer.concat([
      decipher.update(body.subarray(0, body.length - TAG_BYTES)),
      decipher.final(),
    ]);
    return plain.toString('utf8');
  } catch (err) {
    throw new Error(`encrypted secret failed authentication under key "${keyId}" (tampered?)`, {
      cause: err,
    });
  }
}
