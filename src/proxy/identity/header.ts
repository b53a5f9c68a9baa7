// header identity mode, for a sidecar whose AppB reads a header: the user name in
// upstream.identity.userHeader (X-Forwarded-User) and X-Applink-Gateway-Signature,
// "t=<unix seconds>,v1=<hex HMAC-SHA256>" keyed with the shared secret over
// "<t>\n<METHOD>\n<request-target as sent>\n<user>".
import { createHmac } from 'node:crypto';
import { requestTarget, type IdentityMode } from './mode.js';

export const SIGNATURE_HEADER = 'x-applink-gateway-signature';
const DEFAULT_USER_HEADER = 'x-forwarded-user';

/** header mode: HMAC-SHA256 over "<t>\n<METHOD>\n<request-target>\n<user>" (target as its wire bytes, user as UTF-8). */
export function headerSignature(secret: Buffer, t: number, method: string, target: string, user: string): string {
  const mac = createHmac('sha256', secret)
    .update(`${t}\n${method.toUpperCase()}\n`)
    .update(target, 'latin1')
    .update('\n')
    .update(Buffer.from(user, 'utf8'))
    .digest('hex');
  return `t=${t},v1=${mac}`;
}

/** The user name as a header value: its UTF-8 bytes (Node writes a header string byte per char). */
export function userHeaderValue(user: string): string {
  return Buffer.from(user, 'utf8').toString('latin1');
}

interface HeaderState {
  /** The configured user header, lower case (the schema allows letters, digits and '-' only). */
  userHeader: string;
  sharedSecret: Buffer;
  owned: readonly string[];
}

export const headerMode: IdentityMode<'header', HeaderState> = {
  name: 'header',
  reservedHeaders: [DEFAULT_USER_HEADER, SIGNATURE_HEADER],
  needsPairs: false,
  compile(id) {
    const userHeader = id.userHeader.toLowerCase();
    return { userHeader, sharedSecret: id.sharedSecret, owned: [userHeader, SIGNATURE_HEADER] };
  },
  ownedHeaders: (s) => s.owned,
  clientHeaderFilter: () => null,
  publicKeys: () => [],
  apply(s, r, user) {
    const path = requestTarget(r, r.query);
    r.headers[s.userHeader] = userHeaderValue(user);
    r.headers[SIGNATURE_HEADER] = headerSignature(s.sharedSecret, Math.floor(Date.now() / 1000), r.method, path, user);
    return path;
  },
};
