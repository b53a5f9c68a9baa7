// 2LOi requestor names are compared as the user names they are: look-alikes of a denied user
// (other letter cases, dotted/dotless i, accents, full-width letters), names with invisible or
// odd spaces, and letter-case variants of the parameter's own name never run as anyone AppB
// did not mean; allowUsers admits its entries only, up to letter case.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../helpers/harness.js';
import { problemOf, send, signWithGatewaySigner, type Sent } from '../helpers/clients.js';

function assertProblem(r: Sent, status: number, problem: string): void {
  assert.equal(r.status, status, r.text);
  assert.equal(problemOf(r).oauth_problem, problem, r.text);
}

describe('2LOi requestor names: look-alikes of a denied user, invisible characters, case variants', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header', store: 'memory' });
  });
  after(() => h?.close());

  async function twoLoi(query: string): Promise<Sent> {
    const target = `/rest/api/2/myself?${query}`;
    const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, emptyToken: true });
    return send(h.url, { target, headers: { authorization } });
  }

  it('names with surrounding, non-breaking or odd spaces, or control/format characters → parameter_rejected, AppB gets nothing', async () => {
    const before = h.appb.requests.length;
    // trailing, leading, NBSP, ideographic space, zero-width space (Cf), bidi mark (Cf), line separator
    for (const name of ['admin%20', '%20admin', 'admin%C2%A0', 'ad%E3%80%80min', 'ad%E2%80%8Bmin', '%E2%80%8Fadmin', 'ad%E2%80%A8min']) {
      const r = await twoLoi(`xoauth_requestor_id=${name}`);
      assertProblem(r, 400, 'parameter_rejected');
      assert.equal(problemOf(r).oauth_parameters_rejected, 'xoauth_requestor_id', name);
    }
    assertProblem(await twoLoi('user_id=admin%C2%A0'), 400, 'parameter_rejected');
    assert.equal(h.appb.requests.length, before, 'AppB received nothing');
  });

  it('look-alikes of a denied user (dotted/dotless i, accents, full-width, long s) → permission_denied', async () => {
    const before = h.appb.requests.length;
    for (const name of ['ADMIN', 'ADM%C4%B0N', 'adm%C4%B1n', 'a%CC%81dmin', '%C3%A1dmin', '%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E']) {
      assertProblem(await twoLoi(`xoauth_requestor_id=${name}`), 401, 'permission_denied');
    }
    assert.equal(h.appb.requests.length, before, 'AppB received nothing');
  });

  it('an ordinary name, with inner spaces and accents, still runs as itself', async () => {
    const r = await twoLoi('xoauth_requestor_id=J%C3%BCrgen%20M%C3%BCller');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.appb().user, 'Jürgen Müller');
  });

  it('XOAUTH_REQUESTOR_ID & co. on a signed request → parameter_rejected (3LO and 2LOi), AppB gets nothing', async () => {
    const before = h.appb.requests.length;
    const token = await h.accessToken('rsa', 'alice');
    for (const query of ['XOAUTH_REQUESTOR_ID=admin', 'Xoauth_Requestor_Id=admin']) {
      const target = `/rest/api/2/myself?${query}`;
      const authorization = await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, token });
      const r = await send(h.url, { target, headers: { authorization } });
      assertProblem(r, 400, 'parameter_rejected');
      assert.equal(problemOf(r).oauth_parameters_rejected, query.split('=')[0]);
    }
    assertProblem(await twoLoi('xoauth_requestor_id=bob&XOAUTH_REQUESTOR_ID=admin'), 400, 'parameter_rejected');
    assert.equal(h.appb.requests.length, before, 'AppB received nothing');
  });

  it('an unsigned request loses every letter-case variant of xoauth_requestor_id, and nothing else', async () => {
    const target = '/rest/api/2/search?XOAUTH_REQUESTOR_ID=admin&a=1&xoauth_Requestor_id=x&xoauth_requestor_idx=2&USER_ID=3';
    const r = await send(h.url, { target });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.appb().queryPairs, [
      ['a', '1'],
      ['xoauth_requestor_idx', '2'],
      ['USER_ID', '3'],
    ]);
  });
});

describe('2LOi allowUsers admits its entries only, up to letter case', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ identity: 'header', store: 'memory', linkPatch: { rsa: { impersonation: { enabled: true, denyUsers: ['admin'], allowUsers: ['Alice'] } } } });
  });
  after(() => h?.close());

  async function as(name: string): Promise<Sent> {
    const target = `/rest/api/2/myself?xoauth_requestor_id=${name}`;
    return send(h.url, { target, headers: { authorization: await signWithGatewaySigner({ link: 'rsa', method: 'GET', target, emptyToken: true }) } });
  }

  it('ALICE runs as ALICE; alíce, ALİCE and ａlice (look-alikes) and bob are refused', async () => {
    const ok = await as('ALICE');
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.appb().user, 'ALICE');
    const before = h.appb.requests.length;
    for (const name of ['al%C3%ADce', 'AL%C4%B0CE', '%EF%BD%81lice', 'bob']) assertProblem(await as(name), 401, 'permission_denied');
    assert.equal(h.appb.requests.length, before, 'AppB received nothing');
  });
});
