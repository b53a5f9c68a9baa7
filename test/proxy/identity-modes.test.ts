// Every identity mode of the registry (src/proxy/identity/index.ts), through the real gateway:
// it declares the upstream headers it owns, and a client-supplied copy of each of them (and of
// every mode's reserved headers, in their `_` spellings too) never reaches AppB, signed or not.
// A new mode fails here until it has a harness identity (HARNESS_KIND) and, when it filters a
// client header by value, a sample value the filter drops (FILTERED_SAMPLE).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { allModes, RESERVED_IDENTITY_HEADERS, type IdentityModeName } from '../../src/proxy/identity/index.js';
import { compiledOf } from '../../src/proxy/compiled.js';
import { send, signWithGatewaySigner } from '../helpers/clients.js';
import { startHarness, type Harness, type IdentityKind } from '../helpers/harness.js';
import type { AppBRequest } from '../helpers/appb.js';

/** The harness identity that runs each registered mode. */
const HARNESS_KIND: Record<IdentityModeName, IdentityKind> = { oauth1: 'oauth1-rsa', header: 'header', jwt: 'jwt' };

/** For a mode with a client header filter: a value of that header the filter drops. */
const FILTERED_SAMPLE: Partial<Record<IdentityModeName, string>> = { jwt: 'Bearer forged-by-client' };

const FORGED = 'forged-by-client';
const canonical = (name: string) => name.toLowerCase().replaceAll('_', '-');
const isCanonical = (name: string) => name === canonical(name) && /^[a-z0-9-]+$/.test(name);

/** AppB's values of a header, whatever spelling (`-` or `_`, any case) it arrived in. */
function valuesAt(seen: AppBRequest, name: string): string[] {
  return seen.headers.filter(([k]) => canonical(k) === name).map(([, v]) => v);
}

/** A client copy of each header in both spellings (X-Forwarded-User and X_Forwarded_User). */
function forgedCopies(names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    out[name] = FORGED;
    out[name.replaceAll('-', '_')] = FORGED;
  }
  return out;
}

describe('the identity mode registry', () => {
  it('every registered mode has a harness identity here, and every harness identity a mode', () => {
    assert.deepEqual(allModes().map((m) => m.name).sort(), Object.keys(HARNESS_KIND).sort());
  });

  it("reserved headers are canonical names, never Authorization (AppB's own on unsigned requests)", () => {
    for (const mode of allModes()) {
      for (const name of mode.reservedHeaders) {
        assert.ok(isCanonical(name), `${mode.name}: ${name}`);
        assert.notEqual(name, 'authorization', mode.name);
      }
    }
    assert.ok(RESERVED_IDENTITY_HEADERS.includes('x-forwarded-user'));
    assert.ok(RESERVED_IDENTITY_HEADERS.includes('x-applink-gateway-signature'));
  });
});

for (const mode of allModes()) {
  describe(`identity mode ${mode.name}: client copies of the identity headers never reach AppB`, () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ identity: HARNESS_KIND[mode.name], store: 'memory' });
    });
    after(() => h?.close());

    const identity = () => compiledOf(h.cfg).identity;
    /** Every header a client may not set: this mode's owned ones (but Authorization) and every mode's reserved ones. */
    const forbidden = () => [...new Set([...identity().ownedHeaders.filter((n) => n !== 'authorization'), ...RESERVED_IDENTITY_HEADERS])];

    it('declares the upstream headers it owns, as canonical names', () => {
      const c = identity();
      assert.equal(c.name, mode.name);
      assert.ok(c.ownedHeaders.length > 0, `${mode.name} declares no owned header`);
      for (const name of c.ownedHeaders) assert.ok(isCanonical(name), name);
      const filter = c.clientHeaderFilter;
      if (filter !== null) {
        assert.ok(isCanonical(filter.header), filter.header);
        const sample = FILTERED_SAMPLE[mode.name];
        assert.ok(sample !== undefined, `add a value ${mode.name} filters to FILTERED_SAMPLE`);
        assert.equal(filter.drops(sample), true);
      }
    });

    it('a signed request: AppB gets the gateway’s own value of each owned header, never the client’s', async () => {
      const token = await h.accessToken('rsa', 'alice');
      const target = '/rest/api/2/myself';
      const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token });
      const r = await send(h.url, { target, headers: { authorization, ...forgedCopies(forbidden()) } });
      assert.equal(r.status, 200, r.text);
      const seen = r.appb();
      assert.equal(seen.user, 'alice', JSON.stringify(seen.refused ?? seen.auth));
      assert.deepEqual(seen.headers.filter(([, v]) => v.includes(FORGED)), [], 'no forged copy reached AppB');
      for (const name of identity().ownedHeaders) {
        const values = valuesAt(seen, name);
        assert.equal(values.length, 1, `${name}: exactly the gateway's value (${JSON.stringify(values)})`);
        // AppA's own credentials are a client copy too.
        assert.notEqual(values[0], authorization, `${name} carries AppA's Authorization`);
      }
      for (const name of RESERVED_IDENTITY_HEADERS) {
        if (!identity().ownedHeaders.includes(name)) assert.deepEqual(valuesAt(seen, name), [], name);
      }
    });

    it('an unsigned request: no client copy reaches AppB; Authorization of another scheme is AppB’s own', async () => {
      const sample = FILTERED_SAMPLE[mode.name];
      const filter = identity().clientHeaderFilter;
      const headers: Record<string, string | string[]> = { ...forgedCopies(forbidden()) };
      if (filter !== null && sample !== undefined) headers[filter.header] = sample;
      const r = await send(h.url, { target: '/browse/KEY-1', headers });
      assert.equal(r.status, 200, r.text);
      const seen = r.appb();
      assert.equal(seen.user, null);
      assert.deepEqual(seen.headers.filter(([, v]) => v.includes(FORGED)), [], 'no forged copy reached AppB');
      for (const name of forbidden()) assert.deepEqual(valuesAt(seen, name), [], name);

      // The exception the interface names: on requests the gateway does not sign, Authorization is AppB's own.
      const basic = 'Basic dXNlcjpwYXNzd29yZA==';
      const kept = await send(h.url, { target: '/browse/KEY-1', headers: { authorization: basic } });
      assert.equal(kept.status, 200, kept.text);
      assert.deepEqual(valuesAt(kept.appb(), 'authorization'), [basic]);
    });
  });
}

describe('identity mode header with its own userHeader: the configured header is owned too', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header', store: 'memory', patch: { upstream: { identity: { userHeader: 'X-Remote-User' } } } });
  });
  after(() => h?.close());

  it('owns x-remote-user; a client copy never reaches AppB, nor one of the default X-Forwarded-User', async () => {
    assert.deepEqual([...compiledOf(h.cfg).identity.ownedHeaders].sort(), ['x-applink-gateway-signature', 'x-remote-user']);
    const forged = forgedCopies(['x-remote-user', 'x-forwarded-user', 'x-applink-gateway-signature']);
    const token = await h.accessToken('rsa', 'alice');
    const target = '/rest/api/2/myself';
    const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token });
    // (The test AppB reads X-Forwarded-User: what it answers does not matter, what it received does.)
    await send(h.url, { target, headers: { authorization, ...forged } });
    const signed = h.appb.requests.at(-1) as AppBRequest;
    assert.deepEqual(signed.headers.filter(([, v]) => v.includes(FORGED)), []);
    assert.deepEqual(valuesAt(signed, 'x-remote-user'), ['alice']);
    assert.deepEqual(valuesAt(signed, 'x-forwarded-user'), []);

    await send(h.url, { target: '/browse/KEY-1', headers: forged });
    const unsigned = h.appb.requests.at(-1) as AppBRequest;
    assert.equal(unsigned.path, '/browse/KEY-1');
    assert.deepEqual(unsigned.headers.filter(([, v]) => v.includes(FORGED)), []);
    assert.deepEqual(valuesAt(unsigned, 'x-remote-user'), []);
  });
});
