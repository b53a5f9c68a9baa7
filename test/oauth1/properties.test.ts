// Property-based tests of the OAuth 1.0a core and the verifier's view of a request:
// * the header parser, form parsing, percent-decoding, parameter collection and the base string
//   throw nothing but OAuthProblem on any input (control bytes, broken escapes, lone surrogates,
//   huge and empty values, thousands of parameters);
// * sign -> verify round-trips for random methods, URLs, parameters and keys (HMAC-SHA1, RSA-SHA1,
//   PLAINTEXT over https);
// * any one-character change of a signed request (method, path, a parameter name or value, the
//   signature) makes verification fail.
// Seed and run count: printed at start; FC_SEED / FC_RUNS repeat or lengthen a run (README, Test).
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import {
  OAuthProblem,
  baseStringUri,
  collectParams,
  formEncode,
  isOAuthProblem,
  normalizeBaseUri,
  parseAuthorizationHeader,
  parseForm,
  percentDecode,
  percentEncode,
  scanForm,
  signRequest,
  signatureBaseString,
  type SignatureMethod,
} from '../../src/oauth1/index.js';
import type { RuntimeConfig } from '../../src/config/load.js';
import type { ResolvedLink } from '../../src/config/links.js';
import { BadRequestTargetError, requestTargetOf } from '../../src/http/target.js';
import type { OAuthRequestView } from '../../src/http/request-view.js';
import { checkProtocolParams, checkSignature, readOAuthParams } from '../../src/verify/steps.js';
import { announceSeed, checkProperty } from '../helpers/properties.js';

announceSeed(import.meta.filename);

// ---------------------------------------------------------------------------------------------
// Arbitraries

const fromCode = (c: number): string => String.fromCharCode(c);
/** String.prototype.toWellFormed (Node 20 has it, the ES2022 lib types do not): lone surrogates as U+FFFD. */
const wellFormed = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map(fromCode);
const controlChar = fc.oneof(fc.integer({ min: 0, max: 0x1f }).map(fromCode), fc.constant('\x7f'));
const hexDigit = fc.constantFrom(...'0123456789abcdefABCDEF');
const escape = fc.tuple(hexDigit, hexDigit).map(([a, b]) => `%${a}${b}`);
const brokenEscape = fc.oneof(fc.constant('%'), hexDigit.map((h) => `%${h}`), fc.constantFrom('%G0', '%0G', '%%', '%-1', '%+1', '% 1', '%\u00e91'));
// Pieces of the syntax the parsers look for, and escapes of bytes that are not UTF-8 on their own.
const syntax = fc.constantFrom(
  '"', ',', '=', ' ', '\t', '&', '+', '\\', ';', '?', '#', '/', 'oauth_', 'OAuth ', 'realm', 'oauth_signature', 'oauth%5F', 'OAUTH_',
  '%EF%BB%BF', '%C3%28', '%ED%A0%80', '%F4%90%80%80', '%C0%AF', '\r\n', '\u0000', '\ufeff', '\ufffd',
);
const anyChar = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 });
const nastyPiece = fc.oneof(anyChar, controlChar, loneSurrogate, escape, brokenEscape, syntax, fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 3 }));
const nasty = (maxLength = 30): fc.Arbitrary<string> => fc.array(nastyPiece, { maxLength }).map((a) => a.join(''));
/** `min`-`max` characters of one repeated piece (may end in half a surrogate pair). */
const hugeOf = (min: number, max: number): fc.Arbitrary<string> =>
  fc.tuple(nastyPiece, fc.integer({ min, max })).map(([p, n]) => p.repeat(Math.ceil(n / p.length)).slice(0, n));
// Larger than any header or form value the gateway accepts in practice (server.formBodyLimitBytes is 1 MiB).
const huge = hugeOf(10_000, 50_000);
const anyValue = fc.oneof({ weight: 16, arbitrary: nasty() }, { weight: 1, arbitrary: huge }, { weight: 2, arbitrary: fc.constant('') });

const PARAM_NAMES = ['realm', 'oauth_consumer_key', 'oauth_token', 'oauth_signature_method', 'oauth_signature', 'oauth_timestamp', 'oauth_nonce', 'oauth_version', 'oauth_x'];
const paramName = fc.oneof(fc.constantFrom(...PARAM_NAMES), nasty(8));
const separator = fc.constantFrom(', ', ',', ' ,', ',,', ' , ', '\t,\t', ' ', '', ';');
const quote = fc.constantFrom('"', '"', '"', '', "'");

/** Authorization values, most of them close enough to `OAuth name="value", ...` to reach deep into the parser. */
const authorizationValue = fc.oneof(
  { weight: 3, arbitrary: anyValue },
  {
    weight: 6,
    arbitrary: fc
    .tuple(
      fc.constantFrom('OAuth ', 'oauth ', 'OAUTH\t', 'OAuth', ' OAuth  ', 'OAuth,', 'Basic ', 'OAuthx '),
      fc.array(fc.tuple(paramName, fc.boolean(), anyValue, quote, separator), { maxLength: 10 }),
      fc.constantFrom('', ' ', ',', '\t \t'),
    )
    .map(([scheme, params, tail]) => scheme + params.map(([n, encode, v, q, sep], i) => `${i > 0 ? sep : ''}${n}=${q}${encode ? percentEncode(v) : v}${q}`).join('') + tail),
  },
  // Thousands of well-formed parameters.
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 5000 }).map((n) => `OAuth ${Array.from({ length: n }, (_, i) => `oauth_p${i}="v${i}"`).join(', ')}`) },
);

/** A raw query or form body: '&'-separated segments of anything. */
const rawForm = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.oneof(nasty(12), fc.tuple(nasty(8), nasty(12)).map(([n, v]) => `${n}=${v}`)), { maxLength: 12 }).map((s) => s.join('&')) },
  { weight: 1, arbitrary: anyValue },
  // More segments than the default limit of 1000, with and without OAuth in them.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 900, max: 3000 }), fc.constantFrom('', 'oauth_nonce=1&', 'OAUTH%5fx=1&', 'oauth_%zz=1&'))
      .map(([n, lead]) => lead + Array.from({ length: n }, (_, i) => `a${i}=${i}`).join('&')),
  },
);

// ---------------------------------------------------------------------------------------------
// "Throws nothing but OAuthProblem"

const MAX_DETAIL = 1000;
const MAX_LISTED = 10 * 100 + 9;

/** Runs f; an exception must be an OAuthProblem of bounded size (its text echoes client input). */
function onlyOAuthProblem(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!isOAuthProblem(e)) throw new Error(`threw ${(e as Error)?.name ?? typeof e} instead of an OAuthProblem: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    assert.ok(e.status === 400 || e.status === 401);
    assert.ok(e.message.length <= MAX_DETAIL, `detail of ${e.message.length} characters`);
    for (const [name, value] of Object.entries(e.params)) assert.ok(value.length <= MAX_LISTED, `${name} of ${value.length} characters`);
  }
}

describe('properties: parsers throw nothing but OAuthProblem', () => {
  test('parseAuthorizationHeader', (t) =>
    checkProperty(
      t,
      fc.property(authorizationValue, (v) => onlyOAuthProblem(() => parseAuthorizationHeader(v))),
      2,
    ));

  test('percentDecode and parseForm', (t) =>
    checkProperty(
      t,
      fc.property(anyValue, rawForm, (v, form) => {
        onlyOAuthProblem(() => percentDecode(v));
        onlyOAuthProblem(() => parseForm(form));
      }),
      2,
    ));

  test('percentDecode inverts percentEncode (lone surrogates become U+FFFD), and encoding never throws', (t) =>
    checkProperty(
      t,
      fc.property(anyValue, (v) => {
        const encoded = percentEncode(v);
        assert.match(encoded, /^[A-Za-z0-9\-._~%]*$/);
        assert.equal(percentDecode(encoded), wellFormed(v));
      }),
    ));

  test('scanForm never throws and counts the non-empty segments', (t) =>
    checkProperty(
      t,
      fc.property(rawForm, (form) => {
        assert.equal(scanForm(form).count, form.split('&').filter((s) => s !== '').length);
      }),
    ));

  test('collectParams: any Authorization header(s), query, form body and limit', (t) =>
    checkProperty(
      t,
      fc.property(
        fc.oneof(fc.constant(undefined), authorizationValue, fc.array(authorizationValue, { maxLength: 3 })),
        rawForm,
        fc.option(rawForm, { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 2000 }), { nil: undefined }),
        (authorization, rawQuery, formBody, parameterLimit) =>
          onlyOAuthProblem(() =>
            collectParams({ authorization, rawQuery, ...(formBody !== undefined && { formBody }), ...(parameterLimit !== undefined && { parameterLimit }) }),
          ),
      ),
      2,
    ));

  test('the request view (request-target split, parameter collection, protocol checks): OAuthProblem or a 400 target error', (t) =>
    checkProperty(
      t,
      fc.property(
        fc.oneof(rawForm.map((q) => `/p?${q}`), nasty(40), fc.constantFrom('*', 'http://h', 'http://h?x', 'h/p', '//x')),
        fc.constantFrom('GET', 'POST', 'get', 'M-SEARCH', ''),
        fc.option(authorizationValue, { nil: undefined }),
        fc.option(rawForm, { nil: undefined }),
        (target, method, authorization, formBody) => {
          let split: ReturnType<typeof requestTargetOf>;
          try {
            split = requestTargetOf(target);
          } catch (e) {
            assert.ok(e instanceof BadRequestTargetError, `requestTargetOf threw ${String(e)}`);
            return;
          }
          assert.ok(split.rawPath.startsWith('/'));
          const view: OAuthRequestView = { method, rawPath: split.rawPath, rawQuery: split.rawQuery, ...(authorization !== undefined && { authorization }), ...(formBody !== undefined && { formBody }) };
          onlyOAuthProblem(() => {
            const params = readOAuthParams(view);
            if (params !== null) checkProtocolParams(view, params);
          });
        },
      ),
      2,
    ));

  test('the base string: any method, path and parameters give a pure-ASCII string, never an exception', (t) =>
    checkProperty(
      t,
      fc.property(nasty(10), nasty(40), fc.array(fc.tuple(anyValue, anyValue), { maxLength: 6 }), (method, rawPath, pairs) => {
        const uri = baseStringUri('https://gateway.example:8443/ctx/', rawPath);
        assert.ok(uri.startsWith('https://gateway.example:8443/ctx/'));
        const base = signatureBaseString(method, uri, pairs);
        assert.match(base, /^[A-Za-z0-9\-._~%&]*$/);
        assert.equal(base.split('&').length, 3);
      }),
      0.5,
    ));
});

// ---------------------------------------------------------------------------------------------
// Sign -> verify

// A few RSA keys for the whole file, generated once (not per run). 1024 bits: generation is fast,
// and the verifier does not depend on the key size.
let rsaKeys: Array<{ privateKey: KeyObject; publicKey: KeyObject }> = [];
function ensureRsaKeys(): void {
  if (rsaKeys.length === 0) rsaKeys = [0, 1, 2].map(() => generateKeyPairSync('rsa', { modulusLength: 1024 }));
}

const UPPER_TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const method = fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'), fc.stringMatching(/^[A-Z][A-Z0-9_-]{0,9}$/));
// 'xn--' labels are punycode, which WHATWG URL validates: not what these tests are about.
const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/).filter((l) => !l.startsWith('xn--'));
const host = fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join('.'));
const PATH_CHARS = "ABCXYZabcxyz0189-._~!$&'()*+,;=:@";
const pathSegment = fc.array(fc.oneof(fc.constantFrom(...PATH_CHARS), escape), { maxLength: 8 }).map((a) => a.join(''));
const rawPath = fc.array(pathSegment, { maxLength: 5 }).map((s) => `/${s.join('/')}`);
const contextPath = fc.array(fc.stringMatching(/^[a-z0-9_~-]{1,8}$/), { maxLength: 2 }).map((s) => (s.length === 0 ? '' : `/${s.join('/')}`));
/** Any string but one that decodes to an oauth_* name (the signer keeps those out of the query and body). */
// Signed values: mostly short (each run signs and verifies), now and then empty or a few thousand characters.
const caseValue = fc.oneof({ weight: 30, arbitrary: nasty() }, { weight: 3, arbitrary: fc.constant('') }, { weight: 1, arbitrary: hugeOf(1000, 8000) });
const plainName = caseValue.filter((n) => !wellFormed(n).startsWith('oauth_') && n.length < 1000);
const pair = fc.tuple(plainName, caseValue);

type Encoding = 'rfc5849' | 'form' | 'uri';
/** name=value as different clients write it: RFC 5849, HTML forms ('+' for space), encodeURIComponent. */
function encodeSegment([name, value]: [string, string], how: Encoding): string {
  const enc = (s: string): string => {
    const w = wellFormed(s);
    if (how === 'form') return percentEncode(w).replaceAll('%20', '+');
    if (how === 'uri') return encodeURIComponent(w);
    return percentEncode(w);
  };
  return value === '' && how === 'form' ? enc(name) : `${enc(name)}=${enc(value)}`;
}

interface RequestCase {
  method: string;
  scheme: 'http' | 'https';
  host: string;
  port: number | null;
  contextPath: string;
  rawPath: string;
  query: Array<[string, string]>;
  queryEncoding: Encoding;
  body: Array<[string, string]> | null;
  signatureMethod: SignatureMethod;
  rsaKey: number;
  consumerKey: string;
  consumerSecret: string;
  token: string | undefined;
  tokenSecret: string;
  nonce: string;
  timestamp: number;
  realm: string | undefined;
  extraOAuth: Record<string, string>;
}

const requestCase: fc.Arbitrary<RequestCase> = fc
  .record({
    method,
    scheme: fc.constantFrom('http' as const, 'https' as const),
    host,
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: null }),
    contextPath,
    rawPath,
    query: fc.array(pair, { maxLength: 8 }),
    queryEncoding: fc.constantFrom<Encoding>('rfc5849', 'form', 'uri'),
    body: fc.option(fc.array(pair, { maxLength: 8 }), { nil: null }),
    signatureMethod: fc.constantFrom<SignatureMethod>('HMAC-SHA1', 'RSA-SHA1', 'PLAINTEXT'),
    rsaKey: fc.nat(2),
    consumerKey: nasty(20).filter((k) => k !== ''),
    consumerSecret: caseValue,
    token: fc.option(caseValue, { nil: undefined }),
    tokenSecret: caseValue,
    nonce: nasty(40).filter((n) => n !== '' && n.length <= 255),
    timestamp: fc.integer({ min: 0, max: 999_999_999_999 }),
    realm: fc.option(nasty(10), { nil: undefined }),
    extraOAuth: fc.record({ oauth_callback: caseValue, oauth_verifier: caseValue }, { requiredKeys: [] }),
  })
  // PLAINTEXT is only accepted over https (the secrets travel in clear otherwise).
  .map((c) => (c.signatureMethod === 'PLAINTEXT' ? { ...c, scheme: 'https' as const } : c));

/** What the client connects to, and what the gateway has as server.publicBaseUrl. */
const publicBase = (c: RequestCase): string => `${c.scheme}://${c.host}${c.port === null ? '' : `:${c.port}`}${c.contextPath}`;

/** A request on the wire, as far as the verifier is concerned. */
interface WireRequest {
  method: string;
  /** The request-target the gateway receives (context path already removed by whatever is in front). */
  target: string;
  authorization: string;
  formBody?: string;
}

async function sign(c: RequestCase): Promise<WireRequest> {
  const query = c.query.map((p) => encodeSegment(p, c.queryEncoding)).join('&');
  const target = `${c.rawPath}${query === '' ? '' : `?${query}`}`;
  const signed = await signRequest({
    method: c.method,
    url: `${publicBase(c)}${target}`,
    ...(c.body !== null && { bodyPairs: c.body.map(([n, v]): [string, string] => [wellFormed(n), wellFormed(v)]) }),
    consumerKey: c.consumerKey,
    signatureMethod: c.signatureMethod,
    consumerSecret: c.consumerSecret,
    ...(c.signatureMethod === 'RSA-SHA1' && { privateKey: rsaKeys[c.rsaKey]?.privateKey }),
    ...(c.token !== undefined && { token: c.token }),
    tokenSecret: c.tokenSecret,
    extraOAuth: c.extraOAuth,
    nonce: c.nonce,
    timestamp: c.timestamp,
    ...(c.realm !== undefined && { realm: c.realm }),
  });
  return { method: c.method, target, authorization: signed.authorization, ...(c.body !== null && { formBody: formEncode(c.body) }) };
}

/**
 * The gateway's verification of a received request, through its own steps: request-target split,
 * parameter collection, protocol checks, then checkSignature against a link holding the case's
 * secret or public key. True when it verifies; false or an OAuthProblem / 400 target error when not.
 */
function verifies(req: WireRequest, c: RequestCase, publicKeys: KeyObject[] = rsaKeys.map((k) => k.publicKey).slice(c.rsaKey, c.rsaKey + 1)): boolean {
  const target = requestTargetOf(req.target);
  const view: OAuthRequestView = { method: req.method, rawPath: target.rawPath, rawQuery: target.rawQuery, authorization: req.authorization, ...(req.formBody !== undefined && { formBody: req.formBody }) };
  const params = readOAuthParams(view);
  if (params === null) return false;
  const signed = checkProtocolParams(view, params);
  // checkSignature reads only these fields of the configuration and the link.
  const cfg = { publicBaseUrl: new URL(publicBase(c)) } satisfies Pick<RuntimeConfig, 'publicBaseUrl'> as RuntimeConfig;
  const link = {
    consumerKey: c.consumerKey,
    sharedSecret: c.signatureMethod === 'RSA-SHA1' ? null : c.consumerSecret,
    publicKeys: c.signatureMethod === 'RSA-SHA1' ? publicKeys : [],
  } satisfies Pick<ResolvedLink, 'consumerKey' | 'sharedSecret' | 'publicKeys'> as ResolvedLink;
  checkSignature(cfg, link, signed, c.tokenSecret);
  return true;
}

/** verifies(), with a refusal (OAuthProblem, BadRequestTargetError) counted as false; anything else fails the run. */
function refusedOrFalse(req: WireRequest, c: RequestCase): boolean {
  try {
    return !verifies(req, c);
  } catch (e) {
    if (isOAuthProblem(e) || e instanceof BadRequestTargetError) return true;
    throw e;
  }
}

describe('properties: sign -> verify', () => {
  before(ensureRsaKeys);

  test('a signed request verifies (HMAC-SHA1, RSA-SHA1, PLAINTEXT over https)', (t) =>
    checkProperty(
      t,
      fc.asyncProperty(requestCase, async (c) => {
        const req = await sign(c);
        assert.equal(verifies(req, c), true);
        // The client's base string URI is the gateway's, whatever the context path and port.
        assert.equal(normalizeBaseUri(`${publicBase(c)}${req.target}`), baseStringUri(new URL(publicBase(c)).href, requestTargetOf(req.target).rawPath));
      }),
    ));

  test('an absolute-form request-target (the gateway used as an HTTP proxy) verifies over its path', (t) =>
    checkProperty(
      t,
      fc.asyncProperty(requestCase, host, async (c, otherHost) => {
        const req = await sign(c);
        assert.equal(verifies({ ...req, target: `http://${otherHost}${req.target}` }, c), true);
      }),
      0.3,
    ));

  test('PLAINTEXT never verifies over plain http', (t) =>
    checkProperty(
      t,
      fc.asyncProperty(requestCase, async (c0) => {
        const c: RequestCase = { ...c0, signatureMethod: 'PLAINTEXT', scheme: 'http' };
        assert.equal(refusedOrFalse(await sign(c), c), true);
      }),
      0.3,
    ));

  test('RSA-SHA1 does not verify with another key', (t) =>
    checkProperty(
      t,
      fc.asyncProperty(requestCase, async (c0) => {
        const c: RequestCase = { ...c0, signatureMethod: 'RSA-SHA1' };
        const req = await sign(c);
        const others = rsaKeys.filter((_, i) => i !== c.rsaKey).map((k) => k.publicKey);
        assert.throws(() => verifies(req, c, others), (e: unknown) => e instanceof OAuthProblem && e.problem === 'signature_invalid');
      }),
      0.3,
    ));
});

// ---------------------------------------------------------------------------------------------
// Tampering: one character changed

/** Replaces the character at `at` (modulo the length) with `by`; null for an empty string. */
function replaceAt(s: string, at: number, by: string): string | null {
  if (s.length === 0) return null;
  const i = at % s.length;
  return s.slice(0, i) + by + s.slice(i + 1);
}

function headerParams(authorization: string): Array<[string, string]> {
  const parsed = parseAuthorizationHeader(authorization);
  assert.ok(parsed);
  return parsed.params;
}

function withHeaderParams(params: Array<[string, string]>, realm: string | undefined): string {
  const fields = params.map(([n, v]) => `${percentEncode(n)}="${percentEncode(v)}"`);
  if (realm !== undefined) fields.unshift(`realm="${percentEncode(realm)}"`);
  return `OAuth ${fields.join(', ')}`;
}

type Where = 'method' | 'path' | 'query' | 'body' | 'header' | 'signature';

/**
 * The request with one character changed; null when the change is no change to what is signed
 * (same character, or a lone surrogate for another: both are U+FFFD to the signer).
 */
function tamper(req: WireRequest, c: RequestCase, where: Where, index: number, field: 0 | 1, at: number, by: string): WireRequest | null {
  const q = req.target.indexOf('?');
  const path = q < 0 ? req.target : req.target.slice(0, q);
  const query = q < 0 ? '' : req.target.slice(q + 1);
  const changedPair = (pairs: Array<[string, string]>): Array<[string, string]> | null => {
    if (pairs.length === 0) return null;
    const i = index % pairs.length;
    const p = [...(pairs[i] as [string, string])] as [string, string];
    const next = replaceAt(p[field], at, by);
    if (next === null || percentEncode(next) === percentEncode(p[field])) return null;
    p[field] = next;
    return pairs.map((old, k) => (k === i ? p : old));
  };
  switch (where) {
    case 'method': {
      const m = replaceAt(req.method, at, by.toUpperCase());
      return m === null || m === req.method ? null : { ...req, method: m };
    }
    case 'path': {
      const p = replaceAt(path, at, by);
      return p === null || p === path ? null : { ...req, target: p + req.target.slice(path.length) };
    }
    case 'query': {
      const pairs = changedPair(parseForm(query));
      return pairs === null ? null : { ...req, target: `${path}?${formEncode(pairs)}` };
    }
    case 'body': {
      const pairs = req.formBody === undefined ? null : changedPair(parseForm(req.formBody));
      return pairs === null ? null : { ...req, formBody: formEncode(pairs) };
    }
    case 'header': {
      const params = headerParams(req.authorization).filter(([n]) => n !== 'oauth_signature');
      const signature = headerParams(req.authorization).filter(([n]) => n === 'oauth_signature');
      const changed = changedPair(params);
      return changed === null ? null : { ...req, authorization: withHeaderParams([...changed, ...signature], c.realm) };
    }
    case 'signature': {
      const params = headerParams(req.authorization);
      const sig = params.find(([n]) => n === 'oauth_signature')?.[1] ?? '';
      const next = replaceAt(sig, at, by);
      if (next === null || next === sig) return null;
      return { ...req, authorization: withHeaderParams(params.map(([n, v]) => [n, n === 'oauth_signature' ? next : v]), c.realm) };
    }
  }
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=';

describe('properties: a one-character change breaks verification', () => {
  before(ensureRsaKeys);

  test('of the method, the path, a query, body or header parameter name or value, or the signature', (t) =>
    checkProperty(
      t,
      fc.asyncProperty(
        // PLAINTEXT signs the secrets only, not the request: only its signature is covered here.
        requestCase.map((c): RequestCase => (c.signatureMethod === 'PLAINTEXT' ? { ...c, signatureMethod: 'HMAC-SHA1' } : c)),
        fc.constantFrom<Where>('method', 'path', 'query', 'body', 'header', 'signature'),
        fc.nat(),
        fc.constantFrom<0 | 1>(0, 1),
        fc.nat(),
        fc.oneof(fc.constantFrom(...UPPER_TCHAR, ...BASE64_ALPHABET, ...PATH_CHARS, '%', '?', '#', ' '), nastyPiece.filter((p) => p.length === 1)),
        async (c, where, index, field, at, by) => {
          const req = await sign(c);
          const changed = tamper(req, c, where, index, field, at, by);
          fc.pre(changed !== null);
          assert.equal(refusedOrFalse(changed, c), true, `${where} changed: ${JSON.stringify(changed)}`);
        },
      ),
      2,
    ));

  test('every single-character change of the signature, at every position, for each signature method', (t) =>
    checkProperty(
      t,
      fc.asyncProperty(
        // Short secrets keep a PLAINTEXT signature (the secrets themselves) short, and short
        // parameters keep the hundreds of verifications per run cheap.
        requestCase.map((c): RequestCase => {
          const short = (pairs: Array<[string, string]>) => pairs.slice(0, 4).map(([n, v]): [string, string] => [n.slice(0, 30), v.slice(0, 30)]);
          return { ...c, scheme: 'https', consumerSecret: c.consumerSecret.slice(0, 20), tokenSecret: c.tokenSecret.slice(0, 20), query: short(c.query), body: c.body && short(c.body), extraOAuth: {} };
        }),
        fc.array(fc.constantFrom(...BASE64_ALPHABET), { minLength: 400, maxLength: 400 }),
        async (c0, replacements) => {
          for (const signatureMethod of ['HMAC-SHA1', 'RSA-SHA1', 'PLAINTEXT'] as const) {
            const c: RequestCase = { ...c0, signatureMethod };
            const req = await sign(c);
            const sig = headerParams(req.authorization).find(([n]) => n === 'oauth_signature')?.[1] ?? '';
            assert.ok(sig.length <= replacements.length, `signature of ${sig.length} characters`);
            for (let at = 0; at < sig.length; at++) {
              // A different character at each position: the one drawn, or the next one in the alphabet;
              // every character at the last four (where base64 padding and unused bits are).
              const drawn = replacements[at] as string;
              const candidates = at >= sig.length - 4 ? [...BASE64_ALPHABET] : [drawn === sig[at] ? (BASE64_ALPHABET[(BASE64_ALPHABET.indexOf(drawn) + 1) % BASE64_ALPHABET.length] as string) : drawn];
              for (const by of candidates.filter((b) => b !== sig[at])) {
                const changed = tamper(req, c, 'signature', 0, 0, at, by);
                assert.ok(changed);
                assert.equal(refusedOrFalse(changed, c), true, `${signatureMethod} signature character ${at} of ${sig.length} changed from ${sig[at]} to ${by}: ${sig} -> ${replaceAt(sig, at, by)}`);
              }
            }
          }
        },
      ),
      0.03,
    ));
});
