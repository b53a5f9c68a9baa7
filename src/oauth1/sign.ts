// Outgoing request signing (re-signing towards AppB; the client side in tests).
import { randomBytes, type KeyObject } from 'node:crypto';
import { signatureBaseString, normalizeBaseUri } from './base-string.js';
import { parseForm, percentEncode } from './encode.js';
import { hmacSha1, plaintextSignature, rsaSha1SignAsync, type SignatureMethod } from './signature.js';

export interface SignRequestInput {
  method: string;
  /** Absolute URL as the server will see itself; may contain a raw query. */
  url: string;
  /** Decoded form body parameters to include. */
  bodyPairs?: Array<[string, string]>;
  consumerKey: string;
  signatureMethod: SignatureMethod;
  consumerSecret?: string;
  privateKey?: KeyObject;
  /** '' allowed: sent as oauth_token="" (Atlassian 2LO style). */
  token?: string;
  tokenSecret?: string;
  /** e.g. oauth_callback, oauth_verifier, oauth_session_handle. */
  extraOAuth?: Record<string, string>;
  nonce?: string;
  timestamp?: number;
  realm?: string;
  /** Include oauth_version=1.0 (default true). */
  version?: boolean;
}

export interface SignedRequest {
  authorization: string;
  /** Every oauth_* parameter sent, oauth_signature included. */
  oauthParams: Record<string, string>;
  baseString: string;
}

// Names the signer sets itself; an extraOAuth copy would make two values for one name.
const RESERVED = new Set(['oauth_consumer_key', 'oauth_token', 'oauth_signature_method', 'oauth_signature', 'oauth_timestamp', 'oauth_nonce', 'oauth_version']);

function requireSecret(secret: string | undefined, method: SignatureMethod): string {
  if (secret === undefined) throw new Error(`${method} signing needs consumerSecret`);
  return secret;
}

/** Signs a request with the OAuth parameters in an Authorization header (RFC 5849 §3.5.1). */
export async function signRequest(input: SignRequestInput): Promise<SignedRequest> {
  const withoutFragment = input.url.split('#', 1)[0] ?? '';
  const q = withoutFragment.indexOf('?');
  const queryPairs = q < 0 ? [] : parseForm(withoutFragment.slice(q + 1));
  const bodyPairs = input.bodyPairs ?? [];
  const clash = [...queryPairs, ...bodyPairs].find(([name]) => name.startsWith('oauth_'));
  // Our own verifier (and Atlassian's) refuses oauth_* in two places.
  if (clash) throw new Error(`${clash[0]} in the URL or body: OAuth parameters go in the Authorization header only`);
  return signParsed({ ...input, baseUri: normalizeBaseUri(input.url), pairs: [...queryPairs, ...bodyPairs] });
}

export interface SignParsedInput extends Omit<SignRequestInput, 'url' | 'bodyPairs'> {
  /** The base string URI, already normalized (RFC 5849 §3.4.1.2). */
  baseUri: string;
  /** Decoded query and form body pairs as the server will see them, none of them oauth_*. */
  pairs: Array<[string, string]>;
}

/** signRequest for a caller that already holds the normalized URI and the decoded pairs (re-signing). */
export async function signParsed(input: SignParsedInput): Promise<SignedRequest> {
  const oauthParams: Record<string, string> = {
    oauth_consumer_key: input.consumerKey,
    ...(input.token !== undefined && { oauth_token: input.token }),
    oauth_signature_method: input.signatureMethod,
    oauth_timestamp: String(input.timestamp ?? Math.floor(Date.now() / 1000)),
    oauth_nonce: input.nonce ?? randomBytes(16).toString('hex'),
    ...(input.version !== false && { oauth_version: '1.0' }),
  };
  for (const [name, value] of Object.entries(input.extraOAuth ?? {})) {
    if (!name.startsWith('oauth_') || RESERVED.has(name)) throw new Error(`extraOAuth cannot carry ${name}`);
    oauthParams[name] = value;
  }

  const baseString = signatureBaseString(input.method, input.baseUri, [...input.pairs, ...Object.entries(oauthParams)]);
  const tokenSecret = input.tokenSecret ?? '';
  switch (input.signatureMethod) {
    case 'HMAC-SHA1':
      oauthParams.oauth_signature = hmacSha1(baseString, requireSecret(input.consumerSecret, 'HMAC-SHA1'), tokenSecret);
      break;
    case 'PLAINTEXT':
      oauthParams.oauth_signature = plaintextSignature(requireSecret(input.consumerSecret, 'PLAINTEXT'), tokenSecret);
      break;
    case 'RSA-SHA1':
      if (input.privateKey === undefined) throw new Error('RSA-SHA1 signing needs privateKey');
      oauthParams.oauth_signature = await rsaSha1SignAsync(baseString, input.privateKey);
      break;
  }

  const fields = Object.entries(oauthParams).map(([name, value]) => `${percentEncode(name)}="${percentEncode(value)}"`);
  if (input.realm !== undefined) fields.unshift(`realm="${percentEncode(input.realm)}"`);
  return { authorization: `OAuth ${fields.join(', ')}`, oauthParams, baseString };
}
