// Everything that is not a dance route goes to AppB (DESIGN.md sections 1d, 2, 3, 7): a signed
// request as the user its token or xoauth_requestor_id names, re-signed; a refused one never;
// unsigned traffic with only the gateway's header stripping.
import type { Context } from 'koa';
import type { Gateway } from '../gateway.js';
import { createForwarder, type Forwarder } from './forward.js';
import { planForward } from './plan.js';

const forwarders = new WeakMap<Gateway, Forwarder>();

/** One forwarder (keep-alive agents) per gateway, shared by HTTP and WebSocket traffic. */
export function forwarderOf(gw: Gateway): Forwarder {
  let f = forwarders.get(gw);
  if (!f) {
    f = createForwarder(gw);
    forwarders.set(gw, f);
  }
  return f;
}

export function proxyMiddleware(gw: Gateway) {
  const forwarder = forwarderOf(gw);
  return async function proxy(ctx: Context): Promise<void> {
    // Read once: a reload during this request must not mix two configurations.
    const cfg = gw.cfg();
    // Verification failures throw (OAuthProblem → Problem Reporting response, store down → 503).
    // A dance call the dance routes handed on (AppB's own links) is forwarded without verification.
    const handedOn = ctx.state.dance?.handedOn === true;
    // A body over the limit or too slow answers with its own Connection: close (src/http/body.ts).
    const plan = await planForward(gw, cfg, ctx.req, ctx.state.facts, { upgrade: false, handedOn });
    ctx.respond = false;
    await forwarder.web(ctx.req, ctx.res, plan);
  };
}
