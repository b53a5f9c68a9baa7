// The checks every signed request goes through, as small steps that each throw one
// OAuthProblem (DESIGN.md section 8), over a request view built by src/http/request-view.ts:
// pure, no I/O. The dance endpoints and the proxy compose them; what only resource requests
// check (flow, requestor, permissions) is resource.ts.
import type { RuntimeConfig } from '../config/load.js';
import type { ResolvedLink } from '../config/links.js';
import type { OAuthRequestView } from '../http/request-view.js';
import {
  OAuthProblem,
  collectParams,
  baseStringUri,
  signatureBaseString,
  verifySignature,
  type CollectedParams,
  type SignatureMethod,
} from '../oauth1/index.js';
import type { NonceKey } from '../store/types.js';

/** A request whose OAuth parameters passed the stateless checks. */
export interface SignedRequest {
  view: OAuthRequestView;
  params: CollectedParams;
  consumerKey: string;
  signatureMethod: SignatureMethod;
  /** undefined = no oauth_token parameter at all (oauthlib 2LO); '' = empty (Atlassian 2LO). */
  token: string | undefined;
  timestamp: number;
  nonce: string;
}

// RFC 5849 3.1 lets PLAINTEXT omit timestamp and nonce; net.oauth (Atlassian) does not, and without
// them every such request of a consumer would share one nonce key.
const REQUIRED = ['oauth_consumer_key', 'oauth_signature_method', 'oauth_signature', 'oauth_timestamp', 'oauth_nonce'] as const;

/**
 * Collects the OAuth parameters; null when the request is not an OAuth request at all. Raw bytes
 * that are not UTF-8 would be signed as U+FFFD, so many bodies would share one signature and AppB
 * would get bytes nobody signed: an OAuth request with any is parameter_rejected, as `%FF` is.
 */
export function readOAuthParams(view: OAuthRequestView): CollectedParams | null {
  const params = collectParams({ authorization: view.authorization, rawQuery: view.rawQuery, formBody: view.formBody, parameterLimit: view.parameterLimit });
  if (params !== null && view.notUtf8 !== undefined && view.notUtf8.length > 0) {
    throw new OAuthProblem('parameter_rejected', { detail: `the ${view.notUtf8.join(' and ')} of an OAuth request is not valid UTF-8` });
  }
  return params;
}

/** Version, presence and shape of the protocol parameters. */
export function checkProtocolParams(view: OAuthRequestView, params: CollectedParams): SignedRequest {
  const o = params.oauth;
  if (o.oauth_version !== undefined && o.oauth_version !== '1.0') {
    throw new OAuthProblem('version_rejected', { detail: `oauth_version ${JSON.stringify(o.oauth_version)}` });
  }
  const method = o.oauth_signature_method;
  const absent = REQUIRED.filter((n) => o[n] === undefined || o[n] === '');
  if (absent.length > 0) throw OAuthProblem.absent(absent);
  if (method !== 'HMAC-SHA1' && method !== 'RSA-SHA1' && method !== 'PLAINTEXT') {
    throw new OAuthProblem('signature_method_rejected', { detail: `method ${JSON.stringify(method)}` });
  }
  const tsText = o.oauth_timestamp ?? '';
  if (!/^\d{1,12}$/.test(tsText)) throw OAuthProblem.rejected(['oauth_timestamp']);
  const nonce = o.oauth_nonce ?? '';
  if (nonce.length > 255) throw OAuthProblem.rejected(['oauth_nonce']);
  return {
    view,
    params,
    consumerKey: o.oauth_consumer_key as string,
    signatureMethod: method,
    token: o.oauth_token,
    timestamp: Number(tsText),
    nonce,
  };
}

/** The consumer key names a configured link (null = unknown, for pass-through decisions). */
export function findLink(cfg: RuntimeConfig, req: SignedRequest): ResolvedLink | null {
  return cfg.linksByConsumerKey.get(req.consumerKey) ?? null;
}

export function requireLink(cfg: RuntimeConfig, req: SignedRequest): ResolvedLink {
  const link = findLink(cfg, req);
  if (!link) throw new OAuthProblem('consumer_key_unknown', { detail: 'consumer key is not a configured link' });
  return link;
}

/** The link allows this signature method; PLAINTEXT only over https. */
export function checkSignatureMethod(cfg: RuntimeConfig, link: ResolvedLink, req: SignedRequest): void {
  if (!link.signatureMethods.includes(req.signatureMethod)) {
    throw new OAuthProblem('signature_method_rejected', { detail: `${req.signatureMethod} not allowed for link ${link.id}` });
  }
  if (req.signatureMethod === 'PLAINTEXT' && cfg.publicBaseUrl.protocol !== 'https:') {
    throw new OAuthProblem('signature_method_rejected', { detail: 'PLAINTEXT needs https' });
  }
}

/** oauth_timestamp within the configured skew of now. */
export function checkTimestamp(cfg: RuntimeConfig, req: SignedRequest, nowMs: number = Date.now()): void {
  const now = Math.floor(nowMs / 1000);
  const skew = cfg.config.oauth.timestampSkewSeconds;
  if (Math.abs(now - req.timestamp) > skew) throw OAuthProblem.timestamp(now - skew, now + skew);
}

/** The signature over the public URL (never the Host header), with the token secret given. */
export function checkSignature(cfg: RuntimeConfig, link: ResolvedLink, req: SignedRequest, tokenSecret: string): void {
  const uri = baseStringUri(cfg.publicBaseUrl.href, req.view.rawPath);
  const base = signatureBaseString(req.view.method, uri, req.params.baseParams);
  const ok = verifySignature({
    method: req.signatureMethod,
    baseString: base,
    signature: req.params.oauth.oauth_signature ?? '',
    consumerSecret: link.sharedSecret ?? undefined,
    tokenSecret,
    publicKeys: link.publicKeys,
    secureTransport: cfg.publicBaseUrl.protocol === 'https:',
  });
  if (!ok) throw new OAuthProblem('signature_invalid', { detail: `signature does not verify for ${link.consumerKey}` });
}

/** The nonce key: consumer key, timestamp, nonce and token (DESIGN.md section 6). */
export function nonceKeyOf(req: SignedRequest): NonceKey {
  return { consumerKey: req.consumerKey, timestamp: String(req.timestamp), nonce: req.nonce, token: req.token ?? '' };
}

/**
 * Nonces are remembered for twice the skew plus one second: a replay outside that fails the
 * timestamp check. The extra second: the check compares whole seconds (now rounded down), so a
 * timestamp is accepted for up to 2 x skew + 1 s of real time.
 */
export function nonceTtlSeconds(cfg: RuntimeConfig): number {
  return cfg.config.oauth.timestampSkewSeconds * 2 + 1;
}
