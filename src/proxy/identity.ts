// How AppB learns the user of a verified request (upstream.identity.mode, DESIGN.md section 2):
// the configured mode (src/proxy/identity/, compiled once per configuration in compiled.ts)
// applied to one request, and the JWKS of the admin port. Nothing here knows a mode by name.
import type { Gateway } from '../gateway.js';
import { compiledOf } from './compiled.js';
import type { CompiledIdentity, IdentityRequest } from './identity/index.js';
import { jwksDocument, notePublishedKeys } from './identity/keys.js';

export type { IdentityRequest };

/**
 * Sets the identity of `user` on the outgoing request (r.headers mutated) and returns the exact
 * request-target to send (oauth1 appends xoauth_requestor_id). A string when the mode has nothing
 * to wait for.
 */
export function applyIdentity(gw: Gateway, identity: CompiledIdentity, r: IdentityRequest, user: string, linkId: string): Promise<string> | string {
  // A key signed with stays published after a reload until its tokens expired.
  if (identity.publicKeys.length > 0) notePublishedKeys(gw, identity.publicKeys);
  return identity.mode.apply(identity.state, r, user, linkId);
}

/** The JWKS document ({keys: [...]}) for the admin port; null when the configured mode publishes no keys. */
export function jwksOf(gw: Gateway, nowMs: number = Date.now()): { keys: Array<Record<string, unknown>> } | null {
  return jwksDocument(gw, compiledOf(gw.cfg()).identity.publicKeys, nowMs);
}
