// The one reader of request bodies the gateway reads itself (a form body, one covered by
// oauth_body_hash, a browser form): at most server.formBodyLimitBytes, within the body deadlines
// (server.timeouts), and read once: a body read whole is kept with its request, so the proxy
// forwards the very bytes a dance route read for its signature check when that route hands the
// call on (upstream.passthroughUnknownConsumers). Everything else streams.
import type { IncomingMessage } from 'node:http';
import type { RuntimeConfig } from '../config/load.js';
import { CLOSE_CONNECTION, GatewayError, gatewayFields } from '../errors/index.js';

// The rest of an unread body (too large, stalled) cannot be skipped: the connection ends with the answer.
const UNREAD_BODY = { headers: CLOSE_CONNECTION };

/** A body over server.formBodyLimitBytes: answered 413 (body_too_large), the connection closed. */
export class BodyTooLargeError extends GatewayError {
  constructor(limitBytes: number) {
    super(`Request body larger than ${limitBytes} bytes`);
    gatewayFields(this, 413, 'body_too_large', UNREAD_BODY);
    this.name = 'BodyTooLargeError';
  }
}

/** The client stopped sending the body (idle) or did not finish it in time (total): answered 408 (body_timeout), connection closed. */
export class BodyTimeoutError extends GatewayError {
  constructor(
    readonly kind: 'idle' | 'total',
    ms: number,
  ) {
    super(kind === 'idle' ? `Request body stalled for more than ${ms} ms` : `Request body not complete within ${ms} ms`);
    gatewayFields(this, 408, 'body_timeout', UNREAD_BODY);
    this.name = 'BodyTimeoutError';
  }
}

/**
 * The client went away mid-body (the connection closed or failed before the body ended): nothing
 * to verify or forward. The error handlers see the request aborted and answer nobody; were the
 * socket still open, it is a 400 (body_incomplete), never a 500.
 */
export class IncompleteBodyError extends GatewayError {
  constructor(cause?: Error) {
    super('Request body incomplete', cause === undefined ? undefined : { cause });
    gatewayFields(this, 400, 'body_incomplete');
    this.name = 'IncompleteBodyError';
  }
}

/** application/x-www-form-urlencoded, whatever the parameters (charset) say. */
export function isFormContentType(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

/** How long the gateway waits for a body it reads itself: per pause, and in all (server.timeouts). */
export interface BodyDeadlines {
  idleMs: number;
  totalMs: number;
}

/** server.timeouts.bodyIdleMs / bodyTotalMs of a resolved configuration (the schema defaults them). */
export function bodyDeadlinesOf(cfg: RuntimeConfig): BodyDeadlines {
  return { idleMs: cfg.config.server.timeouts.bodyIdleMs, totalMs: cfg.config.server.timeouts.bodyTotalMs };
}

const bufferedBodies = new WeakMap<IncomingMessage, Buffer>();

/**
 * Reads a request body up to `limitBytes`. `complete`: the body ended; otherwise (overLimit 'stop')
 * `bytes` is what was read so far (the limit plus at most one chunk) and the request is paused with
 * the rest unread. A body that stalls for idleMs, or is not over within totalMs however steadily
 * it trickles, is BodyTimeoutError: neither the socket nor the buffer is held longer. A client
 * gone mid-body is IncompleteBodyError. A complete body is kept with its request (bufferedBodyOf).
 */
function collectBody(req: IncomingMessage, limitBytes: number, deadlines: BodyDeadlines, overLimit: 'reject' | 'stop'): Promise<{ bytes: Buffer; complete: boolean }> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (overLimit === 'reject' && Number.isFinite(declared) && declared > limitBytes) return Promise.reject(new BodyTooLargeError(limitBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let idleTimer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null, complete = true) => {
      clearTimeout(idleTimer);
      clearTimeout(totalTimer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      // Stop reading: an error answer closes the connection, a prefix is read on by whoever streams the rest.
      if (err || !complete) req.pause();
      if (err) return reject(err);
      const bytes = Buffer.concat(chunks);
      // Read once: whoever reads this request's body next gets the same bytes.
      if (complete) bufferedBodies.set(req, bytes);
      resolve({ bytes, complete });
    };
    const arm = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => finish(new BodyTimeoutError('idle', deadlines.idleMs)), deadlines.idleMs);
    };
    const totalTimer = setTimeout(() => finish(new BodyTimeoutError('total', deadlines.totalMs)), deadlines.totalMs);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes && overLimit === 'reject') return finish(new BodyTooLargeError(limitBytes));
      chunks.push(chunk);
      if (size > limitBytes) return finish(null, false);
      arm();
    };
    const onEnd = () => finish(null);
    const onError = (err: Error) => finish(new IncompleteBodyError(err));
    const onAborted = () => finish(new IncompleteBodyError());
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
    arm();
  });
}

/**
 * The whole body, or BodyTooLargeError once it passes `limitBytes` (at once when its declared
 * length does). Unlike destroying the request, it only stops reading, so the 413 still reaches
 * the client (the error handlers close the connection after it). Read once: a second call, by
 * any reader, gets the same bytes.
 */
export async function readBody(req: IncomingMessage, limitBytes: number, deadlines: BodyDeadlines): Promise<Buffer> {
  const cached = bufferedBodies.get(req);
  if (cached) return cached;
  return (await collectBody(req, limitBytes, deadlines, 'reject')).bytes;
}

/**
 * A form body up to `limitBytes`, whatever length it declares: `complete` when it ended within
 * it (and then kept, as readBody keeps it); otherwise `bytes` is what was read and the rest waits
 * in the (paused) request, to be streamed on if the request turns out to be unsigned (proxy/plan.ts).
 */
export function readBodyPrefix(req: IncomingMessage, limitBytes: number, deadlines: BodyDeadlines): Promise<{ bytes: Buffer; complete: boolean }> {
  const cached = bufferedBodies.get(req);
  if (cached) return Promise.resolve({ bytes: cached, complete: true });
  return collectBody(req, limitBytes, deadlines, 'stop');
}

/** The body readBody (or a complete readBodyPrefix) already consumed, or undefined when nobody read it. */
export function bufferedBodyOf(req: IncomingMessage): Buffer | undefined {
  return bufferedBodies.get(req);
}
