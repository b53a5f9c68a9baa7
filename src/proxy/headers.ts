// Request headers towards AppB and response headers back: hop-by-hop headers dropped, every
// client-sent copy of an identity header removed (with `_`/`-` variants and anything named in
// Connection), X-Forwarded-* set by the gateway (DESIGN.md sections 2 and 7). The checks of the
// request's own headers are src/http/headers.ts.
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { RuntimeConfig } from '../config/load.js';
import { peerAddress } from '../http/headers.js';
import { HOP_BY_HOP, canonicalHeaderName, compiledOf, forwardedUrlOf, type ForwardedUrl } from './compiled.js';

export { canonicalHeaderName, forwardedUrlOf, type ForwardedUrl };

// `Connection: keep-alive`, what nearly every client sends, names only a header dropped anyway (HOP_BY_HOP).
const NAMES_NO_HEADER = /^\s*keep-alive\s*$/i;

function connectionTokens(values: string[] | undefined): Set<string> | null {
  if (values === undefined || (values.length === 1 && NAMES_NO_HEADER.test(values[0] as string))) return null;
  const names = new Set<string>();
  for (const v of values ?? []) {
    for (const token of v.split(',')) {
      const t = token.trim();
      if (t !== '') names.add(canonicalHeaderName(t));
    }
  }
  return names;
}

export interface UpstreamHeaderOptions {
  cfg: RuntimeConfig;
  /** The peer is in server.trustedProxies: its X-Forwarded-* are believed. */
  trustedPeer: boolean;
  /** The request will carry an identity the gateway sets (3LO, 2LO, 2LOi). */
  withIdentity: boolean;
  /** Keep the client's Authorization (unsigned and pass-through requests; never an identity request). */
  keepAuthorization: boolean;
  /** Keep Connection: upgrade and Upgrade (WebSocket). */
  upgrade: boolean;
  requestId: string;
}

/**
 * The headers sent to AppB, rebuilt from the raw headers: hop-by-hop and identity headers of
 * the client removed, then Host and X-Forwarded-* set. Body framing headers are the caller's.
 */
export function upstreamHeaders(req: IncomingMessage, o: UpstreamHeaderOptions): OutgoingHttpHeaders {
  const { cfg } = o;
  const compiled = compiledOf(cfg);
  // A client header the identity mode filters by value (jwt: a Bearer token), on requests it does not sign.
  const filter = compiled.identity.clientHeaderFilter;
  // The per-configuration drop-set, plus what this request adds: names listed in its Connection header,
  // AppA's Authorization when it is not kept, and the trusted-header SSO header from an untrusted peer.
  const drop = o.withIdentity ? compiled.dropWithIdentity : compiled.dropUnsigned;
  let dropAlso: Set<string> | null = null;
  const connection = req.headersDistinct.connection;
  if (connection !== undefined) dropAlso = connectionTokens(connection);
  if (!o.keepAuthorization && !drop.has('authorization')) (dropAlso ??= new Set()).add('authorization');
  // The SSO header of trusted-header user auth is believed from its proxies only, so AppB gets no
  // forged copy; with an identity the gateway's credentials alone name the user, so it goes then too.
  if (!o.withIdentity && cfg.config.userAuth.mode === 'trusted-header' && !cfg.trustedUserSources?.contains(req.socket.remoteAddress)) {
    (dropAlso ??= new Set()).add(canonicalHeaderName(cfg.config.userAuth.header));
  }

  const out: OutgoingHttpHeaders = {};
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const canonical = name.includes('_') ? name.replaceAll('_', '-') : name;
    if (drop.has(canonical) || (dropAlso !== null && dropAlso.has(canonical))) continue;
    const value = raw[i + 1] as string;
    if (filter !== null && canonical === filter.header && filter.drops(value)) continue;
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [String(prev), value];
  }

  const peer = peerAddress(req);
  const priorFor = o.trustedPeer ? (req.headersDistinct['x-forwarded-for'] ?? []).join(', ') : '';
  out['x-forwarded-for'] = priorFor !== '' ? `${priorFor}, ${peer}` : peer;

  const fwd = forwardedUrl(req, o);
  out.host = fwd.host;
  out['x-forwarded-proto'] = fwd.proto;
  out['x-forwarded-host'] = fwd.host;
  out['x-forwarded-port'] = fwd.port;
  out['x-request-id'] = o.requestId;
  if (o.upgrade) {
    out.connection = 'Upgrade';
    const upgrade = req.headers.upgrade;
    if (upgrade !== undefined) out.upgrade = upgrade;
  }
  return out;
}

/**
 * Identity requests: the URL the gateway signed (upstream.signatureBaseUrl), since Atlassian
 * verifies against the URL it derives from these headers. Other requests: what a trusted proxy
 * says, else the public URL the client used (pass-through signatures were made over it).
 */
function forwardedUrl(req: IncomingMessage, o: UpstreamHeaderOptions): ForwardedUrl {
  const compiled = compiledOf(o.cfg);
  if (o.withIdentity) return compiled.forwardedSignature;
  const pub = compiled.forwardedPublic;
  if (!o.trustedPeer) return pub;
  const first = (name: string): string | undefined => req.headersDistinct[name]?.[0]?.split(',')[0]?.trim() || undefined;
  const proto = first('x-forwarded-proto');
  const host = first('x-forwarded-host');
  if (proto === undefined && host === undefined) return pub;
  const p = proto ?? pub.proto;
  const h = host ?? pub.host;
  const portInHost = /:(\d+)$/.exec(h)?.[1];
  return { proto: p, host: h, port: first('x-forwarded-port') ?? portInHost ?? (p === 'https' ? '443' : '80') };
}

/** Response headers of AppB without hop-by-hop ones, as the flat [name, value, ...] list writeHead takes. */
export function downstreamHeaderList(rawHeaders: string[], connection: string | undefined): string[] {
  const named = connection === undefined ? null : connectionTokens([connection]);
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || (named !== null && named.has(lower))) continue;
    out.push(name, rawHeaders[i + 1] as string);
  }
  return out;
}
