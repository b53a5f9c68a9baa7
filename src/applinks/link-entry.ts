// A links[] entry for an application that already exists elsewhere (its consumer info, or a
// Jira's oauthspconsumer row): its public key as a PEM file next to the configuration, and the
// entry printed or added to the YAML file with its comments and order kept (yaml's Document API).
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML, { isMap, isScalar, isSeq } from 'yaml';
import { resolveConfig } from '../config/load.js';
import { ConfigError } from '../config/issues.js';

/** Refused input, named: exit 1 for the CLI. */
export class LinkEntryError extends Error {
  override name = 'LinkEntryError';
}

/** What a links[] entry is made from. */
export interface LinkDraft {
  id: string;
  name: string;
  consumerKey: string;
  callback: string | null;
  threeLegged: boolean;
  twoLegged: { enabled: boolean; executeAs: string | null };
  impersonation: boolean;
}

/**
 * The PEM of a public key as Atlassian stores and serves it (RSAKeys.toPemEncoding: base64 of the
 * X.509 SubjectPublicKeyInfo DER, no PEM lines; PEM lines and line breaks are tolerated).
 * Refuses anything but a well-formed RSA key of at least 1024 bits.
 */
export function pemFromAtlassianKey(encoded: string): string {
  const body = encoded.replace(/-----(BEGIN|END) (RSA )?PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  if (body === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) {
    throw new LinkEntryError('the public key is not base64');
  }
  let key;
  try {
    key = createPublicKey({ key: Buffer.from(body, 'base64'), format: 'der', type: 'spki' });
  } catch {
    throw new LinkEntryError('the public key is not an X.509 SubjectPublicKeyInfo (DER)');
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new LinkEntryError(`the public key is ${key.asymmetricKeyType ?? 'of an unknown type'}, not RSA (links sign with RSA-SHA1)`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < 1024) throw new LinkEntryError(`the RSA key has ${bits} bits; at least 1024 are needed`);
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

/**
 * A stable applicationLinkID for a consumer key (a UUID-shaped digest): running an import or
 * `links add` twice gives the same id, and imported tokens name the link they will belong to.
 */
export function linkIdFor(consumerKey: string): string {
  const h = createHash('sha256').update(`applink-gateway link\0${consumerKey}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** keys/<consumer key, made file-safe>.pub.pem, relative to the configuration's directory. */
export function keyFileFor(consumerKey: string): string {
  const safe = consumerKey.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '').slice(0, 100) || 'link';
  return `keys/${safe}.pub.pem`;
}

/** The links[] entry, safe defaults spelled out so the reader sees them. */
export function linkEntry(d: LinkDraft, publicKeyFile: string): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    id: d.id,
    name: d.name,
    consumerKey: d.consumerKey,
    signatureMethods: ['RSA-SHA1'],
    publicKeyFile,
  };
  if (d.callback !== null) entry.callbackUrls = [d.callback];
  entry.threeLegged = d.threeLegged;
  entry.twoLegged = { enabled: d.twoLegged.enabled, executeAs: d.twoLegged.executeAs };
  entry.impersonation = { enabled: d.impersonation };
  return entry;
}

/** The links already in a configuration file (read as YAML, so a file with other problems still answers). */
export function configuredLinks(configPath: string): Array<{ id: string; consumerKey: string }> {
  const doc = readDocument(configPath);
  const links = doc.get('links');
  if (!isSeq(links)) return [];
  return links.items.flatMap((item) => {
    if (!isMap(item)) return [];
    const id = item.get('id');
    const consumerKey = item.get('consumerKey');
    return [{ id: typeof id === 'string' ? id : String(id ?? ''), consumerKey: typeof consumerKey === 'string' ? consumerKey : String(consumerKey ?? '') }];
  });
}

function readDocument(configPath: string): YAML.Document {
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (err) {
    throw new LinkEntryError(`${configPath}: cannot read the configuration file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const doc = YAML.parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new LinkEntryError(`${configPath}: YAML ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
  return doc;
}

/** A key file to write: refused when another key is already there. */
export interface KeyFilePlan {
  /** As the configuration names it (relative to its directory). */
  relative: string;
  absolute: string;
  pem: string;
  /** false when the same key is already in the file. */
  write: boolean;
}

export function planKeyFile(configPath: string, consumerKey: string, pem: string): KeyFilePlan {
  const relative = keyFileFor(consumerKey);
  const absolute = path.join(path.dirname(path.resolve(configPath)), relative);
  if (existsSync(absolute)) {
    const held = readFileSync(absolute, 'utf8');
    let same: boolean;
    try {
      same = createPublicKey(held).export({ type: 'spki', format: 'pem' }).toString() === pem;
    } catch {
      same = false;
    }
    if (!same) throw new LinkEntryError(`${absolute} already holds another key; move it away (or remove it) and run again`);
    return { relative, absolute, pem, write: false };
  }
  return { relative, absolute, pem, write: true };
}

export function writeKeyFile(plan: KeyFilePlan): void {
  if (!plan.write) return;
  mkdirSync(path.dirname(plan.absolute), { recursive: true });
  writeFileSync(plan.absolute, plan.pem, { mode: 0o644, flag: 'wx' });
}

/** Undoes writeKeyFile (a refused change leaves nothing behind). */
export function removeKeyFile(plan: KeyFilePlan): void {
  if (plan.write) rmSync(plan.absolute, { force: true });
}

/** The configuration's problems, as check-config would list them (key files must exist). */
function problemsOf(doc: YAML.Document, configPath: string): string[] {
  try {
    resolveConfig(doc.toJS() as unknown, { baseDir: path.dirname(path.resolve(configPath)), sourcePath: path.resolve(configPath) });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

/**
 * The configuration text with `entries` appended to links[] (comments, order and formatting of
 * everything else kept), checked like check-config: refused when the new entries bring a problem
 * the file did not already have. Call after the key files exist.
 */
export function configWithLinks(configPath: string, entries: Array<Record<string, unknown>>): string {
  const doc = readDocument(configPath);
  const problemsBefore = problemsOf(doc, configPath);
  let links = doc.get('links', true);
  if (isScalar(links) && (links.value === null || links.value === undefined)) links = undefined;
  if (links === undefined || (isSeq(links) && links.items.length === 0 && links.flow)) {
    doc.set('links', doc.createNode([]));
    links = doc.get('links', true);
  }
  if (!isSeq(links)) throw new LinkEntryError(`${configPath}: links is not a list`);
  for (const entry of entries) {
    const node = doc.createNode(entry);
    links.items.push(node);
  }
  const after = problemsOf(doc, configPath);
  const fresh = after.filter((p) => !problemsBefore.includes(p));
  if (fresh.length > 0) throw new LinkEntryError(`the new links would make the configuration invalid:\n${fresh.map((p) => `  ${p}`).join('\n')}`);
  return doc.toString();
}

/** Replaces the configuration file atomically (same directory, same mode): a reader sees old or new. */
export function writeConfigText(configPath: string, text: string): void {
  const abs = path.resolve(configPath);
  const tmp = `${abs}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: statSync(abs).mode & 0o777, flag: 'wx' });
  renameSync(tmp, abs);
}

/** The entries as YAML list items, to paste under links:. */
export function entriesYaml(entries: Array<Record<string, unknown>>): string {
  return YAML.stringify(entries);
}
