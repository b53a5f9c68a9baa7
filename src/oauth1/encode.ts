// RFC 5849 §3.6 percent-encoding and application/x-www-form-urlencoded parsing.
import { OAuthProblem } from './problem.js';

const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;
const utf8 = new TextEncoder();
// fatal: invalid UTF-8 after percent-decoding must be refused, not replaced with U+FFFD.
// ignoreBOM: keep a leading U+FEFF; dropping it would let '%EF%BB%BFx' and 'x' sign alike.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const HEX = '0123456789ABCDEF';

/** RFC 5849 §3.6: UTF-8, every byte outside ALPHA DIGIT - . _ ~ as %XX (upper-case hex). */
export function percentEncode(s: string): string {
  if (UNRESERVED.test(s)) return s;
  let out = '';
  // TextEncoder maps a lone surrogate to U+FFFD, so encoding never throws.
  for (const byte of utf8.encode(s)) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && UNRESERVED.test(c) ? c : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

/** The value of one hex digit's char code, -1 when it is none. */
export function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/**
 * Strict percent-decoding: every '%' must start a %XX pair and the decoded bytes must be UTF-8.
 * Characters that are not part of an escape are kept as they are; '+' is NOT a space here.
 */
export function percentDecode(s: string): string {
  if (!s.includes('%')) return s;
  let out = '';
  let bytes: number[] = [];
  const flush = (): void => {
    if (bytes.length === 0) return;
    try {
      out += strictUtf8.decode(Uint8Array.from(bytes));
    } catch {
      throw new OAuthProblem('parameter_rejected', { detail: 'percent-encoded value is not valid UTF-8' });
    }
    bytes = [];
  };
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) !== 0x25) {
      flush();
      out += s[i];
      continue;
    }
    const hi = hexValue(s.charCodeAt(i + 1));
    const lo = hexValue(s.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) throw new OAuthProblem('parameter_rejected', { detail: 'malformed percent-encoding' });
    bytes.push(hi * 16 + lo);
    i += 2;
  }
  flush();
  return out;
}

/**
 * application/x-www-form-urlencoded: '&'-separated, empty segments skipped, '+' is a space,
 * a segment without '=' has value ''. Order and duplicates are kept (the base string needs both).
 */
export function parseForm(raw: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const segment of raw.split('&')) {
    if (segment === '') continue;
    const eq = segment.indexOf('=');
    const name = eq < 0 ? segment : segment.slice(0, eq);
    const value = eq < 0 ? '' : segment.slice(eq + 1);
    pairs.push([percentDecode(name.replaceAll('+', ' ')), percentDecode(value.replaceAll('+', ' '))]);
  }
  return pairs;
}

/** name=value&... with RFC 5849 encoding (used for token responses and problem bodies). */
export function formEncode(pairs: Array<[string, string]>): string {
  return pairs.map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`).join('&');
}
