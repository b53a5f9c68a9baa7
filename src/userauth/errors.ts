// What userauth refuses with: a GatewayError whose code says why, and the HTTP status it calls
// for. No page text and no HTML: the pages are provider's (src/provider/page-steps.ts turns one
// into a readable page).
import { GatewayError, gatewayFields } from '../errors/index.js';

export type UserAuthReason =
  /** AppB's session endpoint did not answer within the time allowed. */
  | 'session_check_timeout'
  /** AppB's session endpoint could not be reached. */
  | 'session_check_unreachable'
  /** AppB answered, but not with a usable user name (a misconfigured usernameField or path). */
  | 'session_check_no_user';

const HIDDEN = Object.freeze({ expose: false });

/** Who the user is could not be found out (as opposed to "nobody is signed in", which is null). */
export class UserAuthError extends GatewayError {
  declare readonly code: UserAuthReason;
  constructor(reason: UserAuthReason, status: number, message: string, options?: { cause?: unknown }) {
    // The message is for the log (it may name AppB's address); the browser user reads the page's text.
    super(message, options);
    gatewayFields(this, status, reason, HIDDEN);
    this.name = 'UserAuthError';
  }
}
