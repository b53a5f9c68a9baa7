// userAuth trusted-header: the SSO header (X-Remote-User, in either spelling) is AppB's only on
// unsigned traffic from a trusted source; it never travels next to a gateway identity, and never
// from any other source.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startHarness, type Harness } from '../helpers/harness.js';
import { send, signWithGatewaySigner } from '../helpers/clients.js';

describe('trusted-header user auth: the SSO header never travels next to a gateway identity', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      identity: 'oauth1-rsa',
      store: 'memory',
      // Replaced, not merged: the demo userAuth block has keys trusted-header does not take.
      edit: (obj) => void (obj.userAuth = { mode: 'trusted-header', header: 'X-Remote-User', trustedSources: ['127.0.0.1/32'] }),
    });
  });
  after(() => h?.close());

  /** Like send(), from a chosen loopback source address. */
  function sendFrom(localAddress: string, target: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    const u = new URL(h.url);
    return new Promise((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, path: target, headers, localAddress, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('dropped on a verified (3LO) request from the trusted source, in both spellings', async () => {
    const token = await h.accessToken('rsa', 'alice');
    const target = '/rest/api/2/myself';
    const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token });
    const r = await send(h.url, { target, headers: { authorization, 'x-remote-user': 'admin', x_remote_user: 'admin' } });
    assert.equal(r.status, 200, r.text);
    const seen = r.appb();
    assert.equal(seen.user, 'alice');
    assert.deepEqual(h.appb.header(seen, 'x-remote-user'), []);
    assert.deepEqual(h.appb.header(seen, 'x_remote_user'), []);
  });

  it('kept on unsigned traffic from the trusted source; dropped from any other source', async () => {
    const trusted = await sendFrom('127.0.0.1', '/browse/A-1', { 'x-remote-user': 'carol' });
    assert.equal(trusted.status, 200, trusted.body);
    assert.deepEqual(h.appb.header(h.appb.requests.at(-1)!, 'x-remote-user'), ['carol']);
    const other = await sendFrom('127.0.0.2', '/browse/A-2', { 'x-remote-user': 'carol' });
    assert.equal(other.status, 200, other.body);
    assert.deepEqual(h.appb.header(h.appb.requests.at(-1)!, 'x-remote-user'), []);
  });
});
