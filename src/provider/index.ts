// The OAuth dance routes (DESIGN.md sections 1a-1c, 1e). Filled in by the dance work (issue 3).
import type { Context, Next } from 'koa';
import type { Gateway } from '../gateway.js';

export function providerRoutes(_gw: Gateway) {
  return async function dance(_ctx: Context, next: Next): Promise<void> {
    await next();
  };
}
