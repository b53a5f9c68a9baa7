// upstream.identity with its key files read: how the gateway tells AppB who the user is. One
// resolved shape and one resolver per mode; what a mode does per request is src/proxy/identity/.
import { createPrivateKey, createPublicKey, createHash, type KeyObject } from 'node:crypto';
import { loadRsaPrivateKey } from '../oauth1/signature.js';
import type { IdentityConfig } from './schema.js';
import type { SecretReader } from './secrets.js';

export type ResolvedIdentity =
  | { mode: 'oauth1'; consumerKey: string; signatureMethod: 'RSA-SHA1'; privateKey: KeyObject }
  | { mode: 'oauth1'; consumerKey: string; signatureMethod: 'HMAC-SHA1'; sharedSecret: string }
  | { mode: 'header'; userHeader: string; sharedSecret: Buffer }
  | {
      mode: 'jwt';
      privateKey: KeyObject;
      publicKey: KeyObject;
      algorithm: 'RS256' | 'EdDSA';
      keyId: string;
      audience: string;
      issuer: string;
      ttlSeconds: number;
    };

const AT = 'upstream.identity';

type ModeName = IdentityConfig['mode'];
type Resolver<M extends ModeName> = (id: Extract<IdentityConfig, { mode: M }>, secrets: SecretReader) => Extract<ResolvedIdentity, { mode: M }> | null;

/**
 * Each mode's secrets and keys read and parsed: one function per mode (the type makes a mode of
 * the schema without one an error). A mode's per-request behaviour is src/proxy/identity/<mode>.ts.
 */
const RESOLVERS: { [M in ModeName]: Resolver<M> } = {
  oauth1(id, secrets) {
    // The schema guarantees the file of the chosen signature method.
    if (id.signatureMethod === 'RSA-SHA1') {
      const pem = id.privateKeyFile === undefined ? null : secrets.read(`${AT}.privateKeyFile`, id.privateKeyFile);
      if (pem === null) return null;
      try {
        return { mode: 'oauth1', consumerKey: id.consumerKey, signatureMethod: 'RSA-SHA1', privateKey: loadRsaPrivateKey(pem) };
      } catch (err) {
        secrets.problems.add(`${AT}.privateKeyFile`, (err as Error).message);
        return null;
      }
    }
    const secret = id.sharedSecretFile === undefined ? null : secrets.readTrimmed(`${AT}.sharedSecretFile`, id.sharedSecretFile);
    if (secret === null) return null;
    return { mode: 'oauth1', consumerKey: id.consumerKey, signatureMethod: 'HMAC-SHA1', sharedSecret: secret };
  },

  header(id, secrets) {
    const secret = secrets.readTrimmed(`${AT}.sharedSecretFile`, id.sharedSecretFile);
    if (secret === null) return null;
    if (secret.length < 16) {
      secrets.problems.add(`${AT}.sharedSecretFile`, 'must hold at least 16 characters');
      return null;
    }
    return { mode: 'header', userHeader: id.userHeader, sharedSecret: Buffer.from(secret, 'utf8') };
  },

  jwt(id, secrets) {
    const pem = secrets.read(`${AT}.privateKeyFile`, id.privateKeyFile);
    if (pem === null) return null;
    try {
      const privateKey = createPrivateKey(pem);
      const type = privateKey.asymmetricKeyType;
      if (type !== 'rsa' && type !== 'ed25519') {
        secrets.problems.add(`${AT}.privateKeyFile`, `must be an RSA or Ed25519 key (got ${type ?? 'unknown'})`);
        return null;
      }
      const publicKey = createPublicKey(privateKey);
      const der = publicKey.export({ format: 'der', type: 'spki' });
      return {
        mode: 'jwt',
        privateKey,
        publicKey,
        algorithm: type === 'rsa' ? 'RS256' : 'EdDSA',
        // The one default the schema cannot fill: it is a thumbprint of the key in the file.
        keyId: id.keyId ?? createHash('sha256').update(der).digest('base64url').slice(0, 16),
        audience: id.audience,
        issuer: id.issuer,
        ttlSeconds: id.ttlSeconds,
      };
    } catch (err) {
      secrets.problems.add(`${AT}.privateKeyFile`, (err as Error).message);
      return null;
    }
  },
};

/** The identity with its keys parsed; null (problems recorded) when a key file is unreadable or wrong. */
export function resolveIdentity(id: IdentityConfig, secrets: SecretReader): ResolvedIdentity | null {
  // TypeScript cannot correlate id.mode with the table's entry: the cast says what the mapped type guarantees.
  return (RESOLVERS[id.mode] as Resolver<ModeName>)(id as never, secrets);
}
