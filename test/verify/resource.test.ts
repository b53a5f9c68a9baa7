// The resource-request checks of src/verify/resource.ts, pure over a signed request and a link:
// which flow a request is, the user it names, and whether its link lets it run as that user.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { bodyHash, isOAuthProblem } from '../../src/oauth1/index.js';
import type { OAuthRequestView } from '../../src/http/request-view.js';
import {
  checkAccessTokenOfLink,
  checkBodyHash,
  checkImpersonation,
  checkNonceFresh,
  checkThreeLegged,
  requestorOf,
  resourceFlowOf,
  twoLeggedUser,
} from '../../src/verify/resource.js';
import { checkProtocolParams, readOAuthParams, type SignedRequest } from '../../src/verify/steps.js';
import { runtimeConfig, tempDir, testConfigObject, HMAC_LINK_ID } from '../helpers/fixtures.js';

const t = tempDir();
after(() => t.cleanup());

// app-a: 2LO as svc-appa, impersonation denying 'admin'. app-h: no 2LO, no 3LO, impersonation of alice and Bob only.
const cfg = runtimeConfig(
  t,
  testConfigObject(t, {
    patch: {
      links: [
        {
          id: 'link-rsa',
          name: 'AppA',
          consumerKey: 'app-a',
          signatureMethods: ['RSA-SHA1'],
          publicKeyFile: 'app-a.pub.pem',
          impersonation: { enabled: true, denyUsers: ['admin'] },
          twoLegged: { enabled: true, executeAs: 'svc-appa' },
        },
        {
          id: HMAC_LINK_ID,
          name: 'AppH',
          consumerKey: 'app-h',
          signatureMethods: ['HMAC-SHA1'],
          sharedSecretFile: 'app-h.secret',
          threeLegged: false,
          impersonation: { enabled: true, allowUsers: ['alice', 'Bob'] },
        },
        {
          id: 'link-plain',
          name: 'AppP',
          consumerKey: 'app-p',
          signatureMethods: ['HMAC-SHA1'],
          sharedSecretFile: 'app-h.secret',
        },
      ],
    },
  }),
);

function link(consumerKey: string) {
  const l = cfg.linksByConsumerKey.get(consumerKey);
  assert.ok(l, consumerKey);
  return l;
}

/** Asserts that `fn` throws the named OAuth problem with its status. */
function problemOf(fn: () => unknown, problem: string, status: 400 | 401): string {
  let caught: unknown;
  assert.throws(fn, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(isOAuthProblem(caught), `expected an OAuthProblem, got ${String(caught)}`);
  assert.equal(caught.problem, problem, caught.message);
  assert.equal(caught.status, status);
  return caught.message;
}

/** A signed request as the stateless checks leave it: protocol parameters in the header, the rest in the query. */
function request(oauth: Record<string, string> = {}, rawQuery = ''): SignedRequest {
  const header = { oauth_consumer_key: 'app-a', oauth_signature_method: 'RSA-SHA1', oauth_signature: 'c2ln', oauth_timestamp: '1700000000', oauth_nonce: 'n-1', ...oauth };
  const view: OAuthRequestView = {
    method: 'GET',
    rawPath: '/rest/api/2/myself',
    rawQuery,
    authorization: `OAuth ${Object.entries(header)
      .map(([k, v]) => `${k}="${v}"`)
      .join(', ')}`,
  };
  const params = readOAuthParams(view);
  assert.ok(params);
  return checkProtocolParams(view, params);
}

describe('resourceFlowOf', () => {
  it('a token makes it 3LO; an empty or absent token with a requestor 2LOi; neither 2LO', () => {
    assert.equal(resourceFlowOf(request({ oauth_token: 'tok' })), '3LO');
    assert.equal(resourceFlowOf(request({ oauth_token: '' }, 'xoauth_requestor_id=alice')), '2LOi');
    assert.equal(resourceFlowOf(request({}, 'user_id=alice')), '2LOi');
    assert.equal(resourceFlowOf(request({ oauth_token: '' })), '2LO');
    assert.equal(resourceFlowOf(request()), '2LO');
  });
});

describe('requestorOf', () => {
  it('the user named by xoauth_requestor_id or user_id; null when none is named', () => {
    assert.equal(requestorOf(request({}, 'xoauth_requestor_id=alice')), 'alice');
    assert.equal(requestorOf(request({}, 'user_id=b%C3%B6b')), 'böb');
    assert.equal(requestorOf(request()), null);
    assert.equal(requestorOf(request({ oauth_token: 'tok' })), null);
  });

  it('a requestor with an access token -> parameter_rejected: the token alone names the user', () => {
    assert.match(problemOf(() => requestorOf(request({ oauth_token: 'tok' }, 'xoauth_requestor_id=alice')), 'parameter_rejected', 400), /the token names the user/);
  });

  it('both names at once -> parameter_rejected', () => {
    problemOf(() => requestorOf(request({}, 'xoauth_requestor_id=alice&user_id=alice')), 'parameter_rejected', 400);
  });

  it('xoauth_requestor_id in another letter case -> parameter_rejected (a backend reading it case-insensitively would take it)', () => {
    assert.match(problemOf(() => requestorOf(request({}, 'XOAUTH_REQUESTOR_ID=admin')), 'parameter_rejected', 400), /lower case/);
    problemOf(() => requestorOf(request({}, 'xoauth_requestor_id=alice&Xoauth_Requestor_Id=admin')), 'parameter_rejected', 400);
  });

  for (const [label, raw] of [
    ['empty', ''],
    ['leading space', '%20alice'],
    ['a zero-width joiner', 'al%E2%80%8Dice'],
    ['a no-break space', 'al%C2%A0ice'],
    ['a control character', 'al%07ice'],
  ] as const) {
    it(`a requestor name with ${label} -> parameter_rejected`, () => {
      problemOf(() => requestorOf(request({}, `xoauth_requestor_id=${raw}`)), 'parameter_rejected', 400);
    });
  }
});

describe('checkThreeLegged / twoLeggedUser', () => {
  it('a link takes 3LO unless threeLegged is false -> permission_denied (401)', () => {
    checkThreeLegged(link('app-a'));
    problemOf(() => checkThreeLegged(link('app-h')), 'permission_denied', 401);
  });

  it('plain 2LO runs as the link\'s executeAs user; a link without 2LO -> permission_denied', () => {
    assert.equal(twoLeggedUser(link('app-a')), 'svc-appa');
    problemOf(() => twoLeggedUser(link('app-h')), 'permission_denied', 401);
  });
});

describe('checkImpersonation', () => {
  it('a link without impersonation -> permission_denied', () => {
    assert.match(problemOf(() => checkImpersonation(link('app-p'), 'alice'), 'permission_denied', 401), /does not allow impersonation/);
  });

  it('denyUsers refuses the name and every look-alike of it (case, accents, full-width forms)', () => {
    checkImpersonation(link('app-a'), 'alice');
    for (const name of ['admin', 'ADMIN', 'ádmin', 'ａｄｍｉｎ', 'adm\u0131n']) {
      assert.match(problemOf(() => checkImpersonation(link('app-a'), name), 'permission_denied', 401), /denyUsers/, name);
    }
  });

  it('allowUsers admits an entry up to letter case, never a mere look-alike of it', () => {
    checkImpersonation(link('app-h'), 'alice');
    checkImpersonation(link('app-h'), 'ALICE');
    checkImpersonation(link('app-h'), 'bob');
    for (const name of ['alíce', 'ａlice', 'carol']) {
      assert.match(problemOf(() => checkImpersonation(link('app-h'), name), 'permission_denied', 401), /allowUsers/, name);
    }
  });
});

describe('checkAccessTokenOfLink', () => {
  it('the token of this link passes; another consumer key or link id -> token_rejected', () => {
    const l = link('app-a');
    checkAccessTokenOfLink(l, { consumerKey: 'app-a', linkId: 'link-rsa' });
    problemOf(() => checkAccessTokenOfLink(l, { consumerKey: 'app-h', linkId: 'link-rsa' }), 'token_rejected', 401);
    problemOf(() => checkAccessTokenOfLink(l, { consumerKey: 'app-a', linkId: HMAC_LINK_ID }), 'token_rejected', 401);
  });
});

describe('checkNonceFresh', () => {
  it('a nonce the store had seen -> nonce_used', () => {
    checkNonceFresh(true);
    problemOf(() => checkNonceFresh(false), 'nonce_used', 401);
  });
});

describe('checkBodyHash', () => {
  const body = Buffer.from('{"summary":"x"}');
  // Percent-encoded as in an Authorization header (base64 may carry '+', '/', '=').
  const hashed = (bytes: Buffer) => request({ oauth_body_hash: encodeURIComponent(bodyHash(bytes)) });

  it('no oauth_body_hash: nothing to check, whatever the body', () => {
    checkBodyHash(request(), body);
    checkBodyHash(request(), undefined);
  });

  it('the hash of the body received passes; an absent body hashes as the empty one', () => {
    checkBodyHash(hashed(body), body);
    checkBodyHash(hashed(Buffer.alloc(0)), undefined);
  });

  it('a body other than the one hashed -> signature_invalid (the body is part of what was signed)', () => {
    problemOf(() => checkBodyHash(hashed(body), Buffer.from('{"summary":"y"}')), 'signature_invalid', 401);
    problemOf(() => checkBodyHash(hashed(body), undefined), 'signature_invalid', 401);
  });
});
