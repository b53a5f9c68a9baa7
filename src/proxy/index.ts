// Everything that is not a dance route goes to AppB (DESIGN.md section 2). Filled in by issue 4.
import type { Context } from 'koa';
import type { Gateway } from '../gateway.js';

export function proxyMiddleware(_gw: Gateway) {
  return async function proxy(ctx: Context): Promise<void> {
    ctx.status = 502;
    ctx.type = 'text/plain';
    ctx.body = 'The upstream proxy is not configured in this build.\n';
  };
}
