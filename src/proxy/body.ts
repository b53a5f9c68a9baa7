// Reading what a signature needs of a body (a form body, or one covered by oauth_body_hash),
// at most server.formBodyLimitBytes; everything else streams.
import type { IncomingMessage } from 'node:http';
import { bufferedBodyOf, collectBody, type BodyDeadlines } from '../verify/steps.js';

/** The client stopped sending mid-body: nothing to forward (Koa's `expose` convention, never a 500). */
export class IncompleteBodyError extends Error {
  readonly status = 400;
  readonly expose = true;
  constructor() {
    super('Request body incomplete');
    this.name = 'IncompleteBodyError';
  }
}

const incomplete = () => new IncompleteBodyError();

/**
 * The whole body, or BodyTooLargeError once it passes `limitBytes`. Unlike destroying the
 * request, it only stops reading, so the 413 still reaches the client (the caller closes the
 * connection after it). A body the dance routes already read is reused.
 */
export async function readBodyUpTo(req: IncomingMessage, limitBytes: number, deadlines: BodyDeadlines): Promise<Buffer> {
  const cached = bufferedBodyOf(req);
  if (cached) return cached;
  return (await collectBody(req, { limitBytes, deadlines, overLimit: 'reject', onAbort: incomplete })).bytes;
}

/**
 * A form body up to `limitBytes`, whatever length it declares: `complete` when it ended within
 * it; otherwise `bytes` is what was read and the rest waits in the (paused) request, to be
 * streamed on if the request turns out to be unsigned (plan.ts).
 */
export function readFormPrefix(req: IncomingMessage, limitBytes: number, deadlines: BodyDeadlines): Promise<{ bytes: Buffer; complete: boolean }> {
  const cached = bufferedBodyOf(req);
  if (cached) return Promise.resolve({ bytes: cached, complete: true });
  return collectBody(req, { limitBytes, deadlines, overLimit: 'stop', onAbort: incomplete });
}
