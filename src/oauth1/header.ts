// Strict parser for `Authorization: OAuth ...` (RFC 5849 §3.5.1), stricter than oauthlib on purpose.
import { percentDecode } from './encode.js';
import { OAuthProblem, isOAuthProblem } from './problem.js';

export interface ParsedAuthorization {
  realm?: string;
  params: Array<[string, string]>;
}

// RFC 7230 tchar: what an auth-scheme or parameter name may be made of.
const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const SCHEME = /^[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)/;
const OWS = /[ \t]*/y;
// Inside the quotes: printable ASCII except '"' (ends the value) and '\'. A percent-encoded value
// never needs quoted-pair escapes or raw non-ASCII, and allowing them lets two parsers disagree.
const QUOTED_VALUE = /"([\x20\x21\x23-\x5b\x5d-\x7e]*)"/y;

function rejectedAt(name: string | undefined, detail: string): OAuthProblem {
  return name === undefined
    ? new OAuthProblem('parameter_rejected', { detail: `Authorization header: ${detail}` })
    : OAuthProblem.rejected([name], `Authorization header: ${detail}`);
}

function decodeOrReject(raw: string, name: string): string {
  try {
    return percentDecode(raw);
  } catch (e) {
    if (isOAuthProblem(e)) throw rejectedAt(name, `${name} is not valid percent-encoding`);
    throw e;
  }
}

function skipOws(s: string, at: number): number {
  return at + (matchAt(OWS, s, at)?.[0].length ?? 0);
}

function matchAt(re: RegExp, s: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(s);
}

/**
 * Parses an Authorization header value. Returns null when the scheme is not OAuth (Basic,
 * Bearer, ... are not ours). Throws parameter_rejected for anything not of the exact form
 * `OAuth name="value", name="value"`, for a name seen twice and for names other than
 * realm and oauth_*. Values are percent-decoded once; '+' stays a literal '+'.
 */
export function parseAuthorizationHeader(value: string): ParsedAuthorization | null {
  const scheme = SCHEME.exec(value);
  if (!scheme || scheme[1]?.toLowerCase() !== 'oauth') return null;

  let pos = scheme[0].length;
  // 'OAuth' must be followed by whitespace or nothing: "OAuth,x" is ours but malformed.
  if (pos < value.length && value[pos] !== ' ' && value[pos] !== '\t') {
    throw rejectedAt(undefined, 'expected whitespace after the OAuth scheme');
  }

  const result: ParsedAuthorization = { params: [] };
  const seen = new Set<string>();
  pos = skipOws(value, pos);
  // Trailing OWS, trimmed by hand: /[ \t]+$/ backtracks quadratically over a long inner run of spaces.
  let end = value.length;
  while (end > pos && (value[end - 1] === ' ' || value[end - 1] === '\t')) end--;

  while (pos < end) {
    if (seen.size > 0) {
      // Between parameters: OWS "," OWS, exactly one comma.
      pos = skipOws(value, pos);
      if (value[pos] !== ',') throw rejectedAt(undefined, `expected ',' at offset ${pos}`);
      pos += 1;
      pos = skipOws(value, pos);
      if (pos >= end) throw rejectedAt(undefined, 'trailing comma');
    }

    const token = matchAt(TOKEN, value, pos);
    if (!token) throw rejectedAt(undefined, `expected a parameter name at offset ${pos}`);
    pos += token[0].length;
    const name = decodeOrReject(token[0], token[0]);

    // RFC 5849: the name is immediately followed by '=' and a quoted value.
    if (value[pos] !== '=') throw rejectedAt(name, `expected '=' after ${name}`);
    pos += 1;
    const quoted = matchAt(QUOTED_VALUE, value, pos);
    if (!quoted) throw rejectedAt(name, `${name} must be a complete double-quoted value`);
    pos += quoted[0].length;
    const decoded = decodeOrReject(quoted[1] ?? '', name);

    // oauthlib collapses repeated names (last wins); a repeat is an attack or a bug, so refuse.
    if (seen.has(name)) throw rejectedAt(name, `${name} appears twice`);
    seen.add(name);

    if (name === 'realm') result.realm = decoded;
    else if (name.startsWith('oauth_')) result.params.push([name, decoded]);
    // RFC 5849 §3.5.1: the header carries only realm and protocol parameters.
    else throw rejectedAt(name, `${name} is not an OAuth protocol parameter`);
  }
  return result;
}
