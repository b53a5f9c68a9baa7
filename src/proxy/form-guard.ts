// An unsigned form body larger than server.formBodyLimitBytes streams to AppB instead of being
// read whole; this guard watches it go by for OAuth and requestor parameter names. A name is held
// back until it is known (its '=' or '&', or too long to be one of them), so AppB never receives
// all of a body that carries one: the caller aborts the upstream request instead.
import { decodeFormName, isOAuthOrRequestorName } from '../http/target.js';
import { CLOSE_CONNECTION, GatewayError, gatewayFields } from '../errors/index.js';

const AMP = 0x26;
const EQ = 0x3d;
/**
 * Raw bytes of a name after which it is decided: 'xoauth_requestor_id' (19 characters) takes at most
 * 57 bytes however it is percent-encoded, and the 'oauth_' prefix at most 18; a longer name is neither.
 */
const NAME_CAP = 57;

/** A guarded name passed by (413, late_oauth_parameter; the connection ends): `paramName` is what it decoded to. */
export class LateOAuthParameterError extends GatewayError {
  constructor(readonly paramName: string) {
    super('Request body larger than the form body limit carries OAuth or requestor parameters.');
    gatewayFields(this, 413, 'late_oauth_parameter', { headers: CLOSE_CONNECTION });
    this.name = 'LateOAuthParameterError';
  }
}

export class FormNameGuard {
  /** Bytes of the current name not yet passed on (it starts at a name). */
  private held: Buffer = Buffer.alloc(0);
  /** 'name': in a name not yet decided (its bytes are in `held`); 'decided': in a harmless name; 'value'. */
  private state: 'name' | 'decided' | 'value' = 'name';

  /** The bytes of `chunk` (and held ones) that may go on; throws LateOAuthParameterError at a guarded name. */
  push(chunk: Buffer): Buffer {
    const data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    let nameStart = this.state === 'name' ? 0 : -1;
    for (let i = 0; i < data.length; i++) {
      const c = data[i] as number;
      if (c === AMP) {
        if (nameStart >= 0) this.decide(data.subarray(nameStart, i));
        nameStart = i + 1;
        this.state = 'name';
      } else if (c === EQ && this.state !== 'value') {
        if (nameStart >= 0) this.decide(data.subarray(nameStart, i));
        nameStart = -1;
        this.state = 'value';
      } else if (nameStart >= 0 && i + 1 - nameStart > NAME_CAP) {
        this.decide(data.subarray(nameStart, i + 1));
        nameStart = -1;
        this.state = 'decided';
      }
    }
    if (nameStart < 0) {
      this.held = Buffer.alloc(0);
      return data;
    }
    this.held = Buffer.from(data.subarray(nameStart));
    return data.subarray(0, nameStart);
  }

  /** The end of the body: the last name is decided; returns the bytes still held. */
  end(): Buffer {
    const rest = this.held;
    if (this.state === 'name') this.decide(rest);
    this.held = Buffer.alloc(0);
    return rest;
  }

  private decide(raw: Buffer): void {
    const name = decodeFormName(raw);
    if (isOAuthOrRequestorName(name)) throw new LateOAuthParameterError(name);
  }
}
