// jwt identity mode: `Authorization: Bearer <JWT>`, a short-lived JWT per request (RS256 or
// EdDSA, node:crypto, signed on the thread pool when the process has more than one CPU), whose
// public key the admin port serves as a JWKS so AppB can verify it (DESIGN.md section 2).
import { randomUUID } from 'node:crypto';
import { signOffLoop } from '../../oauth1/index.js';
import { requestTarget, type ClientHeaderFilter, type IdentityMode, type PublishedKey, type ResolvedIdentityOf } from './mode.js';

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

type JwtIdentity = ResolvedIdentityOf<'jwt'>;

interface JwtState {
  id: JwtIdentity;
  /** The encoded JOSE header (alg, typ, kid): the same for every token of this configuration. */
  encodedHeader: string;
  keys: readonly PublishedKey[];
}

function encodedHeaderOf(id: JwtIdentity): string {
  return b64url(JSON.stringify({ alg: id.algorithm, typ: 'JWT', kid: id.keyId }));
}

/** A compact JWS for `user`, valid for the configured ttl (at most 60 s). */
async function signWith(id: JwtIdentity, encodedHeader: string, user: string, linkId: string, nowMs: number): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  const claims: JwtClaims = { iss: id.issuer, aud: id.audience, sub: user, iat, exp: iat + id.ttlSeconds, jti: randomUUID(), link: linkId };
  const input = `${encodedHeader}.${b64url(JSON.stringify(claims))}`;
  const signature = await signOffLoop(id.algorithm === 'RS256' ? 'sha256' : null, Buffer.from(input), id.privateKey);
  return `${input}.${b64url(signature)}`;
}

const OWNED = ['authorization'] as const;

// The gateway owns the Bearer scheme in this mode: a client's Bearer token could be a replayed gateway JWT.
const BEARER: ClientHeaderFilter = { header: 'authorization', drops: (value) => /^\s*bearer\b/i.test(value) };

export const jwtMode: IdentityMode<'jwt', JwtState> = {
  name: 'jwt',
  reservedHeaders: [],
  needsPairs: false,
  compile(id) {
    const jwk = { ...id.publicKey.export({ format: 'jwk' }), kid: id.keyId, alg: id.algorithm, use: 'sig' };
    return { id, encodedHeader: encodedHeaderOf(id), keys: [{ kid: id.keyId, jwk, ttlSeconds: id.ttlSeconds }] };
  },
  ownedHeaders: () => OWNED,
  clientHeaderFilter: () => BEARER,
  publicKeys: (s) => s.keys,
  async apply(s, r, user, linkId) {
    r.headers.authorization = `Bearer ${await signWith(s.id, s.encodedHeader, user, linkId, Date.now())}`;
    return requestTarget(r, r.query);
  },
};
