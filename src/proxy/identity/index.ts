// The registry of identity modes: upstream.identity.mode → its implementation (mode.ts has the
// interface, one file per mode beside it). Looked up once per configuration, by
// proxy/compiled.ts; the request path calls the mode object stored there.
import type { RuntimeConfig } from '../../config/load.js';
import { headerMode } from './header.js';
import { jwtMode } from './jwt.js';
import type { ClientHeaderFilter, IdentityMode, IdentityModeName, PublishedKey } from './mode.js';
import { oauth1Mode } from './oauth1.js';

export type { ClientHeaderFilter, IdentityMode, IdentityModeName, IdentityRequest, PublishedKey } from './mode.js';

/** Every mode, by its `upstream.identity.mode` value (the type makes a mode of the schema without an entry an error). */
export const IDENTITY_MODES: { readonly [M in IdentityModeName]: IdentityMode<M> } = {
  oauth1: oauth1Mode,
  header: headerMode,
  jwt: jwtMode,
};

/** The registered modes, each seen through the common interface (its state opaque). */
export function allModes(): IdentityMode[] {
  return Object.values(IDENTITY_MODES) as IdentityMode[];
}

/**
 * Headers some mode sets under some configuration (canonical names): a client copy is removed
 * from every request in every mode (IdentityMode.reservedHeaders).
 */
export const RESERVED_IDENTITY_HEADERS: readonly string[] = [...new Set(allModes().flatMap((m) => m.reservedHeaders))];

/** The identity mode of a configuration with its state, as the request path uses it. */
export interface CompiledIdentity {
  readonly name: IdentityModeName;
  /** Call as mode.apply(state, …). */
  readonly mode: IdentityMode;
  readonly state: unknown;
  readonly needsPairs: boolean;
  readonly ownedHeaders: readonly string[];
  readonly clientHeaderFilter: ClientHeaderFilter | null;
  readonly publicKeys: readonly PublishedKey[];
}

/** Looks the configured mode up and compiles its state (once per configuration, from proxy/compiled.ts). */
export function compileIdentity(cfg: RuntimeConfig): CompiledIdentity {
  const mode = IDENTITY_MODES[cfg.identity.mode] as IdentityMode;
  const state = mode.compile(cfg.identity, cfg);
  return {
    name: mode.name,
    mode,
    state,
    needsPairs: mode.needsPairs,
    ownedHeaders: mode.ownedHeaders(state),
    clientHeaderFilter: mode.clientHeaderFilter(state),
    publicKeys: mode.publicKeys(state),
  };
}
