// What a user name from AppB, an SSO header or a login form may look like.

// An unpaired UTF-16 surrogate (JSON's "\ud800" makes one) has no UTF-8 form: encodeURIComponent
// throws on it and TextEncoder turns it into U+FFFD, so AppB would get another name.
const LONE_SURROGATE = /\p{Cs}/u;

// No control characters: a name ends up in logs, headers towards AppB and HTML (escaped).
const USER_NAME = /^[^\p{Cc}\p{Cs}]{1,255}$/u;

/** The string holds an unpaired surrogate (in /u mode a paired one is one code point, not \p{Cs}). */
export function hasLoneSurrogate(s: string): boolean {
  return LONE_SURROGATE.test(s);
}

export function isValidUserName(name: string): boolean {
  return USER_NAME.test(name) && name.trim() === name;
}
