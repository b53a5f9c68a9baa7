// The one callback rule (DESIGN.md section 7). A callback is parsed by hand (WHATWG URL would
// quietly resolve '..', turn '\' into '/' and decode, which is exactly what an attacker relies on),
// normalized (scheme and host lower-case, default port dropped) and must then equal a registered
// URL in scheme, host, port and path; it may only add a query string. No prefix matching.
import { parseForm } from './encode.js';

export const OOB = 'oob';

const MAX_LENGTH = 2048;
const DEFAULT_PORT: Readonly<Record<string, string>> = { http: '80', https: '443' };
// Visible ASCII only: no spaces, no control characters, no raw non-ASCII (IDN look-alikes).
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;
// scheme "://" authority path-abempty [ "?" query ]; '#' is refused before this runs.
const ABSOLUTE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?]*)([^?]*)(?:\?(.*))?$/s;
// A DNS name (letters, digits, '-', '.') or an IPv6 literal; no '%', no '@', no trailing dot.
const HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])$/;
// Parameters the gateway adds to the redirect; a callback carrying its own would confuse the consumer.
const RESERVED_QUERY = new Set(['oauth_token', 'oauth_verifier']);

export interface ParsedCallback {
  scheme: 'http' | 'https';
  /** Lower-cased host, IPv6 in brackets. */
  host: string;
  /** '' for the scheme's default port. */
  port: string;
  path: string;
  /** Raw query without '?', or null when there is none. */
  query: string | null;
}

export type CallbackCheck = { ok: true; callback: string } | { ok: false; reason: string };

/** Parses an absolute http(s) URL under the strict rules above; a string reason when it is not one. */
export function parseCallback(raw: string): ParsedCallback | string {
  if (raw.length > MAX_LENGTH) return `longer than ${MAX_LENGTH} characters`;
  if (!VISIBLE_ASCII.test(raw)) return 'contains spaces, control or non-ASCII characters';
  if (raw.includes('#')) return 'has a fragment';
  if (raw.includes('\\')) return "contains '\\'";
  const m = ABSOLUTE.exec(raw);
  if (!m) return 'is not an absolute http(s) URL';
  const scheme = (m[1] ?? '').toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return `scheme ${scheme}: is not http or https`;
  const authority = m[2] ?? '';
  if (authority.includes('@')) return 'has user information (user@host)';
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d{0,5}))?$/.exec(authority);
  if (!hp) return 'has an invalid host or port';
  const host = (hp[1] ?? '').toLowerCase();
  if (!HOST.test(host)) return 'has an invalid host';
  const portText = hp[2] ?? '';
  if (portText !== '' && (Number(portText) < 1 || Number(portText) > 65535)) return 'has an invalid port';
  const port = portText === '' || Number(portText) === Number(DEFAULT_PORT[scheme]) ? '' : String(Number(portText));
  const path = m[3] === '' ? '/' : (m[3] ?? '/');
  if (/%2e|%2f|%5c|%00/i.test(path)) return 'path contains an encoded dot, slash or backslash';
  if (path.split('/').some((seg) => seg === '.' || seg === '..')) return "path contains '.' or '..' segments";
  if (path.includes('//')) return 'path contains an empty segment';
  const query = m[4] ?? null;
  if (query !== null) {
    let names: string[];
    try {
      names = parseForm(query).map(([name]) => name);
    } catch {
      return 'query is not correctly percent-encoded';
    }
    const reserved = names.find((n) => RESERVED_QUERY.has(n));
    if (reserved) return `query already carries ${reserved}`;
  }
  return { scheme, host, port, path, query };
}

function origin(p: ParsedCallback): string {
  return `${p.scheme}://${p.host}${p.port === '' ? '' : `:${p.port}`}`;
}

/** The normalized form that is stored with the token and redirected to. */
export function formatCallback(p: ParsedCallback): string {
  return origin(p) + p.path + (p.query === null ? '' : `?${p.query}`);
}

/** scheme://host[:port] of a stored http(s) callback (for the approval page's form-action). */
export function callbackOrigin(callback: string): string | null {
  const p = parseCallback(callback);
  return typeof p === 'string' ? null : origin(p);
}

/**
 * Checks `candidate` (the oauth_callback as received) against a link's registered callbackUrls.
 * Returns the normalized callback to store, or why it is refused.
 */
export function checkCallback(registered: readonly string[], candidate: string): CallbackCheck {
  if (candidate === OOB) {
    return registered.includes(OOB) ? { ok: true, callback: OOB } : { ok: false, reason: 'oob is not registered for this link' };
  }
  const c = parseCallback(candidate);
  if (typeof c === 'string') return { ok: false, reason: `oauth_callback ${c}` };
  for (const entry of registered) {
    if (entry === OOB) continue;
    const r = parseCallback(entry);
    if (typeof r === 'string') continue;
    if (r.scheme !== c.scheme || r.host !== c.host || r.port !== c.port || r.path !== c.path) continue;
    // A registered query must stay as it is; the callback may only append parameters to it.
    if (r.query !== null && !(c.query === r.query || (c.query ?? '').startsWith(`${r.query}&`))) continue;
    return { ok: true, callback: formatCallback(c) };
  }
  return { ok: false, reason: 'oauth_callback does not match a registered callback URL of this link' };
}

/** The callback with `params` appended to its own query (which is kept byte for byte). */
export function appendQuery(callback: string, params: Array<[string, string]>): string {
  const extra = params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  if (extra === '') return callback;
  const q = callback.indexOf('?');
  if (q < 0) return `${callback}?${extra}`;
  return callback.endsWith('?') || callback.endsWith('&') ? callback + extra : `${callback}&${extra}`;
}
