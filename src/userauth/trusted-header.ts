// userAuth mode trusted-header: an SSO proxy in front of the gateway names the user in a
// header. Believed only from userAuth.trustedSources; anyone else's copy is ignored.
import type { Context } from 'koa';
import type { RuntimeConfig } from '../config/load.js';
import type { Logger } from '../ops/logger.js';
import { isValidUserName } from './names.js';

type HeaderAuth = Extract<RuntimeConfig['config']['userAuth'], { mode: 'trusted-header' }>;

export function userFromTrustedHeader(ctx: Context, cfg: RuntimeConfig, auth: HeaderAuth, log: Logger): string | null {
  const values = ctx.req.headersDistinct[auth.header.toLowerCase()];
  if (values === undefined) return null;
  const peer = ctx.req.socket.remoteAddress;
  if (!cfg.trustedUserSources?.contains(peer)) {
    log.warn({ peer, header: auth.header }, 'userAuth: user header from an untrusted source ignored');
    return null;
  }
  // Two copies: the proxy and the client each set one, and we cannot tell which is which.
  if (values.length !== 1) {
    log.warn({ peer, header: auth.header }, 'userAuth: user header sent more than once; ignored');
    return null;
  }
  const user = (values[0] ?? '').trim();
  return isValidUserName(user) ? user : null;
}
