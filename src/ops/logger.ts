// JSON logs (pino), one object per line. Secrets never reach a log line: every logged object
// is scrubbed by key name at any depth (Authorization, Cookie, tokens, secrets, signatures,
// verifiers, passwords, session handles), and OAuth credentials inside strings are masked.
import pino, { type Logger, type DestinationStream, type LogFn } from 'pino';

export type { Logger };

export const REDACTED = '[redacted]';

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

// ---------------------------------------------------------------------------------------------
// The per-request line: written straight to pino's destination, byte for byte what pino would
// print for the same object, without pino's per-call machinery (formatters, hooks, serializers,
// a generic JSON walk). Its fields are safe by construction, so no scrub is needed.

let lastMs = 0;
let lastIso = '';
let secondStart = -1;
let secondPrefix = '';
/** pino.stdTimeFunctions.isoTime's text: the date and second formatted once per second, the milliseconds appended. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    const frac = ms % 1000;
    const second = ms - frac;
    if (second !== secondStart) {
      secondStart = second;
      secondPrefix = new Date(second).toISOString().slice(0, 20); // 'YYYY-MM-DDTHH:MM:SS.'
    }
    lastIso = `${secondPrefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
  }
  return lastIso;
}

/** `,"key":"value"` with JSON escaping; nothing for undefined. Keys are the caller's constants. */
export function textField(key: string, value: string | undefined): string {
  return value === undefined ? '' : `,"${key}":${JSON.stringify(value)}`;
}

/** `,"key":n` (null for a non-finite number, as JSON.stringify); nothing for undefined. */
export function numberField(key: string, value: number | undefined): string {
  return value === undefined ? '' : `,"${key}":${Number.isFinite(value) ? String(value) : 'null'}`;
}

/** `,"key":true`; nothing unless true. */
export function flagField(key: string, value: boolean | undefined): string {
  return value === true ? `,"${key}":true` : '';
}

interface PinoInternals {
  [key: symbol]: unknown;
}

/**
 * Writes an info line whose fields were serialized by the helpers above (`fields` is a run of
 * `,"key":value`), in the destination's next batch when it batches. The caller checks
 * `log.isLevelEnabled('info')` first.
 */
export function writeInfoLine(log: Logger, fields: string, msg: string): void {
  const internals = log as unknown as PinoInternals;
  const chindings = internals[pino.symbols.chindingsSym] as string;
  const stream = internals[pino.symbols.streamSym] as DestinationStream & Partial<BatchingDestination>;
  const line = `{"level":"info","time":"${isoNow()}"${chindings}${fields},"msg":${JSON.stringify(msg)}}\n`;
  if (stream.writeBatched !== undefined) stream.writeBatched(line);
  else stream.write(line);
}

// Request lines are handed to the kernel in batches: one write per 32 KiB of lines, and whatever is
// waiting at least every 100 ms (and at exit: pino flushes its destination then). Each write is a
// trip through libuv's thread pool, which on one busy core cost about 8% of the gateway's CPU when
// made per request (README "Performance"). Every other line (start-up, warnings, errors, audit
// events of the dance) goes out at once, after whatever request lines wait before it: the order holds.
const LOG_BATCH_BYTES = 32 * 1024;
const LOG_FLUSH_MS = 100;

/** A destination whose request lines may wait for a batch; the caller's other lines do not. */
interface BatchingDestination extends DestinationStream {
  writeBatched(line: string): void;
}

type Boom = ReturnType<typeof pino.destination>;

function batchingDestination(boom: Boom): BatchingDestination & { flush(cb?: (err?: Error) => void): void; flushSync(): void } {
  return {
    write(line: string) {
      boom.write(line);
      boom.flush();
    },
    writeBatched(line: string) {
      boom.write(line);
    },
    flush(cb?: (err?: Error) => void) {
      boom.flush(cb);
    },
    flushSync() {
      boom.flushSync();
    },
  };
}

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'applink-gateway', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (obj) => scrub(obj) as Record<string, unknown>,
      },
      // scrub() already made errors plain objects; pino's own err serializer would relabel them "Object".
      serializers: { err: (err: unknown) => err },
      hooks: {
        // formatters.log sees only the logged object: the message, its format arguments and the
        // message pino takes from a lone Error are scrubbed here.
        logMethod(args, method) {
          const [first, ...rest] = args as unknown[];
          const out = [typeof first === 'string' ? scrubText(first) : first, ...rest.map((a) => scrub(a))];
          if (first instanceof Error && typeof rest[0] !== 'string') out.splice(1, 0, scrubText(first.message));
          method.apply(this, out as Parameters<LogFn>);
        },
      },
    },
    opts.destination ?? batchingDestination(pino.destination({ sync: false, minLength: LOG_BATCH_BYTES, maxWrite: 2 * LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS })),
  );
}
