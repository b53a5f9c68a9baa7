// What a user name from AppB, an SSO header or a login form may look like.

// No control characters: a name ends up in logs, headers towards AppB and HTML (escaped).
const USER_NAME = /^[^\p{Cc}]{1,255}$/u;

export function isValidUserName(name: string): boolean {
  return USER_NAME.test(name) && name.trim() === name;
}
