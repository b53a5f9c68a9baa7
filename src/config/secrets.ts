// Secrets are never inline: every `*File` key is a path (relative to the configuration file) or
// `env:NAME`. This reads them, records what it read in the fingerprint, and names the key of
// every file or variable that cannot be read or parsed.
import { readFileSync } from 'node:fs';
import type { Hash, KeyObject } from 'node:crypto';
import path from 'node:path';
import { loadRsaPublicKey } from '../oauth1/signature.js';
import { parseKeyring, type EncryptionKey } from '../store/crypto.js';
import type { Problems } from './issues.js';

export interface SecretSource {
  env: NodeJS.ProcessEnv;
  /** Directory file references are relative to (the configuration file's). */
  baseDir: string;
  /** Every value read is added to it, so a changed key file is a changed configuration. */
  fingerprint: Hash;
  problems: Problems;
}

export class SecretReader {
  constructor(private readonly source: SecretSource) {}

  get problems(): Problems {
    return this.source.problems;
  }

  /** The text of `ref` (a file or env:NAME) for the key `key`; null (a problem recorded) when unreadable. */
  read(key: string, ref: string): string | null {
    const { env, baseDir, fingerprint, problems } = this.source;
    try {
      let value: string;
      if (ref.startsWith('env:')) {
        const name = ref.slice(4);
        const v = env[name];
        if (v === undefined || v === '') {
          problems.add(key, `environment variable ${name} is not set`);
          return null;
        }
        value = v;
      } else {
        value = readFileSync(path.resolve(baseDir, ref), 'utf8');
      }
      fingerprint.update(key).update('\0').update(value);
      return value;
    } catch (err) {
      problems.add(key, `cannot read ${JSON.stringify(ref)} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      return null;
    }
  }

  /** A secret with surrounding white space (a file's final newline) removed. */
  readTrimmed(key: string, ref: string): string | null {
    const text = this.read(key, ref);
    return text === null ? null : text.trim();
  }

  /** RSA public keys (PEM public key or X.509 certificate), one per [key, ref]; the unreadable ones are problems. */
  readPublicKeys(refs: ReadonlyArray<readonly [key: string, ref: string]>): KeyObject[] {
    const keys: KeyObject[] = [];
    for (const [key, ref] of refs) {
      const pem = this.read(key, ref);
      if (pem === null) continue;
      try {
        keys.push(loadRsaPublicKey(pem));
      } catch (err) {
        this.problems.add(key, (err as Error).message);
      }
    }
    return keys;
  }

  /** The store's encryption keyring (src/store/crypto.ts format); null when unreadable or empty. */
  readKeyring(key: string, ref: string): EncryptionKey[] | null {
    const text = this.read(key, ref);
    if (text === null) return null;
    try {
      const keys = parseKeyring(text);
      if (keys.length === 0) this.problems.add(key, 'holds no key');
      return keys;
    } catch (err) {
      this.problems.add(key, (err as Error).message);
      return null;
    }
  }
}
