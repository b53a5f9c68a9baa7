// JSON logs (pino), one object per line. Secrets never reach a log line: every logged object
// is scrubbed by key name at any depth (Authorization, Cookie, tokens, secrets, signatures,
// verifiers, passwords, session handles), and OAuth credentials inside strings are masked.
import pino, { type Logger, type DestinationStream, type LogFn } from 'pino';

export type { Logger };

export const REDACTED = '[redacted]';

/**
 * Marks a logged object built only from fields that are safe by construction (the per-request
 * line): the logger writes it without its deep scrub. Every other object is scrubbed.
 */
export const SAFE_LOG_LINE = Symbol('applink.safeLogLine');

function isSafeLine(obj: unknown): boolean {
  return typeof obj === 'object' && obj !== null && (obj as Record<symbol, unknown>)[SAFE_LOG_LINE] === true;
}

// Compared lower-cased with '-' and '_' removed, so `Set-Cookie`, `oauth_token_secret` and
// `tokenSecret` all match. A token *handle* is not secret (DESIGN.md section 6) and stays.
const SENSITIVE_KEYS = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'token',
  'oauthtoken',
  'accesstoken',
  'requesttoken',
  'secret',
  'tokensecret',
  'oauthtokensecret',
  'consumersecret',
  'sharedsecret',
  'clientsecret',
  'signature',
  'oauthsignature',
  'xapplinkgatewaysignature',
  'verifier',
  'oauthverifier',
  'sessionhandle',
  'oauthsessionhandle',
  'password',
  'passwd',
  'privatekey',
  'csrf',
  'csrftoken',
  'jwt',
]);

function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEYS.has(key.toLowerCase().replace(/[-_]/g, ''));
}

// oauth_token=…, oauth_verifier="…" and friends inside URLs, headers and error messages.
const CREDENTIAL_IN_TEXT = /\b(oauth_(?:token_secret|token|verifier|signature|session_handle))(=|%3D)("?)([^"&,\s]+)/gi;
// `Authorization: OAuth …` / `Bearer …` values that ended up inside a message.
const BEARER_IN_TEXT = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;

/** Masks credentials inside a free-text value (a URL, a header value, an error message). */
export function scrubText(s: string): string {
  if (!/oauth_|Bearer|Basic/i.test(s)) return s;
  return s
    .replace(CREDENTIAL_IN_TEXT, (_m, name: string, eq: string, quote: string) => `${name}${eq}${quote}${REDACTED}`)
    .replace(BEARER_IN_TEXT, (_m, scheme: string) => `${scheme} ${REDACTED}`);
}

/** A copy of `value` with sensitive keys replaced at any depth; Errors become plain objects. */
export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[too deep]';
  if (value instanceof Error) {
    const out: Record<string, unknown> = { type: value.name, message: scrubText(value.message) };
    if (value.stack) out.stack = scrubText(value.stack);
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (value.cause !== undefined) out.cause = scrub(value.cause, depth + 1);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    // Class instances (KeyObject, sockets, URL...): only a harmless description.
    return value instanceof URL ? scrubText(value.href) : `[${(value as object).constructor?.name ?? 'object'}]`;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSensitiveKey(k) && v !== undefined && v !== null && v !== '' ? REDACTED : scrub(v, depth + 1);
  }
  return out;
}

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'applink-gateway', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (obj) => (isSafeLine(obj) ? obj : (scrub(obj) as Record<string, unknown>)),
      },
      // scrub() already made errors plain objects; pino's own err serializer would relabel them "Object".
      serializers: { err: (err: unknown) => err },
      hooks: {
        // formatters.log sees only the logged object: the message, its format arguments and the
        // message pino takes from a lone Error are scrubbed here.
        logMethod(args, method) {
          if (isSafeLine(args[0])) return method.apply(this, args);
          const [first, ...rest] = args as unknown[];
          const out = [typeof first === 'string' ? scrubText(first) : first, ...rest.map((a) => scrub(a))];
          if (first instanceof Error && typeof rest[0] !== 'string') out.splice(1, 0, scrubText(first.message));
          method.apply(this, out as Parameters<LogFn>);
        },
      },
    },
    opts.destination ?? pino.destination({ sync: false }),
  );
}
