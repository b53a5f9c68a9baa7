// Checks of request headers that hold for every request, signed or not, before any body is read
// or any decision taken (the gateway and AppB must read the same message), and the client's
// address as the peer and trusted proxies give it (DESIGN.md sections 2 and 7).
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { unmap, type CidrMatcher } from '../config/cidr.js';
import { OAuthProblem } from '../oauth1/index.js';
import { GatewayError, gatewayFields } from '../errors/index.js';

/** A request header the gateway will not forward: answered 400 (bad_request_header). */
export class BadRequestHeaderError extends GatewayError {
  constructor(detail: string) {
    super(`Bad request header: ${detail}`);
    gatewayFields(this, 400, 'bad_request_header');
    this.name = 'BadRequestHeaderError';
  }
}

// An OAuth Authorization header, or an oauth_* / requestor name (raw, maybe %-encoded) in the query.
const OAUTH_AUTHORIZATION = /^\s*oauth(?:\s|$)/i;
const OAUTH_QUERY_NAME = /(?:^|&)x?oauth(?:_|%5f)/i;

/**
 * At most one Content-Type: Node keeps the first in req.headers, so the gateway would read the
 * body as one type while AppB, given both, may read it as the other. Refused with 400, in the
 * OAuth problem format when the request is an OAuth one.
 */
export function checkSingleContentType(req: IncomingMessage): void {
  const values = req.headersDistinct['content-type'] ?? [];
  if (values.length <= 1) return;
  const detail = 'more than one Content-Type header';
  const url = req.url ?? '';
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  const oauth = (req.headersDistinct.authorization ?? []).some((v) => OAUTH_AUTHORIZATION.test(v)) || OAUTH_QUERY_NAME.test(query);
  throw oauth ? OAuthProblem.rejected(['Content-Type'], detail) : new BadRequestHeaderError(detail);
}

const EXPOSED = Object.freeze({ expose: true });

/** A transfer coding the gateway cannot relay faithfully (RFC 9112 6.1: answer 501). */
export class UnsupportedTransferCodingError extends GatewayError {
  constructor(coding: string) {
    super(`Transfer-Encoding ${JSON.stringify(coding.slice(0, 100))} is not supported; send the body with chunked or Content-Length`);
    gatewayFields(this, 501, 'unsupported_transfer_coding', EXPOSED);
    this.name = 'UnsupportedTransferCodingError';
  }
}

/**
 * Node de-chunks the body and the gateway re-chunks it, so only plain `chunked` can be relayed:
 * forwarding a coding list such as `gzip, chunked` or `identity, chunked` verbatim would tell AppB
 * about codings the bytes no longer carry, and a backend that misreads the list could desync.
 */
export function checkTransferEncoding(req: IncomingMessage): void {
  const te = req.headers['transfer-encoding'];
  if (te === undefined) return;
  if (te.trim().toLowerCase() !== 'chunked') throw new UnsupportedTransferCodingError(te);
}

/** IPv4 peers on a dual-stack socket appear as ::ffff:a.b.c.d. */
export function peerAddress(req: IncomingMessage): string {
  return unmap(req.socket.remoteAddress ?? '');
}

/**
 * The client's address: the peer, or, when the peer is in server.trustedProxies, the nearest
 * address of X-Forwarded-For (read from the right) that is not a trusted proxy itself. An entry
 * that is not an IP address ends the walk at the last trusted hop.
 */
export function clientAddress(req: IncomingMessage, trustedProxies: CidrMatcher): string {
  let address = peerAddress(req);
  if (!trustedProxies.contains(address)) return address;
  const hops = (req.headersDistinct['x-forwarded-for'] ?? []).join(',').split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = unmap((hops[i] ?? '').trim());
    if (isIP(hop) === 0) break;
    address = hop;
    if (!trustedProxies.contains(hop)) break;
  }
  return address;
}
