// The links (AppA's consumers) with their key files read: the schema already checked every rule
// that spans their keys; what is left needs the files.
import type { KeyObject } from 'node:crypto';
import type { LinkConfig } from './schema.js';
import type { SecretReader } from './secrets.js';
import { foldUserName } from './user-name.js';

export interface ResolvedLink extends LinkConfig {
  /** RSA public keys, parsed once (several during AppA's key rotation). */
  publicKeys: KeyObject[];
  /** Consumer secret for HMAC-SHA1 / PLAINTEXT. */
  sharedSecret: string | null;
  /** denyUsers / allowUsers in folded form (foldUserName): what 2LOi requestor names are compared on. */
  denyUsersLower: Set<string>;
  allowUsersLower: Set<string> | null;
}

/** The public key references of a link as [key path, reference]: publicKeyFiles, else publicKeyFile. */
function publicKeyRefs(link: LinkConfig, at: string): Array<[string, string]> {
  if (link.publicKeyFiles) return link.publicKeyFiles.map((r, j) => [`${at}.publicKeyFiles[${j}]`, r]);
  if (link.publicKeyFile) return [[`${at}.publicKeyFile`, link.publicKeyFile]];
  return [];
}

export function resolveLink(link: LinkConfig, at: string, secrets: SecretReader): ResolvedLink {
  const publicKeys = secrets.readPublicKeys(publicKeyRefs(link, at));
  let sharedSecret: string | null = null;
  if (link.sharedSecretFile) {
    sharedSecret = secrets.readTrimmed(`${at}.sharedSecretFile`, link.sharedSecretFile);
    if (sharedSecret === '') secrets.problems.add(`${at}.sharedSecretFile`, 'is empty');
  }
  return {
    ...link,
    publicKeys,
    sharedSecret,
    // Folded as requestor names are (src/config/user-name.ts), so a look-alike matches its entry.
    denyUsersLower: new Set(link.impersonation.denyUsers.map(foldUserName)),
    allowUsersLower: link.impersonation.allowUsers ? new Set(link.impersonation.allowUsers.map(foldUserName)) : null,
  };
}

export function resolveLinks(links: readonly LinkConfig[], secrets: SecretReader): ResolvedLink[] {
  return links.map((link, i) => resolveLink(link, `links[${i}]`, secrets));
}
