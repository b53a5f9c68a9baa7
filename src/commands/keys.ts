// keys generate: an RSA key pair for the gateway (AppB's incoming link) or for a link (a custom
// AppA), or a store encryption key; prints the public key as an Atlassian admin pastes it.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { generateKeyringLine } from '../store/crypto.js';
import { COMMON_OPTIONS, EXIT, UsageError, configFile, parse, type Command } from './common.js';

/** The public key as Jira/Confluence's "Public Key" field takes it: base64 DER SubjectPublicKeyInfo on one line. */
export function atlassianPublicKey(publicPem: string): string {
  return publicPem
    .replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '')
    .replace(/\s+/g, '');
}

function writeSecretFile(file: string, content: string, force: boolean): void {
  mkdirSync(path.dirname(file), { recursive: true });
  // 'wx' refuses to overwrite: a key in use must not vanish by accident.
  writeFileSync(file, content, { mode: 0o600, flag: force ? 'w' : 'wx' });
}

function consumerKeyFrom(file: string): string {
  try {
    const doc = YAML.parse(readFileSync(file, 'utf8')) as { upstream?: { identity?: { consumerKey?: unknown } } } | null;
    const key = doc?.upstream?.identity?.consumerKey;
    return typeof key === 'string' && key !== '' ? key : 'applink-gateway';
  } catch {
    return 'applink-gateway';
  }
}

/** Relative to the configuration file's directory when inside it (the form *File keys take). */
function configRelative(configPath: string, file: string): string {
  const rel = path.relative(path.dirname(configPath), file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

export const keysGenerateCommand: Command = {
  summary: 'make an RSA key pair (gateway or link) or a store encryption key',
  usage: `Usage: applink-gateway keys generate [gateway]      [--out PREFIX] [--bits N] [--force]
       applink-gateway keys generate link NAME      [--out PREFIX] [--bits N] [--force]
       applink-gateway keys generate store          [--out FILE] [--rotate | --force]

  gateway     the gateway's own key (upstream.identity.privateKeyFile, oauth1 RSA-SHA1 or jwt):
              writes PREFIX.pem (private, mode 0600) and PREFIX.pub.pem, and prints the
              public key to paste into AppB's incoming link for the gateway's consumer key.
  link NAME   a pair for a linked application you build yourself: PREFIX.pem goes to AppA,
              PREFIX.pub.pem is the link's publicKeyFile. (An Atlassian AppA makes its own
              key; copy its public key into publicKeyFile instead.)
  store       a store.encryptionKeyFile keyring line (mode 0600). --rotate puts a new key
              first in an existing keyring: new secrets use it, old ones still decrypt.

Files are never overwritten without --force. PREFIX defaults to keys/gateway or keys/NAME,
FILE to keys/store.key, next to the configuration file.

Options:
  --out PREFIX    where to write (.pem and .pub.pem are appended for key pairs)
  --bits N        RSA modulus length: 2048 (default), 3072 or 4096
  --force         overwrite existing files
  --rotate        store only: add a new first key to an existing keyring
${COMMON_OPTIONS}`,
  async run(argv) {
    const { values, positionals } = parse(argv, { out: { type: 'string' }, bits: { type: 'string' }, force: { type: 'boolean' }, rotate: { type: 'boolean' } }, true);
    const [kind = 'gateway', name, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const cfgPath = configFile(values);
    const keysDir = path.join(path.dirname(cfgPath), 'keys');
    const force = values.force === true;

    if (kind === 'store') {
      if (name !== undefined) throw new UsageError('store takes no name');
      const file = path.resolve(typeof values.out === 'string' ? values.out : path.join(keysDir, 'store.key'));
      const line = generateKeyringLine();
      const id = line.split(':', 1)[0] ?? '';
      if (values.rotate === true) {
        if (!existsSync(file)) throw new Error(`${file} does not exist: nothing to rotate (drop --rotate to create it)`);
        writeSecretFile(file, `${line}\n${readFileSync(file, 'utf8').replace(/^\s+/, '')}`, true);
        console.log(`Added key ${id} first in ${file}: new token secrets use it, older ones still decrypt.`);
        console.log('Restart the gateway (every replica) to use it; remove an old line only once no token it encrypted is left.');
      } else {
        if (existsSync(file) && !force) throw new Error(`${file} exists; use --rotate to add a key, or --force to replace it (tokens encrypted with it become unreadable)`);
        writeSecretFile(file, `${line}\n`, force);
        console.log(`Wrote ${file} (store encryption keyring, key ${id}, mode 0600).`);
        console.log(`Configuration: store.encryptionKeyFile: ${configRelative(cfgPath, file)}`);
      }
      return EXIT.ok;
    }

    if (kind !== 'gateway' && kind !== 'link') throw new UsageError(`unknown key kind ${JSON.stringify(kind)} (gateway, link NAME or store)`);
    if (kind === 'link' && (name === undefined || !/^[A-Za-z0-9._-]{1,128}$/.test(name))) {
      throw new UsageError('link needs a NAME of letters, digits, ".", "_" or "-" (e.g. the consumer key)');
    }
    if (kind === 'gateway' && name !== undefined) throw new UsageError('gateway takes no name');
    const bits = values.bits === undefined ? 2048 : Number(values.bits);
    if (![2048, 3072, 4096].includes(bits)) throw new UsageError('--bits must be 2048, 3072 or 4096');

    const prefix = path.resolve(typeof values.out === 'string' ? values.out.replace(/\.pem$/, '') : path.join(keysDir, kind === 'gateway' ? 'gateway' : (name as string)));
    const privateFile = `${prefix}.pem`;
    const publicFile = `${prefix}.pub.pem`;
    for (const f of [privateFile, publicFile]) {
      if (existsSync(f) && !force) throw new Error(`${f} exists; use --force to replace it`);
    }
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
    const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeSecretFile(privateFile, privatePem, force);
    mkdirSync(path.dirname(publicFile), { recursive: true });
    writeFileSync(publicFile, publicPem, { mode: 0o644, flag: force ? 'w' : 'wx' });

    console.log(`Wrote ${privateFile} (private key, mode 0600) and ${publicFile} (RSA ${bits}).`);
    console.log('');
    if (kind === 'gateway') {
      const consumerKey = consumerKeyFrom(cfgPath);
      console.log('Configuration:');
      console.log(`  upstream.identity.privateKeyFile: ${configRelative(cfgPath, privateFile)}`);
      console.log('');
      console.log("In AppB (Administration > Application links > the gateway's link > Incoming Authentication):");
      console.log(`  Consumer Key:  ${consumerKey}`);
      console.log('  Consumer Name: applink-gateway');
      console.log('  Allow 2-Legged OAuth with impersonation: on');
      console.log('  Public Key:');
    } else {
      console.log('Configuration (the link in links[]):');
      console.log(`  publicKeyFile: ${configRelative(cfgPath, publicFile)}`);
      console.log(`Give ${privateFile} to the linked application (it signs with it); it never goes in the gateway.`);
      console.log('');
      console.log('Public key (one line, as Atlassian administration pages take it):');
    }
    console.log(atlassianPublicKey(publicPem));
    return EXIT.ok;
  },
};
