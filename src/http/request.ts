// Facts of an incoming request every handler needs: its request id and whether the client left mid-request.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A well-formed X-Request-Id as sent (one value), else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** The connection closed before the whole request had arrived (an upload cut short): nobody is left to answer. */
export function clientAborted(req: IncomingMessage): boolean {
  // Node detaches the socket (null) from a request destroyed mid-body.
  return !req.complete && ((req.socket as IncomingMessage['socket'] | null)?.destroyed ?? true);
}
