// The plug-in point of upstream.identity.mode: how AppB learns the user of a verified request
// (DESIGN.md section 2). One file per mode beside this one, and the registry (index.ts) that maps
// the configuration's `mode` to it. A mode is compiled once per configuration (proxy/compiled.ts,
// at the first request after a load or reload); per request only `apply` runs.
import type { OutgoingHttpHeaders } from 'node:http';
import type { RuntimeConfig } from '../../config/load.js';
import type { ResolvedIdentity } from '../../config/identity.js';

export type IdentityModeName = ResolvedIdentity['mode'];

/** upstream.identity of one mode, with its secrets and keys read (config/identity.ts). */
export type ResolvedIdentityOf<M extends IdentityModeName> = Extract<ResolvedIdentity, { mode: M }>;

/** What `apply` gets of the request being forwarded (the headers are the ones AppB will receive). */
export interface IdentityRequest {
  method: string;
  /** Raw path as received (the base-string path is signatureBaseUrl's path + this). */
  rawPath: string;
  /** Path prefix of upstream.url ('' for none): the request-target AppB receives is prefix + rawPath. */
  upstreamPathPrefix: string;
  /** The query as it will be forwarded (AppA's OAuth and requestor parameters already removed). */
  query: string;
  /** The target had a '?' and its query was not changed: keep a bare '?' as received. */
  keepBareQuestionMark: boolean;
  /** The form body as it will be forwarded (application/x-www-form-urlencoded only). */
  formBody?: Buffer;
  /**
   * The decoded query and form body pairs as forwarded, when the caller already holds them (a
   * verified request's parameters without AppA's protocol and requestor ones): not parsed again.
   * Only passed to a mode with `needsPairs`.
   */
  pairs?: Array<[string, string]>;
  /** The outgoing headers, client copies of the mode's owned headers already removed: `apply` sets its own. */
  headers: OutgoingHttpHeaders;
}

/** The request-target sent to AppB for a forwarded query: path plus ?query when there is one. */
export function requestTarget(r: IdentityRequest, query: string): string {
  const path = r.upstreamPathPrefix + r.rawPath;
  return query !== '' || r.keepBareQuestionMark ? `${path}?${query}` : path;
}

/** A public key a mode signs with, as served in the admin listener's /jwks.json. */
export interface PublishedKey {
  kid: string;
  /** The JWK (public part only), with kid, alg and use. */
  jwk: Readonly<Record<string, unknown>>;
  /** How long a token signed with it lives: a replaced key stays published that long (plus a minute). */
  ttlSeconds: number;
}

/**
 * A client header a mode filters by value on requests it does not sign (jwt: an
 * `Authorization: Bearer`, which could be a replayed gateway JWT).
 */
export interface ClientHeaderFilter {
  /** Canonical name (lower case, `_` as `-`). */
  header: string;
  /** True: this value is the mode's own and the header is not forwarded. */
  drops(value: string): boolean;
}

/**
 * One identity mode. `S` is its per-configuration state: whatever `compile` derives once (keys
 * parsed, names canonicalised, JWKs exported) so that `apply` does no setup per request.
 */
export interface IdentityMode<M extends IdentityModeName = IdentityModeName, S = unknown> {
  /** The `upstream.identity.mode` value it implements. */
  readonly name: M;
  /**
   * Headers this mode sets under any configuration of it (canonical names). A client copy is
   * removed from every request whichever mode is configured: an AppB set up for this mode (or
   * one the gateway used before a reload) may still believe them. `authorization` never goes
   * here: it belongs to AppB's own schemes on requests the gateway does not sign.
   */
  readonly reservedHeaders: readonly string[];
  /** `apply` reads IdentityRequest.pairs (the verified request's parameters): the caller passes them. */
  readonly needsPairs: boolean;
  /** Derives the per-configuration state, once per configuration object (never per request). */
  compile(id: ResolvedIdentityOf<M>, cfg: RuntimeConfig): S;
  /**
   * The upstream headers `apply` sets (canonical names). A client copy never reaches AppB:
   * removed from every request, except `authorization`, which is removed from the requests the
   * gateway signs only (on others it is AppB's own; see `clientHeaderFilter`).
   */
  ownedHeaders(state: S): readonly string[];
  /** A client header this mode filters by value on requests it does not sign, or null. */
  clientHeaderFilter(state: S): ClientHeaderFilter | null;
  /** The public keys AppB verifies this mode's credentials with ([] for a mode without keys). */
  publicKeys(state: S): readonly PublishedKey[];
  /**
   * Sets what AppB needs to know `user` on r.headers (oauth1: re-signs the request) and returns
   * the exact request-target to send. `linkId`: the application link the request came through.
   */
  apply(state: S, r: IdentityRequest, user: string, linkId: string): Promise<string> | string;
}
