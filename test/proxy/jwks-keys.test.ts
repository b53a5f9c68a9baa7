// The keys /jwks.json publishes (src/proxy/identity/keys.ts): the current mode's keys, plus a key
// a reload replaced until the last token signed with it expired (its ttl plus a minute).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Gateway } from '../../src/gateway.js';
import { jwksDocument, notePublishedKeys } from '../../src/proxy/identity/keys.js';
import type { PublishedKey } from '../../src/proxy/identity/mode.js';

const key = (kid: string): PublishedKey => ({ kid, jwk: { kty: 'OKP', kid }, ttlSeconds: 30 });
const kids = (doc: { keys: Array<Record<string, unknown>> } | null) => doc?.keys.map((k) => k.kid) ?? null;
// The published list is kept per gateway object; nothing else of it is read.
const gateway = () => ({}) as Gateway;

describe('the published JWKS keys', () => {
  it('lists the current keys; a mode without keys has no JWKS', () => {
    assert.deepEqual(kids(jwksDocument(gateway(), [key('a')], 0)), ['a']);
    assert.equal(jwksDocument(gateway(), [], 0), null);
  });

  it('a replaced key stays listed until its tokens expired (ttl + 60 s after the reload)', () => {
    const gw = gateway();
    notePublishedKeys(gw, [key('a')]); // a token signed before anyone fetched the JWKS
    assert.deepEqual(kids(jwksDocument(gw, [key('b')], 1000)), ['a', 'b']);
    assert.deepEqual(kids(jwksDocument(gw, [key('b')], 1000 + 89_000)), ['a', 'b']);
    assert.deepEqual(kids(jwksDocument(gw, [key('b')], 1000 + 90_000)), ['b']);
  });

  it('noting a listed key again adds nothing; a reload to a mode without keys answers null', () => {
    const gw = gateway();
    notePublishedKeys(gw, [key('a')]);
    notePublishedKeys(gw, [key('a')]);
    assert.deepEqual(kids(jwksDocument(gw, [key('a')], 0)), ['a']);
    assert.equal(jwksDocument(gw, [], 10), null);
    // Back to keys within the minute: the retired key is still listed beside the current one.
    assert.deepEqual(kids(jwksDocument(gw, [key('c')], 20)), ['a', 'c']);
  });

  it('a reload that keeps the keyId but changes the key publishes the new key under it, not the old one', () => {
    const gw = gateway();
    const old: PublishedKey = { kid: 'fixed', jwk: { kty: 'OKP', kid: 'fixed', x: 'old' }, ttlSeconds: 30 };
    const renewed: PublishedKey = { kid: 'fixed', jwk: { kty: 'OKP', kid: 'fixed', x: 'new' }, ttlSeconds: 30 };
    notePublishedKeys(gw, [old]);
    assert.deepEqual(jwksDocument(gw, [old], 0)?.keys, [old.jwk]);
    assert.deepEqual(jwksDocument(gw, [renewed], 10)?.keys, [renewed.jwk]);
    assert.deepEqual(jwksDocument(gw, [renewed], 20)?.keys, [renewed.jwk]);
  });
});
