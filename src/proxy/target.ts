// The request-target as received, and the query and form-body rewriting that removes AppA's
// OAuth and requestor parameters while keeping every other byte (DESIGN.md section 2).
import { percentDecode, percentEncode } from '../oauth1/index.js';

export interface RequestTarget {
  /** Raw path bytes as received, always starting with '/'. */
  rawPath: string;
  /** Raw query without '?', '' when none. */
  rawQuery: string;
  /** The target carried a '?' (kept as is when the query is not changed). */
  hasQuery: boolean;
}

/** A request-target the gateway will not forward: answered 400 (Koa's `expose` convention). */
export class BadRequestTargetError extends Error {
  readonly status = 400;
  readonly expose = true;
  constructor(detail: string) {
    super(`Bad request target: ${detail}`);
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

/** Names removed from a re-signed request: AppA's protocol parameters and its requestor. */
export function isSignedRequestParam(name: string): boolean {
  return name.startsWith('oauth_') || name === 'xoauth_requestor_id' || name === 'user_id';
}

/** Removed from every request, signed or not: only an OAuth request may name a requestor. */
export function isSmuggledRequestor(name: string): boolean {
  return name === 'xoauth_requestor_id';
}

/** The decoded name of one form segment; a malformed name is matched on its raw text instead. */
function segmentName(segment: string): string {
  const raw = (segment.split('=', 1)[0] ?? '').replaceAll('+', ' ');
  try {
    return percentDecode(raw);
  } catch {
    // A malformed 'oauth%5F...' must not slip through as an ordinary name.
    return raw.replace(/%5f/gi, '_');
  }
}

/** The raw query without the segments whose name matches; every other byte kept. */
export function removeQueryParams(rawQuery: string, remove: (name: string) => boolean): { query: string; changed: boolean } {
  if (rawQuery === '') return { query: '', changed: false };
  const segments = rawQuery.split('&');
  const kept = segments.filter((s) => s === '' || !remove(segmentName(s)));
  return kept.length === segments.length ? { query: rawQuery, changed: false } : { query: kept.join('&'), changed: true };
}

const AMP = 0x26;

/** The raw form body without the segments whose name matches; every other byte kept. */
export function removeFormParams(body: Buffer, remove: (name: string) => boolean): { body: Buffer; changed: boolean } {
  const kept: Buffer[] = [];
  let removed = false;
  let start = 0;
  for (let i = 0; i <= body.length; i++) {
    if (i < body.length && body[i] !== AMP) continue;
    const segment = body.subarray(start, i);
    if (segment.length > 0 && remove(segmentName(segment.toString('utf8')))) removed = true;
    else kept.push(segment);
    start = i + 1;
  }
  if (!removed) return { body, changed: false };
  const parts: Buffer[] = [];
  kept.forEach((segment, i) => {
    if (i > 0) parts.push(Buffer.from('&'));
    parts.push(segment);
  });
  return { body: Buffer.concat(parts), changed: true };
}

/** Appends one name=value pair, RFC 5849 encoded, to a raw query. */
export function appendQueryParam(rawQuery: string, name: string, value: string): string {
  const pair = `${percentEncode(name)}=${percentEncode(value)}`;
  return rawQuery === '' ? pair : `${rawQuery}&${pair}`;
}
