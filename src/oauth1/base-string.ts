// Signature base string (RFC 5849 §3.4.1): base string URI, normalized parameters, concatenation.
import { percentEncode } from './encode.js';

interface BaseUri {
  /** scheme://host[:port], lower-cased, default port dropped. */
  origin: string;
  /** Path bytes as received ('' when absent), ' ' already turned into %20. */
  path: string;
}

const DEFAULT_PORT: Readonly<Record<string, string>> = { http: '80', https: '443' };
// scheme "://" authority path [ "?" query ] [ "#" fragment ] — parsed by hand, because WHATWG URL
// rewrites the path (dot segments, '\', escapes) and the base string must keep the bytes as sent.
const ABSOLUTE_URI = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/;
const REG_NAME = /^[A-Za-z0-9\-._~!$&'()*+,;=%]+$/;
const IP_LITERAL = /^\[[0-9A-Fa-f:.]+\]$/;

function parseBaseUri(url: string): BaseUri {
  const m = ABSOLUTE_URI.exec(url);
  if (!m) throw new Error(`base string URI must be an absolute http(s) URL: ${JSON.stringify(url)}`);
  const scheme = (m[1] ?? '').toLowerCase();
  const authority = m[2] ?? '';
  const rawPath = m[3] ?? '';
  if (!(scheme in DEFAULT_PORT)) throw new Error(`base string URI scheme must be http or https, not ${scheme}`);
  if (authority.includes('@')) throw new Error('base string URI must not contain userinfo');

  // host = IP-literal / reg-name, optionally followed by ":" port (an empty port means the default).
  const hostPort = /^(\[[^\]]*\]|[^:]*)(?::([^:]*))?$/.exec(authority);
  const host = (hostPort?.[1] ?? '').toLowerCase();
  const port = hostPort?.[2] ?? '';
  if (host === '' || !(IP_LITERAL.test(host) || REG_NAME.test(host))) {
    throw new Error(`base string URI has no valid host: ${JSON.stringify(url)}`);
  }
  if (port !== '' && !(/^[0-9]{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    throw new Error(`base string URI has an invalid port: ${JSON.stringify(port)}`);
  }
  const keepPort = port !== '' && Number(port) !== Number(DEFAULT_PORT[scheme]);
  return {
    origin: `${scheme}://${host}${keepPort ? `:${Number(port)}` : ''}`,
    path: rawPath.replaceAll(' ', '%20'),
  };
}

/**
 * RFC 5849 §3.4.1.2 for an absolute URL: scheme and host lower-cased, default port dropped,
 * query and fragment removed, path kept as received (only ' ' becomes %20), '/' when empty.
 * Throws an Error for URLs without scheme, host or with an invalid port.
 */
export function normalizeBaseUri(url: string): string {
  const { origin, path } = parseBaseUri(url);
  return origin + (path === '' ? '/' : path);
}

// The base URLs come from configuration (publicBaseUrl, signatureBaseUrl): parsed once each, not per request.
const configuredBases = new Map<string, BaseUri>();

function configuredBase(url: string): BaseUri {
  let base = configuredBases.get(url);
  if (base === undefined) {
    base = parseBaseUri(url);
    // Reloads may bring new URLs; a handful is all a process ever sees.
    if (configuredBases.size >= 16) configuredBases.clear();
    configuredBases.set(url, base);
  }
  return base;
}

/**
 * Base string URI of a request received at `rawPath` (raw request-target path, no query) behind
 * `publicBaseUrl` (from config, never from the Host header), which may carry a context path.
 */
export function baseStringUri(publicBaseUrl: string, rawPath: string): string {
  const base = configuredBase(publicBaseUrl);
  // A query cannot be part of the path; cut it defensively rather than sign it twice.
  const path = rawPath.split(/[?#]/, 1)[0]?.replaceAll(' ', '%20') ?? '';
  const joined = base.path.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
  return base.origin + joined;
}

/** §3.4.1.3.2: encode names and values, sort by encoded name then encoded value (byte order), join. */
export function normalizeParameters(pairs: Array<[string, string]>): string {
  const encoded = pairs.map(([name, value]): [string, string] => [percentEncode(name), percentEncode(value)]);
  // Encoded strings are ASCII, so UTF-16 code-unit order is byte order.
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  encoded.sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]));
  return encoded.map(([name, value]) => `${name}=${value}`).join('&');
}

/** §3.4.1.1: METHOD&encoded(base string URI)&encoded(normalized parameters). */
export function signatureBaseString(method: string, baseUri: string, pairs: Array<[string, string]>): string {
  return [method.toUpperCase(), baseUri, normalizeParameters(pairs)].map(percentEncode).join('&');
}
