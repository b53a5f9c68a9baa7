// The records of the Redis store as hash fields: key names, encoding for the scripts, decoding of
// their replies, and the secrets (encrypted at rest, decrypted when first read).
//
// Key layout (every key under keyPrefix; <h> is the grant's handle, a Cluster hash tag):
//   rt:{<h>}                   hash  request token: d (digest), s (encrypted secret), lk, ck, cb,
//                                    ver, st, u, ul, ve/vd (encrypted verifier, its digest), ca, ea;
//                                    kept past its expiry for a grace period (REQUEST_GRACE_MAX_MS)
//   at:{<h>}                   hash  access token: d, s, sh (encrypted session handle), shd, lk,
//                                    ck, u, ul, ca, ea, aea; once revoked a tombstone (rv, ku; no
//                                    s, sh, shd) until ku
//   n:{<h>}:<sha256>           "1"   nonce of a request signed with a token of grant <h>
//   n:<sha256>                 "1"   nonce of a 2LO request (no token)
//   u:<lower-cased user>       set   handles of the user's access tokens (pruned lazily)
//   l:<linkId>                 set   handles of the link's access tokens (pruned lazily)
// Token values are `<h>.<secret part>`: the request token and the access token of one grant
// share <h>, so the exchange script touches two keys in one slot.
import { decryptSecret, encryptSecret } from '../crypto.js';
import type { EncryptionKey } from '../crypto.js';
import type { StoredAccess, StoredRequest } from '../backend.js';
import { accessHandleOfToken, nonceDigest } from '../tokens.js';
import type { AccessRecord, RequestRecord } from '../transitions.js';
import type { AccessToken, DanceVersion, NonceKey, RequestTokenState } from '../types.js';
import type { Arg } from './scripts.js';

export type Fields = Record<string, string>;

/** Key names. The handle in braces is the Cluster hash tag shared by a grant's keys. */
export function keyNames(prefix: string) {
  return {
    request: (h: string) => `${prefix}rt:{${h}}`,
    access: (h: string) => `${prefix}at:{${h}}`,
    user: (lowerUser: string) => `${prefix}u:${encodeURIComponent(lowerUser)}`,
    link: (linkId: string) => `${prefix}l:${encodeURIComponent(linkId)}`,
    /** The prefix of every access record's key (SCAN of an operator listing). */
    accessHead: `${prefix}at:{`,
    // A nonce of a request signed with a token carries that token's hash tag, so the hot path
    // (claim the nonce, read the token) is one Lua call on one slot, atomic and valid in Cluster;
    // a pipeline of SET + HGETALL would need the same slot anyway, and would cost the same.
    // `h`: the token's handle when the caller has it already (the hot path), else derived here.
    nonce: (key: NonceKey, h: string | null = key.token === '' ? null : accessHandleOfToken(key.token)) => {
      return h === null ? `${prefix}n:${nonceDigest(key)}` : `${prefix}n:{${h}}:${nonceDigest(key)}`;
    },
  };
}

/** A flat [field, value, ...] reply (from `from`) as an object. */
export function fields(flat: unknown, from = 0): Fields {
  const rec: Fields = {};
  if (!Array.isArray(flat)) return rec;
  for (let i = from; i + 1 < flat.length; i += 2) rec[String(flat[i])] = String(flat[i + 1]);
  return rec;
}

function int(value: string | undefined): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error('token store: malformed record in Redis');
  return n;
}

function req(rec: Fields, name: string): string {
  const v = rec[name];
  if (v === undefined) throw new Error(`token store: record in Redis lacks field "${name}"`);
  return v;
}

export function requestFromFields(rec: Fields): RequestRecord {
  return {
    digest: req(rec, 'd'),
    linkId: req(rec, 'lk'),
    consumerKey: req(rec, 'ck'),
    callback: rec.cb ?? null,
    version: req(rec, 'ver') as DanceVersion,
    state: req(rec, 'st') as RequestTokenState,
    user: rec.u ?? null,
    userKey: rec.ul ?? null,
    verifierDigest: rec.vd ?? null,
    createdAt: int(rec.ca),
    expiresAt: int(rec.ea),
  };
}

export function accessFromFields(rec: Fields): AccessRecord {
  return {
    digest: req(rec, 'd'),
    linkId: req(rec, 'lk'),
    consumerKey: req(rec, 'ck'),
    user: req(rec, 'u'),
    userKey: req(rec, 'ul'),
    sessionHandleDigest: rec.shd ?? null,
    createdAt: int(rec.ca),
    expiresAt: int(rec.ea),
    authorizationExpiresAt: int(rec.aea),
    revokedAt: rec.rv === undefined ? null : int(rec.rv),
    keepUntil: rec.ku === undefined ? null : int(rec.ku),
  };
}

/** The fields of a new request record (CREATE_REQUEST), its secret encrypted. */
export function requestToFields(r: RequestRecord, encSecret: string): Arg[] {
  const out: Arg[] = ['d', r.digest, 's', encSecret, 'lk', r.linkId, 'ck', r.consumerKey, 'ver', r.version, 'st', r.state, 'ca', r.createdAt, 'ea', r.expiresAt];
  if (r.callback !== null) out.push('cb', r.callback);
  return out;
}

/** The fields of an imported access record but its digest (IMPORT_ACCESS), secrets encrypted. */
export function importedToFields(a: AccessRecord, encSecret: string, encSessionHandle: string): Arg[] {
  return [
    's', encSecret,
    'sh', encSessionHandle,
    'shd', a.sessionHandleDigest ?? '',
    'lk', a.linkId,
    'ck', a.consumerKey,
    'u', a.user,
    'ul', a.userKey,
    'ca', a.createdAt,
    'ea', a.expiresAt,
    'aea', a.authorizationExpiresAt,
  ];
}

/** Encryption and decryption of a grant's secrets; each ciphertext is bound to its grant and field. */
export function secrets(keys: EncryptionKey[]) {
  const ctx = (field: string, h: string) => `${field}:${h}`;
  const decrypt = (value: string | undefined, field: string, h: string) => {
    if (value === undefined) throw new Error(`token store: record in Redis lacks field "${field.slice(3)}"`);
    return decryptSecret(value, keys, ctx(field, h));
  };
  return {
    encrypt: (value: string, field: 'rt.s' | 'rt.ve' | 'at.s' | 'at.sh', h: string) => encryptSecret(value, keys, ctx(field, h)),

    /** A request record with its secret and verifier, decrypted when first read. */
    storedRequest(h: string, rec: Fields): StoredRequest {
      let secret: string | undefined;
      return {
        record: requestFromFields(rec),
        secret: () => (secret ??= decrypt(rec.s, 'rt.s', h)),
        verifier: () => (rec.ve === undefined ? null : decrypt(rec.ve, 'rt.ve', h)),
      };
    },

    /** An access record with its secret and session handle, decrypted when first read. */
    storedAccess(h: string, rec: Fields): StoredAccess {
      let secret: string | undefined;
      let sessionHandle: string | undefined;
      return {
        record: accessFromFields(rec),
        secret: () => (secret ??= decrypt(rec.s, 'at.s', h)),
        sessionHandle: () => (sessionHandle ??= decrypt(rec.sh, 'at.sh', h)),
      };
    },

    /**
     * The access token of the hot path from CLAIM_NONCE_AND_GET's positional reply {fresh, u, s,
     * sh, ca, ea, aea}: the caller knows the value, handle, consumer key and link. The secret and
     * session handle are decrypted when first read, not before: an RSA-SHA1 request never reads
     * the secret, and no resource request reads the session handle (two AES-GCM decryptions per
     * request saved).
     */
    hotAccess(h: string, token: string, consumerKey: string, linkId: string, reply: unknown[]): AccessToken {
      const access = {
        token,
        handle: h,
        linkId,
        consumerKey,
        user: String(reply[1]),
        createdAt: int(String(reply[4])),
        expiresAt: int(String(reply[5])),
        authorizationExpiresAt: int(String(reply[6])),
      } as AccessToken;
      const encSecret = reply[2] === null || reply[2] === undefined ? undefined : String(reply[2]);
      const encSessionHandle = reply[3] === null || reply[3] === undefined ? undefined : String(reply[3]);
      let secret: string | undefined;
      let sessionHandle: string | undefined;
      Object.defineProperty(access, 'secret', { enumerable: true, get: () => (secret ??= decrypt(encSecret, 'at.s', h)) });
      Object.defineProperty(access, 'sessionHandle', { enumerable: true, get: () => (sessionHandle ??= decrypt(encSessionHandle, 'at.sh', h)) });
      return access;
    },
  };
}
