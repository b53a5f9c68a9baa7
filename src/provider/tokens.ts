// Reading a request token with the reason it cannot be used, for the problem to answer.
import type { RequestToken, TokenStore } from '../store/types.js';

/**
 * The live request token, or whether it is unknown or expired. getRequestToken answers null for
 * both; the exchange script tells them apart, so it is asked with a consumer key no link can
 * have (links need a non-empty one): its checks end at 'wrong_consumer' before it changes anything.
 */
export async function findRequestToken(store: TokenStore, token: string): Promise<RequestToken | 'unknown' | 'expired'> {
  const rt = await store.getRequestToken(token);
  if (rt) return rt;
  const probe = await store.exchangeRequestToken(token, { consumerKey: '', verifier: null, accessTtlSeconds: 1 });
  if (probe.ok) throw new Error('store exchanged a request token for an empty consumer key');
  return probe.reason === 'expired' ? 'expired' : 'unknown';
}
