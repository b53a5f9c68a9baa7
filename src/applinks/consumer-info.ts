// An Atlassian application's OAuth consumer info (`/plugins/servlet/oauth/consumer-info`), the
// document Atlassian's own "create link" page reads: a `<consumer>` with key, name, publicKey,
// description and an optional callback.
//
// A small strict parser instead of an XML dependency: the shape is fixed and flat, and anything
// else (a DOCTYPE, entities other than the five predefined ones and character references,
// nested markup in a field, two roots) is refused rather than interpreted. A general parser
// would accept far more (DTDs, namespaces, mixed content) and still need this shape check.

export interface ConsumerInfo {
  key: string;
  name: string;
  /** base64 DER SubjectPublicKeyInfo, as Atlassian serves it (no PEM lines). */
  publicKey: string;
  description: string | null;
  callback: string | null;
}

/** Refused input (exit 1 for the CLI), with a message that says what was wrong. */
export class ConsumerInfoError extends Error {
  override name = 'ConsumerInfoError';
}

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeText(raw: string, field: string): string {
  return raw.replace(/&(#x[0-9A-Fa-f]{1,6}|#[0-9]{1,7}|[A-Za-z]+);|&/g, (m, ref: string | undefined) => {
    if (ref === undefined) throw new ConsumerInfoError(`<${field}> has a bare "&"`);
    if (ref.startsWith('#')) {
      const code = ref.startsWith('#x') ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) || code === 0) {
        throw new ConsumerInfoError(`<${field}> has an invalid character reference ${m}`);
      }
      return String.fromCodePoint(code);
    }
    const named = PREDEFINED[ref];
    if (named === undefined) throw new ConsumerInfoError(`<${field}> uses the entity ${m}, which XML does not predefine`);
    return named;
  });
}

const NAME = '[A-Za-z_][A-Za-z0-9_.:-]*';
const ATTRS = `(?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*\\s*`;
const FIELD = new RegExp(`^<(${NAME})${ATTRS}(?:/>|>((?:[^<]|<!\\[CDATA\\[[\\s\\S]*?\\]\\]>)*)</\\1\\s*>)`);
const KNOWN = ['key', 'name', 'publicKey', 'description', 'callback'] as const;

/** Parses the consumer-info document; throws ConsumerInfoError naming the problem. */
export function parseConsumerInfo(xml: string): ConsumerInfo {
  let rest = xml.replace(/^\uFEFF/, '');
  const skipMisc = () => {
    for (;;) {
      const before = rest;
      rest = rest.replace(/^\s+/, '').replace(/^<!--[\s\S]*?-->/, '');
      if (rest === before) return;
    }
  };
  rest = rest.replace(/^\s*<\?xml\s[^?]*\?>/, '');
  skipMisc();
  if (/^<(!DOCTYPE\s+)?html[\s>]/i.test(rest)) throw new ConsumerInfoError('an HTML page, not the consumer info XML (a login page or a proxy in between?)');
  if (/^<!DOCTYPE/i.test(rest)) throw new ConsumerInfoError('the document has a DOCTYPE, which consumer info never has');
  const open = new RegExp(`^<(${NAME})(${ATTRS})>`).exec(rest);
  if (!open) throw new ConsumerInfoError('not an XML document (no root element)');
  if (open[1] !== 'consumer') throw new ConsumerInfoError(`the root element is <${open[1] ?? ''}>, not <consumer>`);
  rest = rest.slice(open[0].length);

  const fields = new Map<string, string>();
  for (;;) {
    skipMisc();
    const close = /^<\/consumer\s*>/.exec(rest);
    if (close) {
      rest = rest.slice(close[0].length);
      break;
    }
    const m = FIELD.exec(rest);
    if (!m) {
      if (rest === '') throw new ConsumerInfoError('the document ends inside <consumer>');
      throw new ConsumerInfoError(`unexpected content in <consumer>: ${JSON.stringify(rest.slice(0, 40))}`);
    }
    const name = m[1] as string;
    const body = m[2] ?? '';
    rest = rest.slice(m[0].length);
    // CDATA sections are literal text; everything else is decoded.
    const text = body
      .split(/(<!\[CDATA\[[\s\S]*?\]\]>)/)
      .map((part) => (part.startsWith('<![CDATA[') ? part.slice(9, -3) : decodeText(part, name)))
      .join('');
    if ((KNOWN as readonly string[]).includes(name)) {
      if (fields.has(name)) throw new ConsumerInfoError(`<${name}> appears twice`);
      fields.set(name, text.trim());
    }
    // Other flat elements (a newer application's extra fields) are ignored.
  }
  skipMisc();
  if (rest !== '') throw new ConsumerInfoError('content after </consumer>');

  const key = fields.get('key') ?? '';
  if (key === '') throw new ConsumerInfoError('the consumer info has no <key> (the consumer key)');
  if (key.length > 255 || /[\p{Cc}]/u.test(key)) throw new ConsumerInfoError('the consumer key is longer than 255 characters or has control characters');
  const publicKey = (fields.get('publicKey') ?? '').replace(/\s+/g, '');
  if (publicKey === '') throw new ConsumerInfoError('the consumer info has no <publicKey>');
  const name = fields.get('name') || key;
  return {
    key,
    name: name.slice(0, 200),
    publicKey,
    description: fields.get('description') || null,
    callback: fields.get('callback') || null,
  };
}

/** The consumer-info URL of an application's base URL (or the consumer-info URL itself). */
export function consumerInfoUrl(input: string): URL {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new ConsumerInfoError(`${JSON.stringify(input)} is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConsumerInfoError(`${input}: only http and https URLs`);
  if (url.username || url.password) throw new ConsumerInfoError(`${input}: no user information in the URL`);
  url.hash = '';
  const path = url.pathname.replace(/\/+$/, '');
  if (!path.endsWith('/plugins/servlet/oauth/consumer-info')) {
    url.pathname = `${path}/plugins/servlet/oauth/consumer-info`;
    url.search = '';
  }
  return url;
}

const MAX_BYTES = 64 * 1024;

/** What a TLS failure's code means, for the message. */
function tlsProblem(err: unknown): string | null {
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|UNABLE_TO_GET_ISSUER/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

const FETCH_TIMEOUT_MS = 10_000;

/** Fetches and parses consumer info (certificates verified as Node does; 10 s; 64 KiB). */
export async function fetchConsumerInfo(input: string): Promise<{ url: URL; info: ConsumerInfo }> {
  const url = consumerInfoUrl(input);
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/xml, text/xml' }, redirect: 'follow', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    const tls = tlsProblem(err);
    if (tls) {
      throw new ConsumerInfoError(`${url.href}: the server's certificate was refused (${tls}); fix the certificate, or give Node its CA with NODE_EXTRA_CA_CERTS=ca.pem`);
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${FETCH_TIMEOUT_MS / 1000} s` : (cause?.code ?? cause?.message ?? (err as Error).message);
    throw new ConsumerInfoError(`${url.href}: cannot fetch the consumer info (${why})`);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new ConsumerInfoError(`${url.href}: answered HTTP ${res.status}, not the consumer info (is this the application's base URL?)`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body ?? []) {
    size += chunk.byteLength;
    if (size > MAX_BYTES) {
      await res.body?.cancel();
      throw new ConsumerInfoError(`${url.href}: the answer is larger than ${MAX_BYTES} bytes; consumer info is a few hundred`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return { url, info: parseConsumerInfo(text) };
  } catch (err) {
    if (err instanceof ConsumerInfoError) throw new ConsumerInfoError(`${url.href}: ${err.message}`);
    throw err;
  }
}
