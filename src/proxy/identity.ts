// How AppB learns the user of a verified request (upstream.identity.mode, DESIGN.md section 2):
// oauth1 (the gateway re-signs as a 2LOi consumer of AppB), header (X-Forwarded-User plus an
// HMAC), jwt (a short-lived Bearer token).
import { createHmac } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import type { RuntimeConfig } from '../config/load.js';
import type { Gateway } from '../gateway.js';
import { baseStringUri, parseForm, signParsed } from '../oauth1/index.js';
import { appendQueryParam } from '../http/target.js';
import { notePublishedKey, signIdentityJwt } from './jwt.js';

export const SIGNATURE_HEADER = 'x-applink-gateway-signature';

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
   */
  pairs?: Array<[string, string]>;
  headers: OutgoingHttpHeaders;
}

export interface IdentityResult {
  /** The request-target sent to AppB: path plus ?query when there is one. */
  path: string;
}

function requestTarget(r: IdentityRequest, query: string): string {
  const path = r.upstreamPathPrefix + r.rawPath;
  return query !== '' || r.keepBareQuestionMark ? `${path}?${query}` : path;
}

/** header mode: HMAC-SHA256 over "<t>\n<METHOD>\n<request-target>\n<user>" (target as its wire bytes, user as UTF-8). */
export function headerSignature(secret: Buffer, t: number, method: string, target: string, user: string): string {
  const mac = createHmac('sha256', secret)
    .update(`${t}\n${method.toUpperCase()}\n`)
    .update(target, 'latin1')
    .update('\n')
    .update(Buffer.from(user, 'utf8'))
    .digest('hex');
  return `t=${t},v1=${mac}`;
}

/** The user name as a header value: its UTF-8 bytes (Node writes a header string byte per char). */
export function userHeaderValue(user: string): string {
  return Buffer.from(user, 'utf8').toString('latin1');
}

/**
 * Sets the identity of `user` on the outgoing request (headers mutated) and returns the exact
 * request-target to send, which in oauth1 mode gains xoauth_requestor_id.
 */
export async function applyIdentity(gw: Gateway, cfg: RuntimeConfig, r: IdentityRequest, user: string, linkId: string): Promise<IdentityResult> {
  const id = cfg.identity;
  switch (id.mode) {
    case 'oauth1': {
      const query = appendQueryParam(r.query, 'xoauth_requestor_id', user);
      // Base-string URI: signatureBaseUrl (context path included) + the raw path; pairs: the query as forwarded and the body.
      const pairs = r.pairs ?? [...parseForm(r.query), ...(r.formBody ? parseForm(r.formBody.toString('utf8')) : [])];
      const signed = await signParsed({
        method: r.method,
        baseUri: baseStringUri(cfg.signatureBaseUrl.href, r.rawPath),
        pairs: [...pairs, ['xoauth_requestor_id', user]],
        consumerKey: id.consumerKey,
        signatureMethod: id.signatureMethod,
        token: '',
        ...(id.signatureMethod === 'RSA-SHA1' ? { privateKey: id.privateKey } : { consumerSecret: id.sharedSecret }),
      });
      r.headers.authorization = signed.authorization;
      return { path: requestTarget(r, query) };
    }
    case 'header': {
      const path = requestTarget(r, r.query);
      r.headers[id.userHeader.toLowerCase()] = userHeaderValue(user);
      r.headers[SIGNATURE_HEADER] = headerSignature(id.sharedSecret, Math.floor(Date.now() / 1000), r.method, path, user);
      return { path };
    }
    case 'jwt': {
      notePublishedKey(gw, id);
      r.headers.authorization = `Bearer ${await signIdentityJwt(id, user, linkId)}`;
      return { path: requestTarget(r, r.query) };
    }
  }
}
