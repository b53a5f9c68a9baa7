// Reading what a signature needs of a body (a form body, or one covered by oauth_body_hash),
// at most server.formBodyLimitBytes; everything else streams.
import type { IncomingMessage } from 'node:http';
import { BodyTimeoutError, BodyTooLargeError, DEFAULT_BODY_IDLE_MS, bufferedBodyOf } from '../verify/steps.js';

/** The client stopped sending mid-body: nothing to forward (Koa's `expose` convention, never a 500). */
export class IncompleteBodyError extends Error {
  readonly status = 400;
  readonly expose = true;
  constructor() {
    super('Request body incomplete');
    this.name = 'IncompleteBodyError';
  }
}

/**
 * The whole body, or BodyTooLargeError once it passes `limitBytes`. Unlike destroying the
 * request, it only stops reading, so the 413 still reaches the client (the caller closes the
 * connection after it). A body the dance routes already read is reused.
 */
export function readBodyUpTo(req: IncomingMessage, limitBytes: number, idleMs: number = DEFAULT_BODY_IDLE_MS): Promise<Buffer> {
  const cached = bufferedBodyOf(req);
  if (cached) return Promise.resolve(cached);
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limitBytes) return Promise.reject(new BodyTooLargeError(limitBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    // A client that stops sending mid-body must not hold the socket and the buffer forever.
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        cleanup();
        req.pause();
        reject(new BodyTimeoutError(idleMs));
      }, idleMs);
    };
    const cleanup = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        req.pause();
        reject(new BodyTooLargeError(limitBytes));
        return;
      }
      chunks.push(chunk);
      arm();
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = () => {
      cleanup();
      reject(new IncompleteBodyError());
    };
    const onAborted = onError;
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
    arm();
  });
}
