// Loads, validates and resolves the YAML configuration; every mistake names its key path.
import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, createHash, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config, type LinkConfig, type IdentityConfig } from './schema.js';
import { loadRsaPublicKey, loadRsaPrivateKey } from '../oauth1/signature.js';
import { parseKeyring, type EncryptionKey } from '../store/crypto.js';
import { parseCidrList, type CidrMatcher } from './cidr.js';
import { OOB, parseCallback } from '../oauth1/callback.js';
import { foldUserName } from './user-name.js';

export const DEFAULT_CONFIG_PATH = 'config/gateway.yaml';

/** A configuration problem: `path` is the key (e.g. `links[0].signatureMethods[0]`). */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export interface ResolvedLink extends LinkConfig {
  /** RSA public keys, parsed once (several during AppA's key rotation). */
  publicKeys: KeyObject[];
  /** Consumer secret for HMAC-SHA1 / PLAINTEXT. */
  sharedSecret: string | null;
  /** denyUsers / allowUsers in folded form (foldUserName): what 2LOi requestor names are compared on. */
  denyUsersLower: Set<string>;
  allowUsersLower: Set<string> | null;
}

export type ResolvedIdentity =
  | { mode: 'oauth1'; consumerKey: string; signatureMethod: 'RSA-SHA1'; privateKey: KeyObject }
  | { mode: 'oauth1'; consumerKey: string; signatureMethod: 'HMAC-SHA1'; sharedSecret: string }
  | { mode: 'header'; userHeader: string; sharedSecret: Buffer }
  | {
      mode: 'jwt';
      privateKey: KeyObject;
      publicKey: KeyObject;
      algorithm: 'RS256' | 'EdDSA';
      keyId: string;
      audience: string;
      issuer: string;
      ttlSeconds: number;
    };

/** The validated configuration with every file read and every key parsed. */
export interface RuntimeConfig {
  config: Config;
  /** Absolute path of the file it came from (null when built in code, e.g. the demo). */
  sourcePath: string | null;
  publicBaseUrl: URL;
  signatureBaseUrl: URL;
  upstreamUrl: URL;
  links: ResolvedLink[];
  linksByConsumerKey: Map<string, ResolvedLink>;
  linksById: Map<string, ResolvedLink>;
  identity: ResolvedIdentity;
  encryptionKeys: EncryptionKey[] | null;
  trustedProxies: CidrMatcher;
  /** trusted-header mode: who may set the user header. */
  trustedUserSources: CidrMatcher | null;
  /** Digest of the file contents plus resolved files: unchanged reloads are no-ops. */
  fingerprint: string;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

/** Which config file to use: --config, else APPLINK_GATEWAY_CONFIG, else config/gateway.yaml. */
export function configPathFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? env.APPLINK_GATEWAY_CONFIG ?? DEFAULT_CONFIG_PATH);
}

export function loadConfigFile(file: string, opts: LoadOptions = {}): RuntimeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read the configuration file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${file}: YAML ${e.message.split('\n')[0]}`));
  }
  return resolveConfig(doc.toJS() as unknown, { ...opts, baseDir: path.dirname(path.resolve(file)), sourcePath: path.resolve(file), sourceText: text });
}

function formatPath(p: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of p) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || '(root)';
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_value': {
      const allowed = issue.values.map(String).join(', ');
      return `${where}: ${JSON.stringify(input)} is not one of ${allowed}`;
    }
    case 'unrecognized_keys':
      return issue.keys.map((k) => `${where === '(root)' ? k : `${where}.${k}`}: unknown key`).join('\n');
    case 'invalid_type':
      return input === undefined ? `${where}: is required` : `${where}: expected ${issue.expected}, got ${JSON.stringify(input)}`;
    case 'invalid_union': {
      const disc = (issue as { note?: string }).note;
      return `${where}: ${disc ?? issue.message}`;
    }
    default:
      return `${where}: ${issue.message}`;
  }
}

interface ResolveOptions extends LoadOptions {
  baseDir: string;
  sourcePath: string | null;
  sourceText?: string;
}

/** Validates a parsed document and resolves files, keys and cross-key rules. */
export function resolveConfig(input: unknown, opts: ResolveOptions): RuntimeConfig {
  const env = opts.env ?? process.env;
  const parsed = configSchema.safeParse(input ?? {}, { reportInput: true });
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.flatMap((i) => formatIssue(i).split('\n')));
  }
  const config = parsed.data;
  // REDIS_URL replaces store.redis.url; it does not turn Redis on for a memory-store config.
  const redisConf = config.store.redis;
  if (env.REDIS_URL && redisConf && !redisConf.sentinels && !redisConf.clusterNodes) {
    redisConf.url = env.REDIS_URL;
  }
  const problems: string[] = [];
  const fingerprint = createHash('sha256').update(opts.sourceText ?? JSON.stringify(input));

  const readRef = (key: string, ref: string): string | null => {
    try {
      let value: string;
      if (ref.startsWith('env:')) {
        const name = ref.slice(4);
        const v = env[name];
        if (v === undefined || v === '') {
          problems.push(`${key}: environment variable ${name} is not set`);
          return null;
        }
        value = v;
      } else {
        value = readFileSync(path.resolve(opts.baseDir, ref), 'utf8');
      }
      fingerprint.update(key).update('\0').update(value);
      return value;
    } catch (err) {
      problems.push(`${key}: cannot read ${JSON.stringify(ref)} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      return null;
    }
  };

  const publicBaseUrl = new URL(config.server.publicBaseUrl);
  const signatureBaseUrl = new URL(config.upstream.signatureBaseUrl ?? config.server.publicBaseUrl);
  const upstreamUrl = new URL(config.upstream.url);

  // Links: keys, secrets, and the rules that span keys.
  const links: ResolvedLink[] = [];
  const seenIds = new Map<string, number>();
  const seenKeys = new Map<string, number>();
  config.links.forEach((link, i) => {
    const at = `links[${i}]`;
    const prevId = seenIds.get(link.id);
    if (prevId !== undefined) problems.push(`${at}.id: "${link.id}" duplicates links[${prevId}].id`);
    else seenIds.set(link.id, i);
    const prevKey = seenKeys.get(link.consumerKey);
    if (prevKey !== undefined) problems.push(`${at}.consumerKey: "${link.consumerKey}" duplicates links[${prevKey}].consumerKey`);
    else seenKeys.set(link.consumerKey, i);
    if (config.upstream.identity.mode === 'oauth1' && link.consumerKey === config.upstream.identity.consumerKey) {
      problems.push(`${at}.consumerKey: "${link.consumerKey}" is the gateway's own upstream.identity.consumerKey`);
    }

    const publicKeys: KeyObject[] = [];
    const wantsRsa = link.signatureMethods.includes('RSA-SHA1');
    const wantsSecret = link.signatureMethods.includes('HMAC-SHA1') || link.signatureMethods.includes('PLAINTEXT');
    if (link.publicKeyFile && link.publicKeyFiles) {
      problems.push(`${at}: set publicKeyFile or publicKeyFiles, not both`);
    }
    const keyRefs: Array<[string, string]> = link.publicKeyFiles
      ? link.publicKeyFiles.map((r, j) => [`${at}.publicKeyFiles[${j}]`, r])
      : link.publicKeyFile
        ? [[`${at}.publicKeyFile`, link.publicKeyFile]]
        : [];
    if (wantsRsa && keyRefs.length === 0) problems.push(`${at}.publicKeyFile: is required for RSA-SHA1`);
    for (const [key, ref] of keyRefs) {
      const pem = readRef(key, ref);
      if (pem === null) continue;
      try {
        publicKeys.push(loadRsaPublicKey(pem));
      } catch (err) {
        problems.push(`${key}: ${(err as Error).message}`);
      }
    }
    let sharedSecret: string | null = null;
    if (wantsSecret && !link.sharedSecretFile) problems.push(`${at}.sharedSecretFile: is required for HMAC-SHA1 and PLAINTEXT`);
    if (link.sharedSecretFile) {
      const s = readRef(`${at}.sharedSecretFile`, link.sharedSecretFile);
      if (s !== null) {
        sharedSecret = s.trim();
        if (sharedSecret.length === 0) problems.push(`${at}.sharedSecretFile: is empty`);
      }
    }
    if (link.signatureMethods.includes('PLAINTEXT') && publicBaseUrl.protocol !== 'https:') {
      problems.push(`${at}.signatureMethods: PLAINTEXT needs an https server.publicBaseUrl`);
    }
    if (new Set(link.signatureMethods).size !== link.signatureMethods.length) {
      problems.push(`${at}.signatureMethods: lists a method twice`);
    }
    if (link.twoLegged.enabled && !link.twoLegged.executeAs) {
      problems.push(`${at}.twoLegged.executeAs: is required when twoLegged.enabled is true`);
    }
    // The one callback rule (DESIGN.md section 7) applied to the registered URLs: an entry it
    // refuses would otherwise load fine and then match nothing.
    link.callbackUrls.forEach((url, j) => {
      const parsed = url === OOB ? null : parseCallback(url);
      if (typeof parsed === 'string') problems.push(`${at}.callbackUrls[${j}]: ${parsed}`);
    });
    if (link.gatewayInitiated) {
      const first = link.callbackUrls[0];
      if (!first || first === 'oob') problems.push(`${at}.callbackUrls: gatewayInitiated needs an http(s) callback URL first`);
    }
    links.push({
      ...link,
      publicKeys,
      sharedSecret,
      // Folded as requestor names are (src/verify/user-name.ts), so a look-alike matches its entry.
      denyUsersLower: new Set(link.impersonation.denyUsers.map(foldUserName)),
      allowUsersLower: link.impersonation.allowUsers ? new Set(link.impersonation.allowUsers.map(foldUserName)) : null,
    });
  });

  const identity = resolveIdentity(config.upstream.identity, config, upstreamUrl, signatureBaseUrl, readRef, problems);

  // Store: Redis needs an encryption keyring; several workers need Redis.
  let encryptionKeys: EncryptionKey[] | null = null;
  if (config.store.encryptionKeyFile) {
    const text = readRef('store.encryptionKeyFile', config.store.encryptionKeyFile);
    if (text !== null) {
      try {
        encryptionKeys = parseKeyring(text);
        if (encryptionKeys.length === 0) problems.push('store.encryptionKeyFile: holds no key');
      } catch (err) {
        problems.push(`store.encryptionKeyFile: ${(err as Error).message}`);
      }
    }
  }
  const redis = config.store.redis;
  if (redis) {
    const kinds = [redis.url, redis.sentinels, redis.clusterNodes].filter((x) => x !== undefined).length;
    if (kinds !== 1) problems.push('store.redis: set exactly one of url, sentinels (with sentinelName) or clusterNodes');
    if (redis.sentinels && !redis.sentinelName) problems.push('store.redis.sentinelName: is required with sentinels');
    if (!config.store.encryptionKeyFile) problems.push('store.encryptionKeyFile: is required with store.redis (token secrets are encrypted at rest)');
  }
  if (config.server.workers !== 1 && !redis) {
    problems.push('server.workers: more than one worker needs store.redis (the memory store serves one process)');
  }
  const { accessTokenTtlSeconds, authorizationTtlSeconds } = config.oauth;
  if (authorizationTtlSeconds !== undefined && authorizationTtlSeconds < accessTokenTtlSeconds) {
    problems.push('oauth.authorizationTtlSeconds: must be at least oauth.accessTokenTtlSeconds (a token must not outlive its authorization)');
  }
  if (config.userAuth.mode === 'demo' && env.NODE_ENV === 'production') {
    problems.push('userAuth.mode: "demo" is refused when NODE_ENV=production');
  }
  // Port 0 (tests) picks two different free ports.
  if (config.server.listen === config.admin.listen && !config.server.listen.endsWith(':0')) {
    problems.push('admin.listen: must differ from server.listen (admin endpoints never share the public port)');
  }

  let trustedProxies: CidrMatcher = parseCidrList([]);
  try {
    trustedProxies = parseCidrList(config.server.trustedProxies);
  } catch (err) {
    problems.push(`server.trustedProxies: ${(err as Error).message}`);
  }
  let trustedUserSources: CidrMatcher | null = null;
  if (config.userAuth.mode === 'trusted-header') {
    try {
      trustedUserSources = parseCidrList(config.userAuth.trustedSources);
    } catch (err) {
      problems.push(`userAuth.trustedSources: ${(err as Error).message}`);
    }
  }

  if (problems.length > 0 || identity === null) throw new ConfigError(problems);

  return {
    config,
    sourcePath: opts.sourcePath,
    publicBaseUrl,
    signatureBaseUrl,
    upstreamUrl,
    links,
    linksByConsumerKey: new Map(links.map((l) => [l.consumerKey, l])),
    linksById: new Map(links.map((l) => [l.id, l])),
    identity,
    encryptionKeys,
    trustedProxies,
    trustedUserSources,
    fingerprint: fingerprint.digest('hex'),
  };
}

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1';
  return false;
}

function resolveIdentity(
  id: IdentityConfig,
  config: Config,
  upstreamUrl: URL,
  signatureBaseUrl: URL,
  readRef: (key: string, ref: string) => string | null,
  problems: string[],
): ResolvedIdentity | null {
  const at = 'upstream.identity';
  switch (id.mode) {
    case 'oauth1': {
      if (id.signatureMethod === 'RSA-SHA1') {
        if (!id.privateKeyFile) {
          problems.push(`${at}.privateKeyFile: is required for RSA-SHA1`);
          return null;
        }
        const pem = readRef(`${at}.privateKeyFile`, id.privateKeyFile);
        if (pem === null) return null;
        try {
          return { mode: 'oauth1', consumerKey: id.consumerKey, signatureMethod: 'RSA-SHA1', privateKey: loadRsaPrivateKey(pem) };
        } catch (err) {
          problems.push(`${at}.privateKeyFile: ${(err as Error).message}`);
          return null;
        }
      }
      if (!id.sharedSecretFile) {
        problems.push(`${at}.sharedSecretFile: is required for HMAC-SHA1`);
        return null;
      }
      const secret = readRef(`${at}.sharedSecretFile`, id.sharedSecretFile);
      if (secret === null) return null;
      return { mode: 'oauth1', consumerKey: id.consumerKey, signatureMethod: 'HMAC-SHA1', sharedSecret: secret.trim() };
    }
    case 'header': {
      if (!isLoopbackHost(upstreamUrl.hostname) && !id.allowRemote) {
        problems.push(`${at}.mode: "header" needs a loopback upstream.url (got ${upstreamUrl.host}) unless upstream.identity.allowRemote is true`);
      }
      const secret = readRef(`${at}.sharedSecretFile`, id.sharedSecretFile);
      if (secret === null) return null;
      const trimmed = secret.trim();
      if (trimmed.length < 16) {
        problems.push(`${at}.sharedSecretFile: must hold at least 16 characters`);
        return null;
      }
      return { mode: 'header', userHeader: id.userHeader, sharedSecret: Buffer.from(trimmed, 'utf8') };
    }
    case 'jwt': {
      const pem = readRef(`${at}.privateKeyFile`, id.privateKeyFile);
      if (pem === null) return null;
      try {
        const privateKey = createPrivateKey(pem);
        const type = privateKey.asymmetricKeyType;
        if (type !== 'rsa' && type !== 'ed25519') {
          problems.push(`${at}.privateKeyFile: must be an RSA or Ed25519 key (got ${type ?? 'unknown'})`);
          return null;
        }
        const publicKey = createPublicKey(privateKey);
        const der = publicKey.export({ format: 'der', type: 'spki' });
        return {
          mode: 'jwt',
          privateKey,
          publicKey,
          algorithm: type === 'rsa' ? 'RS256' : 'EdDSA',
          keyId: id.keyId ?? createHash('sha256').update(der).digest('base64url').slice(0, 16),
          audience: id.audience ?? signatureBaseUrl.href.replace(/\/$/, ''),
          issuer: id.issuer ?? config.server.publicBaseUrl.replace(/\/$/, ''),
          ttlSeconds: id.ttlSeconds,
        };
      } catch (err) {
        problems.push(`${at}.privateKeyFile: ${(err as Error).message}`);
        return null;
      }
    }
  }
}
