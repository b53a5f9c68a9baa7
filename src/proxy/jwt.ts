// jwt identity mode: a short-lived JWT per request (RS256 or EdDSA, node:crypto), and the JWKS
// the admin port serves so AppB can verify it (DESIGN.md section 2).
import { randomUUID, sign, type KeyObject } from 'node:crypto';
import type { ResolvedIdentity } from '../config/identity.js';
import type { Gateway } from '../gateway.js';

type JwtIdentity = Extract<ResolvedIdentity, { mode: 'jwt' }>;

export interface JwtClaims {
  iss: string;
  aud: string;
  sub: string;
  iat: number;
  exp: number;
  jti: string;
  /** The application link (id) the request came through. */
  link: string;
}

const b64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/** Signs on the libuv thread pool (callback form of crypto.sign), off the event loop. */
function signAsync(algorithm: 'RS256' | 'EdDSA', data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sign(algorithm === 'RS256' ? 'sha256' : null, data, key, (err, signature) => (err ? reject(err) : resolve(signature)));
  });
}

/** A compact JWS for `user`, valid for the configured ttl (at most 60 s). */
export async function signIdentityJwt(id: JwtIdentity, user: string, linkId: string, nowMs: number = Date.now()): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  const header = { alg: id.algorithm, typ: 'JWT', kid: id.keyId };
  const claims: JwtClaims = { iss: id.issuer, aud: id.audience, sub: user, iat, exp: iat + id.ttlSeconds, jti: randomUUID(), link: linkId };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = await signAsync(id.algorithm, Buffer.from(input), id.privateKey);
  return `${input}.${b64url(signature)}`;
}

interface PublishedKey {
  kid: string;
  alg: string;
  jwk: Record<string, unknown>;
  /** When a reload replaced it (ms); null while current. */
  retiredAt: number | null;
  ttlSeconds: number;
}

// Keys this process has signed with; a replaced key stays published until its last JWT expired.
const published = new WeakMap<Gateway, PublishedKey[]>();

function jwkOf(id: JwtIdentity): Record<string, unknown> {
  return { ...id.publicKey.export({ format: 'jwk' }), kid: id.keyId, alg: id.algorithm, use: 'sig' };
}

/** The JWKS document ({keys: [...]}) for the admin port; null when the identity mode is not jwt. */
export function jwksOf(gw: Gateway, nowMs: number = Date.now()): { keys: Array<Record<string, unknown>> } | null {
  const id = gw.cfg().identity;
  const list = published.get(gw) ?? [];
  for (const k of list) if (k.retiredAt === null && (id.mode !== 'jwt' || k.kid !== id.keyId)) k.retiredAt = nowMs;
  if (id.mode === 'jwt' && !list.some((k) => k.kid === id.keyId && k.retiredAt === null)) {
    list.push({ kid: id.keyId, alg: id.algorithm, jwk: jwkOf(id), retiredAt: null, ttlSeconds: id.ttlSeconds });
  }
  const live = list.filter((k) => k.retiredAt === null || nowMs - k.retiredAt < (k.ttlSeconds + 60) * 1000);
  published.set(gw, live);
  if (id.mode !== 'jwt') return null;
  return { keys: live.map((k) => k.jwk) };
}

/** Remembers the key a JWT was just signed with, so a reload does not unpublish it too early. */
export function notePublishedKey(gw: Gateway, id: JwtIdentity): void {
  const list = published.get(gw) ?? [];
  if (!list.some((k) => k.kid === id.keyId && k.retiredAt === null)) {
    published.set(gw, [...list, { kid: id.keyId, alg: id.algorithm, jwk: jwkOf(id), retiredAt: null, ttlSeconds: id.ttlSeconds }]);
  }
}
