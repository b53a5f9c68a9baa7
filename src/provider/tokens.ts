// Reading a request token with the reason it cannot be used, for the problem to answer.
import type { RequestToken, TokenStore } from '../store/types.js';

/**
 * The live request token, or whether it is unknown or expired. getRequestToken answers null for
 * both; inspectToken (asked on this failure path only) tells an expired token, kept for a grace
 * period after its expiry, from an unknown one. With `consumerKey`, an expired token of another
 * consumer reads as unknown: its expiry is none of that consumer's business.
 */
export async function findRequestToken(store: TokenStore, token: string, consumerKey?: string): Promise<RequestToken | 'unknown' | 'expired'> {
  const rt = await store.getRequestToken(token);
  if (rt) return rt;
  const status = await store.inspectToken(token);
  if (status?.kind !== 'request' || status.state !== 'expired') return 'unknown';
  return consumerKey === undefined || status.consumerKey === consumerKey ? 'expired' : 'unknown';
}
