// The contract suite against the in-memory store.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStore, MEMORY_STORE_WARNING } from '../../src/store/index.js';
import { createMemoryStore } from '../../src/store/memory.js';
import { fakeClock, storeContract } from './contract.js';

storeContract('memory', async () => {
  const clock = fakeClock();
  const store = createMemoryStore({ now: clock.now });
  return { store, now: clock, cleanup: () => store.close() };
});

describe('memory store', () => {
  it('says it serves one instance only', () => {
    assert.match(MEMORY_STORE_WARNING, /one|single/i);
    assert.match(MEMORY_STORE_WARNING, /Redis/);
  });

  it('createStore picks it when no Redis is configured', async () => {
    const store = createStore({ redis: null });
    assert.equal(store.isHealthy(), true);
    const rt = await store.createRequestToken({
      linkId: 'l',
      consumerKey: 'c',
      callback: 'oob',
      version: '1.0a',
      ttlSeconds: 60,
    });
    assert.ok(await store.getRequestToken(rt.token));
    await store.close();
  });
});
