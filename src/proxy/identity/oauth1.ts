// oauth1 identity mode: the gateway is itself a 2LOi consumer of AppB. It signs a new request
// with its own consumer key (RSA-SHA1 on the thread pool, or HMAC-SHA1), oauth_token="" and
// xoauth_requestor_id=<user> appended to the query; the base-string URI is
// upstream.signatureBaseUrl (context path included) + the raw path received.
import type { KeyObject } from 'node:crypto';
import { baseStringUri, parseForm, signParsed } from '../../oauth1/index.js';
import { appendQueryParam } from '../../http/target.js';
import { requestTarget, type IdentityMode } from './mode.js';

interface OAuth1State {
  consumerKey: string;
  signatureMethod: 'RSA-SHA1' | 'HMAC-SHA1';
  /** signParsed's key input for the method: { privateKey } or { consumerSecret }. */
  key: { privateKey: KeyObject } | { consumerSecret: string };
  signatureBaseUrl: string;
}

const OWNED = ['authorization'] as const;

export const oauth1Mode: IdentityMode<'oauth1', OAuth1State> = {
  name: 'oauth1',
  reservedHeaders: [],
  needsPairs: true,
  compile(id, cfg) {
    return {
      consumerKey: id.consumerKey,
      signatureMethod: id.signatureMethod,
      key: id.signatureMethod === 'RSA-SHA1' ? { privateKey: id.privateKey } : { consumerSecret: id.sharedSecret },
      signatureBaseUrl: cfg.signatureBaseUrl.href,
    };
  },
  ownedHeaders: () => OWNED,
  clientHeaderFilter: () => null,
  publicKeys: () => [],
  async apply(s, r, user) {
    const query = appendQueryParam(r.query, 'xoauth_requestor_id', user);
    // Base-string URI: signatureBaseUrl (context path included) + the raw path; pairs: the query as forwarded and the body.
    const pairs = r.pairs ?? [...parseForm(r.query), ...(r.formBody ? parseForm(r.formBody.toString('utf8')) : [])];
    const signed = await signParsed({
      method: r.method,
      baseUri: baseStringUri(s.signatureBaseUrl, r.rawPath),
      pairs: [...pairs, ['xoauth_requestor_id', user]],
      consumerKey: s.consumerKey,
      signatureMethod: s.signatureMethod,
      token: '',
      ...s.key,
    });
    r.headers.authorization = signed.authorization;
    return requestTarget(r, query);
  },
};
