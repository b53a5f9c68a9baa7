// The request-target as received, and the query and form-body rewriting that removes AppA's
// OAuth and requestor parameters while keeping every other byte (DESIGN.md section 2).
import { hexValue, percentEncode } from '../oauth1/index.js';
import { GatewayError, gatewayFields } from '../errors/index.js';

export interface RequestTarget {
  /** Raw path bytes as received, always starting with '/'. */
  rawPath: string;
  /** Raw query without '?', '' when none. */
  rawQuery: string;
  /** The target carried a '?' (kept as is when the query is not changed). */
  hasQuery: boolean;
}

/** A request-target the gateway will not forward: answered 400 (bad_request_target). */
export class BadRequestTargetError extends GatewayError {
  constructor(detail: string) {
    super(`Bad request target: ${detail}`);
    gatewayFields(this, 400, 'bad_request_target');
    this.name = 'BadRequestTargetError';
  }
}

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/** Splits req.url; absolute-form (`GET http://host/p`) keeps only its path, never its host. */
export function requestTargetOf(url: string | undefined): RequestTarget {
  let target = url ?? '/';
  if (!target.startsWith('/')) {
    const m = ABSOLUTE_FORM.exec(target);
    if (!m) throw new BadRequestTargetError('expected a path');
    target = target.slice(m[0].length);
    if (!target.startsWith('/')) target = `/${target}`;
  }
  // A fragment is never sent by a browser; signing without it and forwarding with it would differ.
  if (target.includes('#')) throw new BadRequestTargetError('a fragment (#) is not allowed');
  const q = target.indexOf('?');
  return q < 0
    ? { rawPath: target, rawQuery: '', hasQuery: false }
    : { rawPath: target.slice(0, q), rawQuery: target.slice(q + 1), hasQuery: true };
}

/** xoauth_requestor_id in any letter case: a backend reading names case-insensitively takes each for the requestor. */
function isRequestorIdParam(name: string): boolean {
  return name.length === 19 && name.toLowerCase() === 'xoauth_requestor_id';
}

/** Names removed from a re-signed request: AppA's protocol parameters and its requestor. */
export function isSignedRequestParam(name: string): boolean {
  return name.startsWith('oauth_') || isRequestorIdParam(name) || name === 'user_id';
}

/** Removed from every request, signed or not: only an OAuth request may name a requestor. */
export function isSmuggledRequestor(name: string): boolean {
  return isRequestorIdParam(name);
}

/**
 * The decoded name of raw[start, end): '+' is a space, %XX a byte, invalid UTF-8 U+FFFD, and a
 * malformed escape stays as written, so 'oauth%5F…' is still seen as oauth_… Never throws: an
 * exception per segment would make a body of malformed names expensive. (collectParams has
 * refused any malformed name of a signed request before its parameters are removed.)
 */
function decodedName(raw: Buffer, start: number, end: number, scratch: Buffer): string {
  // Decoding never lengthens a name, so the caller's scratch buffer (at least end - start) holds it.
  const bytes = scratch;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = raw[i] as number;
    if (c === PERCENT && i + 2 < end) {
      const hi = hexValue(raw[i + 1] as number);
      const lo = hexValue(raw[i + 2] as number);
      if (hi >= 0 && lo >= 0) {
        bytes[n++] = hi * 16 + lo;
        i += 2;
        continue;
      }
    }
    bytes[n++] = c === PLUS ? 0x20 : c;
  }
  return bytes.toString('utf8', 0, n);
}

/** A raw form name decoded as matchingSegments decodes it ('+', %XX, invalid UTF-8 as U+FFFD, malformed escapes as written). */
export function decodeFormName(raw: Buffer): string {
  return decodedName(raw, 0, raw.length, Buffer.allocUnsafe(raw.length));
}

/**
 * Names an unsigned form body must not carry past server.formBodyLimitBytes, where it is no longer
 * read whole but streamed: any that would make it an OAuth request (oauth_…, any letter case, as
 * scanForm counts them) or that is stripped from unsigned requests (a smuggled requestor).
 */
export function isOAuthOrRequestorName(name: string): boolean {
  return name.toLowerCase().startsWith('oauth_') || isRequestorIdParam(name);
}

const AMP = 0x26;
const EQ = 0x3d;
const PERCENT = 0x25;
const PLUS = 0x2b;

/**
 * The [start, end) ranges of the non-empty '&'-separated segments of `raw` whose decoded name
 * matches. One pass without a string per segment for plain ASCII names: a body of a million tiny
 * parameters is only counted and looked at, never parsed (server.formParameterLimit).
 */
function matchingSegments(raw: Buffer, remove: (name: string) => boolean): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  let scratch = Buffer.alloc(0);
  let start = 0;
  let nameEnd = -1;
  let plain = true;
  for (let i = 0; i <= raw.length; i++) {
    const c = i < raw.length ? (raw[i] as number) : AMP;
    if (c !== AMP) {
      if (nameEnd >= 0) continue;
      if (c === EQ) nameEnd = i;
      else if (c === PERCENT || c === PLUS || c >= 0x80) plain = false;
      continue;
    }
    if (i > start) {
      const end = nameEnd >= 0 ? nameEnd : i;
      if (!plain && scratch.length < end - start) scratch = Buffer.allocUnsafe(Math.max(256, end - start));
      const name = plain ? raw.toString('latin1', start, end) : decodedName(raw, start, end, scratch);
      if (remove(name)) found.push([start, i]);
    }
    start = i + 1;
    nameEnd = -1;
    plain = true;
  }
  return found;
}

/** `raw` without the given segments: the runs of segments between them, joined by '&' again. */
function cutSegments(raw: Buffer, cuts: Array<[number, number]>): Buffer {
  const runs: Buffer[] = [];
  let from = 0;
  for (const [start, end] of cuts) {
    // A run exists when at least one segment (possibly empty) lies between the cuts.
    if (from <= start - 1) runs.push(raw.subarray(from, start - 1));
    from = end + 1;
  }
  if (from <= raw.length) runs.push(raw.subarray(from));
  const parts: Buffer[] = [];
  runs.forEach((run, i) => {
    if (i > 0) parts.push(Buffer.from('&'));
    parts.push(run);
  });
  return Buffer.concat(parts);
}

/** The raw query without the segments whose name matches; every other byte kept. */
export function removeQueryParams(rawQuery: string, remove: (name: string) => boolean): { query: string; changed: boolean } {
  if (rawQuery === '') return { query: '', changed: false };
  // Node refuses a request-target that is not ASCII, so latin1 round-trips it.
  const raw = Buffer.from(rawQuery, 'latin1');
  const cuts = matchingSegments(raw, remove);
  return cuts.length === 0 ? { query: rawQuery, changed: false } : { query: cutSegments(raw, cuts).toString('latin1'), changed: true };
}

/** The raw form body without the segments whose name matches; every other byte kept. */
export function removeFormParams(body: Buffer, remove: (name: string) => boolean): { body: Buffer; changed: boolean } {
  const cuts = matchingSegments(body, remove);
  return cuts.length === 0 ? { body, changed: false } : { body: cutSegments(body, cuts), changed: true };
}

/** Appends one name=value pair, RFC 5849 encoded, to a raw query. */
export function appendQueryParam(rawQuery: string, name: string, value: string): string {
  const pair = `${percentEncode(name)}=${percentEncode(value)}`;
  return rawQuery === '' ? pair : `${rawQuery}&${pair}`;
}
