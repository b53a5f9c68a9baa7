// What the verifier (src/verify) is given of an HTTP request: raw path and query, every
// Authorization header, the form body as text, and which parts were not UTF-8. Built here from
// the request's parts, so verify/ never reads an IncomingMessage nor its body.
import type { IncomingMessage } from 'node:http';
import { readBody, isFormContentType, type BodyDeadlines } from './body.js';
import { checkSingleContentType } from './headers.js';
import { requestTargetOf } from './target.js';

/** What the verifier needs to know of an HTTP request. */
export interface OAuthRequestView {
  method: string;
  /** Raw request-target path, as received (no query). */
  rawPath: string;
  /** Raw query without '?', '' when none. */
  rawQuery: string;
  authorization?: string | string[];
  /** Raw body, only when Content-Type is application/x-www-form-urlencoded. */
  formBody?: string;
  /** server.formParameterLimit: an OAuth request with more parameters is refused unparsed (omitted: no bound; the gateway always passes it). */
  parameterLimit?: number;
  /** Parts whose raw bytes are not UTF-8 (decoded leniently above): an OAuth request with any is refused. */
  notUtf8?: Array<'query' | 'form body'>;
}

// fatal: raw bytes that are not UTF-8 are found, not replaced; ignoreBOM: a leading U+FEFF is kept, as Buffer#toString keeps it.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Raw request bytes as text: strict UTF-8, else (utf8: false) the lenient decoding, for deciding whether the request is OAuth at all. */
export function requestText(bytes: Buffer): { text: string; utf8: boolean } {
  try {
    return { text: strictUtf8.decode(bytes), utf8: true };
  } catch {
    return { text: bytes.toString('utf8'), utf8: false };
  }
}

/**
 * The view of a request's parts. The query arrives as a latin1 string of its raw bytes (Node
 * itself refuses bytes beyond ASCII in a request-target); the form body as its raw bytes.
 */
export function oauthViewOf(parts: {
  method: string;
  target: { rawPath: string; rawQuery: string };
  authorization: string | string[] | undefined;
  formBody?: Buffer;
  parameterLimit?: number;
}): OAuthRequestView {
  const notUtf8: Array<'query' | 'form body'> = [];
  let rawQuery = parts.target.rawQuery;
  if (/[\u0080-\uffff]/.test(rawQuery)) {
    const q = requestText(Buffer.from(rawQuery, 'latin1'));
    rawQuery = q.text;
    if (!q.utf8) notUtf8.push('query');
  }
  let formBody: string | undefined;
  if (parts.formBody !== undefined) {
    const b = requestText(parts.formBody);
    formBody = b.text;
    if (!b.utf8) notUtf8.push('form body');
  }
  return {
    method: parts.method,
    rawPath: parts.target.rawPath,
    rawQuery,
    authorization: parts.authorization,
    ...(formBody !== undefined && { formBody }),
    ...(parts.parameterLimit !== undefined && { parameterLimit: parts.parameterLimit }),
    ...(notUtf8.length > 0 && { notUtf8 }),
  };
}

/**
 * The OAuthRequestView of a Node request: raw path and query, every Authorization header, the
 * form body (read whole, at most `limitBytes`, and kept with the request: see body.ts). The
 * request-target is split as the proxy splits it, so an absolute-form target (`POST http://host/p`,
 * as a client using the gateway as its HTTP proxy sends) is verified over its path.
 * `parameterLimit`: server.formParameterLimit (omitted: no bound).
 */
export async function requestViewOf(req: IncomingMessage, limitBytes: number, parameterLimit: number | undefined, deadlines: BodyDeadlines): Promise<OAuthRequestView> {
  checkSingleContentType(req);
  return oauthViewOf({
    method: req.method ?? 'GET',
    target: requestTargetOf(req.url),
    authorization: req.headersDistinct.authorization,
    ...(isFormContentType(req.headers['content-type']) && { formBody: await readBody(req, limitBytes, deadlines) }),
    ...(parameterLimit !== undefined && { parameterLimit }),
  });
}
