// What the proxy path derives from a configuration, computed once per configuration (at its
// first request after a load or reload) instead of on every request: the realm of refusals, the
// upstream target and path prefix, the URLs told to AppB, the header drop-sets, and the identity
// mode (looked up in the registry of src/proxy/identity/ and its state compiled here, once).
import type { RuntimeConfig } from '../config/load.js';
import { realmOf } from '../http/answer.js';
import { bodyDeadlinesOf, type BodyDeadlines } from '../http/body.js';
import { RESERVED_IDENTITY_HEADERS, compileIdentity, type CompiledIdentity } from './identity/index.js';

/** What AppB is told about the URL it was reached at. */
export interface ForwardedUrl {
  proto: string;
  /** host[:port], the port only when not the scheme's default (as in a Host header). */
  host: string;
  port: string;
}

export function forwardedUrlOf(url: URL): ForwardedUrl {
  const proto = url.protocol.replace(/:$/, '');
  return { proto, host: url.host, port: url.port !== '' ? url.port : proto === 'https' ? '443' : '80' };
}

/** Where AppB is: host without IPv6 brackets, explicit port (the path is in the exact request-target). */
export interface UpstreamTarget {
  protocol: string;
  host: string;
  hostname: string;
  port: string;
}

export interface CompiledProxyConfig {
  /** realm of WWW-Authenticate (realmOf: the public base URL without its trailing slash). */
  realm: string;
  /** upstream.url's path without trailing slashes ('' for none): AppB's request-target is this + the path received. */
  upstreamPathPrefix: string;
  /** server.timeouts for a body the gateway reads. */
  bodyDeadlines: BodyDeadlines;
  upstreamTarget: UpstreamTarget;
  upstreamHttps: boolean;
  /** signatureBaseUrl without a trailing slash: the base-string URI of a re-signed request is this + the raw path. */
  signatureBase: string;
  forwardedPublic: ForwardedUrl;
  forwardedSignature: ForwardedUrl;
  /**
   * Request headers never forwarded (canonical names: lower case, '_' as '-'): hop-by-hop, the
   * gateway's forwarding headers, every mode's reserved identity headers and the configured
   * mode's owned ones (but Authorization), Host and Content-Length; `withIdentity` adds what an
   * identity request also loses. A trusted-header SSO header is decided per request (it depends on the peer).
   */
  dropUnsigned: ReadonlySet<string>;
  dropWithIdentity: ReadonlySet<string>;
  /** upstream.identity.mode's implementation and its state for this configuration. */
  identity: CompiledIdentity;
}

// RFC 9110 7.6.1 and the usual non-standard ones; `expect` because Node already answered 100-continue.
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'http2-settings',
]);

// Set by the gateway alone; a client copy is removed from every request, signed or not. (The
// identity modes' own headers come from the registry: RESERVED_IDENTITY_HEADERS, ownedHeaders.)
export const GATEWAY_HEADERS: readonly string[] = [
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-server',
  'forwarded',
  'x-real-ip',
  'x-request-id',
];

/** Lower-case, `_` as `-`: X_Forwarded_User and x-forwarded-user are one header to a CGI-style backend. */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

const cache = new WeakMap<RuntimeConfig, CompiledProxyConfig>();

function compile(cfg: RuntimeConfig): CompiledProxyConfig {
  const upstream = cfg.upstreamUrl;
  const hostname = upstream.hostname.replace(/^\[|\]$/g, '');
  const upstreamHttps = upstream.protocol === 'https:';
  const identity = compileIdentity(cfg);
  const base = new Set<string>([...HOP_BY_HOP, ...GATEWAY_HEADERS, ...RESERVED_IDENTITY_HEADERS, 'host', 'content-length']);
  // On a request the gateway does not sign, Authorization is AppB's own (a mode may filter its values).
  for (const name of identity.ownedHeaders) if (name !== 'authorization') base.add(canonicalHeaderName(name));
  const withIdentity = new Set(base);
  // With an identity, the gateway's credentials alone name the user: AppA's header and any session cookie go.
  for (const name of identity.ownedHeaders) withIdentity.add(canonicalHeaderName(name));
  withIdentity.add('authorization');
  withIdentity.add('cookie');
  if (cfg.config.userAuth.mode === 'trusted-header') withIdentity.add(canonicalHeaderName(cfg.config.userAuth.header));
  return {
    realm: realmOf(cfg.publicBaseUrl),
    upstreamPathPrefix: upstream.pathname.replace(/\/+$/, ''),
    bodyDeadlines: bodyDeadlinesOf(cfg),
    upstreamTarget: { protocol: upstream.protocol, host: hostname, hostname, port: upstream.port || (upstreamHttps ? '443' : '80') },
    upstreamHttps,
    signatureBase: cfg.signatureBaseUrl.href.replace(/\/+$/, ''),
    forwardedPublic: forwardedUrlOf(cfg.publicBaseUrl),
    forwardedSignature: forwardedUrlOf(cfg.signatureBaseUrl),
    dropUnsigned: base,
    dropWithIdentity: withIdentity,
    identity,
  };
}

/** The compiled form of a configuration (one per configuration object: a reload compiles anew). */
export function compiledOf(cfg: RuntimeConfig): CompiledProxyConfig {
  let c = cache.get(cfg);
  if (c === undefined) {
    c = compile(cfg);
    cache.set(cfg, c);
  }
  return c;
}
