// What an import of Jira's provider side would do: rows of oauthspconsumer and oauthsptoken
// turned into links[] entries and access tokens for the store, each row taken whole or refused
// with its reason. Pure: no I/O besides reading key files already next to the configuration.
import { randomBytes } from 'node:crypto';
import { parseCallback } from '../oauth1/callback.js';
import { accessHandleOfToken, isForeignToken } from '../store/tokens.js';
import type { ImportedAccessToken } from '../store/types.js';
import { isValidUserName } from '../userauth/names.js';
import type { JiraRows, Row } from './jira-db.js';
import { LinkEntryError, linkEntry, linkIdFor, pemFromAtlassianKey, planKeyFile, type KeyFilePlan, type LinkDraft } from './link-entry.js';

/** A row that cannot be imported as it is (the message says which column and why). */
class BrokenRow extends Error {}

const TRUE = new Set(['true', 't', '1', 'y', 'yes', 'on']);
const FALSE = new Set(['false', 'f', '0', 'n', 'no', 'off']);

/** A boolean column as the spellings Jira's columns have held; null/empty means Atlassian's default. */
export function jiraBoolean(value: unknown, fallback: boolean, column: string): boolean {
  if (value === null || value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' || typeof value === 'bigint') {
    if (Number(value) === 1) return true;
    if (Number(value) === 0) return false;
  } else if (Buffer.isBuffer(value) && value.length === 1) {
    // MySQL BIT(1)
    if (value[0] === 1) return true;
    if (value[0] === 0) return false;
  } else if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === '') return fallback;
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
  }
  throw new BrokenRow(`${column} is ${JSON.stringify(Buffer.isBuffer(value) ? value.toString('hex') : String(value))}, not a boolean`);
}

function text(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

/** A date column: Date, epoch ms, or a date string. */
function epochMs(value: unknown, column: string): number | null {
  if (value === null || value === undefined) return null;
  let ms: number;
  if (value instanceof Date) ms = value.getTime();
  else if (typeof value === 'number' || typeof value === 'bigint') ms = Number(value);
  else if (typeof value === 'string' && /^\d+$/.test(value.trim())) ms = Number(value);
  else if (typeof value === 'string') ms = Date.parse(value);
  else ms = NaN;
  if (!Number.isFinite(ms)) throw new BrokenRow(`${column} is not a date`);
  return ms;
}

/** A whole number of milliseconds (BIGINT or NUMERIC, which drivers hand out as strings). */
function millis(value: unknown, column: string): number | null {
  if (value === null || value === undefined) return null;
  const s = typeof value === 'string' ? value.trim().replace(/\.0+$/, '') : value;
  const n = typeof s === 'string' ? (/^\d+$/.test(s) ? Number(s) : NaN) : Number(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new BrokenRow(`${column} is ${JSON.stringify(String(value))}, not a number of milliseconds`);
  return n;
}

export interface PlannedLink {
  consumerKey: string;
  linkId: string;
  draft: LinkDraft;
  keyFile: KeyFilePlan;
  entry: Record<string, unknown>;
  notes: string[];
}

export interface ImportPlan {
  /** Links to add to the configuration. */
  links: PlannedLink[];
  /** Consumer keys already links of the configuration (their tokens are imported under that link). */
  alreadyLinked: Array<{ consumerKey: string; linkId: string }>;
  /** Consumer rows refused, with the reason. */
  refusedLinks: Array<{ consumerKey: string; reason: string }>;
  tokens: ImportedAccessToken[];
  /** Token rows refused (broken), each with its reason; the handle it would have had when known. */
  refusedTokens: Array<{ consumerKey: string; handle: string | null; reason: string }>;
  /** Tokens left out as a matter of course, by reason, and the users that no longer exist. */
  skipped: { expired: number; requestTokens: number; unknownConsumer: number; refusedLink: number; goneUser: number };
  goneUsers: Array<{ consumerKey: string; handle: string; userKey: string }>;
}

export interface PlanOptions {
  configPath: string;
  /** The links of the configuration now. */
  configured: Array<{ id: string; consumerKey: string }>;
  linksOnly: boolean;
  now: number;
}

function planLink(row: Row, opts: PlanOptions, takenIds: Set<string>): PlannedLink {
  const consumerKey = text(row.consumer_key) ?? '';
  if (consumerKey === '' || consumerKey.length > 255 || /\p{Cc}/u.test(consumerKey)) throw new BrokenRow('consumer_key is empty, longer than 255 characters or has control characters');
  const encoded = text(row.public_key);
  if (encoded === null || encoded.trim() === '') throw new BrokenRow('public_key is empty (Jira consumers sign with RSA-SHA1)');
  let pem: string;
  try {
    pem = pemFromAtlassianKey(encoded);
  } catch (err) {
    throw new BrokenRow(`public_key: ${(err as Error).message}`);
  }
  const callback = text(row.callback)?.trim() || null;
  if (callback !== null) {
    // The configuration's own callback rule: an entry that passes here passes check-config.
    const problem = parseCallback(callback);
    if (typeof problem === 'string') throw new BrokenRow(`callback ${JSON.stringify(callback)} ${problem}`);
  }
  const notes: string[] = [];
  const twoLO = jiraBoolean(row.two_l_o_allowed, false, 'two_l_o_allowed');
  const impersonation = jiraBoolean(row.two_l_o_impersonation_allowed, false, 'two_l_o_impersonation_allowed');
  const threeLO = jiraBoolean(row.three_l_o_allowed, true, 'three_l_o_allowed');
  const executing = (text(row.executing_user_name) ?? text(row.executing_two_l_o_user))?.trim() || null;
  if (executing !== null && !isValidUserName(executing)) throw new BrokenRow('executing_two_l_o_user is not a user name');
  let twoLegged = { enabled: twoLO, executeAs: executing };
  if (twoLO && executing === null) {
    // Jira ran such requests anonymously; the gateway runs 2LO as a named user only.
    twoLegged = { enabled: false, executeAs: null };
    notes.push('2LO was allowed without an executing user (anonymous in Jira): left off, set twoLegged.executeAs to allow it');
  }
  const linkId = linkIdFor(consumerKey);
  if (takenIds.has(linkId)) throw new BrokenRow(`its link id ${linkId} is already taken`);
  let keyFile: KeyFilePlan;
  try {
    keyFile = planKeyFile(opts.configPath, consumerKey, pem);
  } catch (err) {
    if (err instanceof LinkEntryError) throw new BrokenRow(err.message);
    throw err;
  }
  const name = (text(row.consumername)?.trim() || consumerKey).slice(0, 200);
  const draft: LinkDraft = { id: linkId, name, consumerKey, callback, threeLegged: threeLO, twoLegged, impersonation };
  if (callback === null && threeLO) notes.push('no callback registered: new authorizations need callbackUrls (an Atlassian application: <its base URL>/plugins/servlet/applinks/oauth/login-dance/access)');
  return { consumerKey, linkId, draft, keyFile, entry: linkEntry(draft, keyFile.relative), notes };
}

function planToken(row: Row, consumerKey: string, linkId: string, now: number): ImportedAccessToken | 'expired' | 'gone' {
  const token = text(row.token) ?? '';
  if (!isForeignToken(token)) throw new BrokenRow('token is not 32 letters and digits, the shape Jira issues');
  const secret = text(row.token_secret);
  if (secret === null) throw new BrokenRow('token_secret is empty');
  const created = epochMs(row.created, 'created');
  if (created === null) throw new BrokenRow('created is empty');
  const ttl = millis(row.ttl, 'ttl');
  if (ttl === null) throw new BrokenRow('ttl is empty');
  const expiresAt = created + ttl;
  const session = text(row.session_handle)?.trim() || null;
  let sessionHandle: string;
  let authorizationExpiresAt: number;
  if (session === null) {
    // No session: the token cannot be renewed, here as in Jira (nobody knows this handle).
    sessionHandle = randomBytes(24).toString('base64url');
    authorizationExpiresAt = expiresAt;
  } else {
    const sessionTtl = millis(row.session_time_to_live, 'session_time_to_live');
    if (sessionTtl === null) throw new BrokenRow('session_time_to_live is empty while session_handle is set');
    const renewed = epochMs(row.session_last_renewal_time, 'session_last_renewal_time') ?? epochMs(row.session_creation_time, 'session_creation_time') ?? created;
    sessionHandle = session;
    authorizationExpiresAt = renewed + sessionTtl;
  }
  // A token past its expiry whose session can still renew it is imported (renewable, as in Jira).
  if (Math.max(expiresAt, authorizationExpiresAt) <= now) return 'expired';
  // The user key names nobody in app_user: the user was deleted.
  if (row.user_name === null || row.user_name === undefined) return 'gone';
  const user = text(row.user_name) ?? '';
  if (!isValidUserName(user)) throw new BrokenRow('its user name in app_user is not a user name');
  return { token, secret, sessionHandle, linkId, consumerKey, user, createdAt: created, expiresAt, authorizationExpiresAt };
}

/** The whole import, decided before anything is written. */
export function planImport(rows: JiraRows, opts: PlanOptions): ImportPlan {
  const plan: ImportPlan = {
    links: [],
    alreadyLinked: [],
    refusedLinks: [],
    tokens: [],
    refusedTokens: [],
    skipped: { expired: 0, requestTokens: rows.requestTokens, unknownConsumer: 0, refusedLink: 0, goneUser: 0 },
    goneUsers: [],
  };
  const configuredByKey = new Map(opts.configured.map((l) => [l.consumerKey, l.id]));
  const takenIds = new Set(opts.configured.map((l) => l.id));
  const linkOf = new Map<string, string>(); // consumer key -> link id, for its tokens
  const refused = new Set<string>();
  for (const [key, id] of configuredByKey) linkOf.set(key, id);

  for (const row of rows.consumers) {
    const consumerKey = text(row.consumer_key) ?? '';
    const configuredId = configuredByKey.get(consumerKey);
    if (configuredId !== undefined) {
      plan.alreadyLinked.push({ consumerKey, linkId: configuredId });
      continue;
    }
    if (linkOf.has(consumerKey)) {
      plan.refusedLinks.push({ consumerKey, reason: 'the consumer key appears twice in oauthspconsumer' });
      continue;
    }
    try {
      const link = planLink(row, opts, takenIds);
      plan.links.push(link);
      takenIds.add(link.linkId);
      linkOf.set(consumerKey, link.linkId);
    } catch (err) {
      if (!(err instanceof BrokenRow)) throw err;
      plan.refusedLinks.push({ consumerKey, reason: err.message });
      refused.add(consumerKey);
    }
  }
  if (opts.linksOnly) return plan;

  for (const row of rows.accessTokens) {
    const consumerKey = text(row.consumer_key) ?? '';
    const token = text(row.token) ?? '';
    const handle = accessHandleOfToken(token);
    if (refused.has(consumerKey)) {
      plan.skipped.refusedLink++;
      continue;
    }
    const linkId = linkOf.get(consumerKey);
    if (linkId === undefined) {
      plan.skipped.unknownConsumer++;
      continue;
    }
    try {
      const planned = planToken(row, consumerKey, linkId, opts.now);
      if (planned === 'expired') plan.skipped.expired++;
      else if (planned === 'gone') {
        plan.skipped.goneUser++;
        plan.goneUsers.push({ consumerKey, handle: handle ?? '', userKey: text(row.username) ?? '' });
      } else plan.tokens.push(planned);
    } catch (err) {
      if (!(err instanceof BrokenRow)) throw err;
      plan.refusedTokens.push({ consumerKey, handle, reason: err.message });
    }
  }
  return plan;
}
