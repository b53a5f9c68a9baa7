// The keys /jwks.json publishes, per gateway process: the current mode's public keys plus every
// key this process has signed with that a reload replaced, until the last token signed with it
// expired (its ttl plus a minute). Nothing here knows a mode: keys come from IdentityMode.publicKeys.
import type { Gateway } from '../../gateway.js';
import type { PublishedKey } from './mode.js';

interface Listed extends PublishedKey {
  /** When a reload replaced it (ms); null while current. */
  retiredAt: number | null;
}

const published = new WeakMap<Gateway, Listed[]>();

/**
 * Remembers the keys a credential was just signed with, so a reload does not unpublish them too
 * early (called per signed request of a mode with keys: a lookup, no allocation once listed).
 */
export function notePublishedKeys(gw: Gateway, keys: readonly PublishedKey[]): void {
  for (const key of keys) {
    const list = published.get(gw);
    if (list === undefined || !isListed(list, key.kid)) published.set(gw, [...(list ?? []), { ...key, retiredAt: null }]);
  }
}

function sameKey(a: PublishedKey, b: PublishedKey): boolean {
  return JSON.stringify(a.jwk) === JSON.stringify(b.jwk);
}

function isListed(list: readonly Listed[], kid: string): boolean {
  for (const k of list) if (k.kid === kid && k.retiredAt === null) return true;
  return false;
}

/**
 * The JWKS document ({keys: [...]}) given the current mode's keys; null when it has none (the
 * admin port answers 404). Keys no longer current are retired here and dropped once expired.
 */
export function jwksDocument(gw: Gateway, current: readonly PublishedKey[], nowMs: number): { keys: Array<Record<string, unknown>> } | null {
  // A reload that keeps an explicit keyId but changes the key: one kid cannot name two keys (a
  // verifier picks by kid), so the old key goes at once and the new one is published under it.
  const list = (published.get(gw) ?? []).filter((k) => !current.some((c) => c.kid === k.kid && !sameKey(c, k)));
  for (const k of list) if (k.retiredAt === null && !current.some((c) => c.kid === k.kid)) k.retiredAt = nowMs;
  for (const c of current) if (!isListed(list, c.kid)) list.push({ ...c, retiredAt: null });
  const live = list.filter((k) => k.retiredAt === null || nowMs - k.retiredAt < (k.ttlSeconds + 60) * 1000);
  published.set(gw, live);
  if (current.length === 0) return null;
  return { keys: live.map((k) => k.jwk as Record<string, unknown>) };
}
