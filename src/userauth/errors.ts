// What userauth refuses with: a stable reason and the HTTP status it calls for. No page text and
// no HTML: the pages are provider's (src/provider/page-steps.ts turns one into a readable page).

export type UserAuthReason =
  /** AppB's session endpoint did not answer within the time allowed. */
  | 'session-check-timeout'
  /** AppB's session endpoint could not be reached. */
  | 'session-check-unreachable'
  /** AppB answered, but not with a usable user name (a misconfigured usernameField or path). */
  | 'session-check-no-user';

/** Who the user is could not be found out (as opposed to "nobody is signed in", which is null). */
export class UserAuthError extends Error {
  readonly reason: UserAuthReason;
  readonly status: number;
  constructor(reason: UserAuthReason, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserAuthError';
    this.reason = reason;
    this.status = status;
  }
}
