// Loads, validates and resolves the YAML configuration; every mistake names its key path.
// The schema (schema.ts) checks the document, rules that span keys included; resolving reads what
// it names: secrets and keys (secrets.ts), the links' keys (links.ts), the identity's (identity.ts).
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import YAML from 'yaml';
import type { EncryptionKey } from '../store/crypto.js';
import { configSchema, type Config } from './schema.js';
import { ConfigError, Problems, problemsOfIssues } from './issues.js';
import { SecretReader } from './secrets.js';
import { resolveLinks, type ResolvedLink } from './links.js';
import { resolveIdentity, type ResolvedIdentity } from './identity.js';
import { parseCidrList, type CidrMatcher } from './cidr.js';

export const DEFAULT_CONFIG_PATH = 'config/gateway.yaml';

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

interface ResolveOptions extends LoadOptions {
  baseDir: string;
  sourcePath: string | null;
  sourceText?: string;
}

/** Validates a parsed document and resolves files and keys, and the rules that need the environment. */
export function resolveConfig(input: unknown, opts: ResolveOptions): RuntimeConfig {
  const env = opts.env ?? process.env;
  const parsed = configSchema.safeParse(input ?? {}, { reportInput: true });
  if (!parsed.success) throw new ConfigError(problemsOfIssues(parsed.error.issues));
  const config = parsed.data;
  // REDIS_URL replaces store.redis.url; it does not turn Redis on for a memory-store config.
  const redis = config.store.redis;
  if (env.REDIS_URL && redis && !redis.sentinels && !redis.clusterNodes) {
    redis.url = env.REDIS_URL;
  }
  const problems = new Problems();
  const fingerprint = createHash('sha256').update(opts.sourceText ?? JSON.stringify(input));
  const secrets = new SecretReader({ env, baseDir: opts.baseDir, fingerprint, problems });

  const links = resolveLinks(config.links, secrets);
  const identity = resolveIdentity(config.upstream.identity, secrets);
  const encryptionKeys = config.store.encryptionKeyFile ? secrets.readKeyring('store.encryptionKeyFile', config.store.encryptionKeyFile) : null;

  // Rules the schema cannot check: they read the environment.
  if (redis && [redis.url, redis.sentinels, redis.clusterNodes].filter((x) => x !== undefined).length !== 1) {
    problems.add('store.redis', 'set exactly one of url, sentinels (with sentinelName) or clusterNodes');
  }
  if (config.userAuth.mode === 'demo' && env.NODE_ENV === 'production') {
    problems.add('userAuth.mode', '"demo" is refused when NODE_ENV=production');
  }

  const trustedProxies = cidrList('server.trustedProxies', config.server.trustedProxies, problems);
  const trustedUserSources = config.userAuth.mode === 'trusted-header' ? cidrList('userAuth.trustedSources', config.userAuth.trustedSources, problems) : null;

  // A null identity or CIDR list always comes with its problem.
  if (problems.list.length > 0 || identity === null || trustedProxies === null) throw new ConfigError(problems.list);

  return {
    config,
    sourcePath: opts.sourcePath,
    publicBaseUrl: new URL(config.server.publicBaseUrl),
    signatureBaseUrl: new URL(config.upstream.signatureBaseUrl),
    upstreamUrl: new URL(config.upstream.url),
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

function cidrList(key: string, entries: string[], problems: Problems): CidrMatcher | null {
  try {
    return parseCidrList(entries);
  } catch (err) {
    problems.add(key, (err as Error).message);
    return null;
  }
}
