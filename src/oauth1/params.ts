// Collects the OAuth protocol parameters and the base-string parameters of one request (RFC 5849 §3.4.1.3, §3.5).
import { hexValue, parseForm } from './encode.js';
import { parseAuthorizationHeader, type ParsedAuthorization } from './header.js';
import { OAuthProblem, isOAuthProblem } from './problem.js';

export type ParamLocation = 'header' | 'query' | 'body';

export interface RequestParts {
  /** Every Authorization header received (Node's req.headers keeps only the first: use req.headersDistinct). */
  authorization?: string | string[];
  /** Raw query string without '?', may be ''. */
  rawQuery: string;
  /** Raw body, ONLY when Content-Type is application/x-www-form-urlencoded. */
  formBody?: string;
  /**
   * Most query + form body parameters an OAuth request may have (the gateway's is
   * server.formParameterLimit, defaulted by the configuration schema); omitted, no bound.
   */
  parameterLimit?: number;
}

export interface CollectedParams {
  /** Every oauth_* parameter (oauth_signature included), decoded. */
  oauth: Record<string, string>;
  /** Where the oauth_* parameters came from. */
  location: ParamLocation;
  realm?: string;
  /** Decoded (name, value) pairs for the base string: query + header oauth params + body, minus oauth_signature and realm. */
  baseParams: Array<[string, string]>;
  /** xoauth_requestor_id / user_id when present (from query or body); absent keys omitted. */
  extra: Record<string, string>;
}

const REQUESTOR_PARAMS = ['xoauth_requestor_id', 'user_id'] as const;

interface FormSource {
  pairs: Array<[string, string]>;
  /** Raw names of segments whose percent-encoding is malformed. */
  malformed: string[];
}

const isOAuthName = (name: string): boolean => name.startsWith('oauth_');
const isRequestorName = (name: string): boolean => (REQUESTOR_PARAMS as readonly string[]).includes(name);

// Lenient per segment: a broken query on a request that is not OAuth at all is AppB's business, not ours.
function readForm(raw: string): FormSource {
  const source: FormSource = { pairs: [], malformed: [] };
  for (const segment of raw.split('&')) {
    try {
      source.pairs.push(...parseForm(segment));
    } catch (e) {
      if (!isOAuthProblem(e)) throw e;
      source.malformed.push(segment.split('=', 1)[0] ?? '');
    }
  }
  return source;
}

function carriesOAuth(source: FormSource): boolean {
  // A malformed 'oauth%5F...' name still announces an OAuth request, so it must not slip through as unsigned.
  return source.pairs.some(([name]) => isOAuthName(name)) || source.malformed.some((raw) => /^oauth(?:_|%5f)/i.test(raw));
}

/**
 * One pass over a raw form (query or form body) that decodes nothing and builds no arrays: its
 * non-empty '&'-separated segments, and whether a name may be an oauth_* one (any letter case,
 * escapes decoded: a superset of what collectParams counts as carrying OAuth, malformed names too).
 */
export function scanForm(raw: string): { count: number; oauth: boolean } {
  let count = 0;
  let oauth = false;
  for (let start = 0; start <= raw.length; ) {
    let end = raw.indexOf('&', start);
    if (end < 0) end = raw.length;
    if (end > start) {
      count++;
      if (!oauth && nameStartsLikeOAuth(raw, start, end)) oauth = true;
    }
    start = end + 1;
  }
  return { count, oauth };
}

const OAUTH_PREFIX = 'oauth_';

/** The name of raw[start, end) decodes to 'oauth_…' in any letter case (no allocation). */
function nameStartsLikeOAuth(raw: string, start: number, end: number): boolean {
  let i = start;
  for (let k = 0; k < OAUTH_PREFIX.length; k++) {
    if (i >= end) return false;
    let c = raw.charCodeAt(i);
    if (c === 0x25) {
      const hi = i + 2 < end ? hexValue(raw.charCodeAt(i + 1)) : -1;
      const lo = i + 2 < end ? hexValue(raw.charCodeAt(i + 2)) : -1;
      if (hi < 0 || lo < 0) return false;
      c = hi * 16 + lo;
      i += 3;
    } else {
      i += 1;
    }
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== OAUTH_PREFIX.charCodeAt(k)) return false;
  }
  return true;
}

function readAuthorization(authorization: string | string[] | undefined): ParsedAuthorization | null {
  const values = authorization === undefined ? [] : Array.isArray(authorization) ? authorization : [authorization];
  // Two Authorization headers: we and AppB could each read a different one.
  if (values.length > 1) throw new OAuthProblem('parameter_rejected', { detail: 'more than one Authorization header' });
  return values[0] === undefined ? null : parseAuthorizationHeader(values[0]);
}

/**
 * Finds the OAuth parameters of a request. Returns null when the request is not an OAuth
 * request at all (no OAuth Authorization header and no oauth_* in query or form body).
 * Throws parameter_rejected for duplicates, for oauth_* in more than one place, for more
 * than one Authorization header, for undecodable parameters of an OAuth request and for an
 * OAuth request of more than `parameterLimit` parameters (a longer non-OAuth one is null, unparsed).
 */
export function collectParams(parts: RequestParts): CollectedParams | null {
  const header = readAuthorization(parts.authorization);
  // One pass that decodes nothing: counts the parameters and says whether any name may be oauth_*.
  const queryScan = scanForm(parts.rawQuery);
  const bodyScan = parts.formBody === undefined ? { count: 0, oauth: false } : scanForm(parts.formBody);
  const maybeOAuth = header !== null || queryScan.oauth || bodyScan.oauth;
  // Browser traffic: no OAuth header and no name that could be oauth_* (the scan's test is a superset of carriesOAuth's).
  if (!maybeOAuth) return null;
  const limit = parts.parameterLimit;
  // The signature work grows with the parameters of an OAuth request.
  if (limit !== undefined && queryScan.count + bodyScan.count > limit) {
    throw new OAuthProblem('parameter_rejected', { detail: `more than ${limit} parameters in the query and form body` });
  }
  const query = readForm(parts.rawQuery);
  const body = parts.formBody === undefined ? { pairs: [], malformed: [] } : readForm(parts.formBody);

  const sources: Array<[ParamLocation, Array<[string, string]>]> = [];
  if (header) sources.push(['header', header.params]);
  if (carriesOAuth(query)) sources.push(['query', query.pairs]);
  if (carriesOAuth(body)) sources.push(['body', body.pairs]);
  const first = sources[0];
  if (first === undefined) return null;

  // Every parameter of an OAuth request is signed, so each must decode.
  const malformed = [...query.malformed, ...body.malformed];
  if (malformed.length > 0) throw OAuthProblem.rejected(malformed, 'malformed percent-encoding');

  const headerPairs = header?.params ?? [];
  const all = [...query.pairs, ...headerPairs, ...body.pairs];

  // oauthlib keeps the last of repeated header params; any repeat is refused here instead.
  const counts = new Map<string, number>();
  for (const [name] of all) {
    if (isOAuthName(name) || isRequestorName(name)) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const repeated = [...counts].filter(([, n]) => n > 1).map(([name]) => name);
  if (repeated.length > 0) throw OAuthProblem.rejected(repeated, `repeated parameter ${repeated.join(', ')}`);

  if (sources.length > 1) {
    const elsewhere = sources.slice(1).flatMap(([, pairs]) => pairs.filter(([name]) => isOAuthName(name)).map(([name]) => name));
    throw OAuthProblem.rejected(elsewhere, `OAuth parameters in more than one place: ${sources.map(([l]) => l).join(', ')}`);
  }

  const oauth: Record<string, string> = {};
  for (const [name, value] of all) if (isOAuthName(name)) oauth[name] = value;
  const extra: Record<string, string> = {};
  for (const [name, value] of all) if (isRequestorName(name)) extra[name] = value;

  return {
    oauth,
    location: first[0],
    ...(header?.realm !== undefined && { realm: header.realm }),
    // Only the header's realm is excluded (it is never in `all`); a query 'realm' is an ordinary parameter.
    baseParams: all.filter(([name]) => name !== 'oauth_signature'),
    extra,
  };
}
