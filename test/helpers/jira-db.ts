// Throw-away databases with Jira's OAuth tables (oauthspconsumer, oauthsptoken, app_user) on the
// machine's PostgreSQL and MariaDB, for the import tests; and a stand-in Jira that runs the
// provider side of the dance and writes what it issues into those tables, as Jira does.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { parseAuthorizationHeader, rsaSha1Verify, signatureBaseString } from '../../src/oauth1/index.js';
import { loadRsaPublicKey } from '../../src/oauth1/signature.js';

export type Dialect = 'postgresql' | 'mariadb';

const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };
const MY = { host: '127.0.0.1', port: 3306, user: 'root' };

const HOW_TO_START: Record<Dialect, string> = {
  postgresql: "PostgreSQL is not reachable at 127.0.0.1:5432 (user postgres, trust auth). Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
  mariadb: 'MariaDB is not reachable at 127.0.0.1:3306 (root, no password). Start it: start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd',
};

/** Jira's column types, per database; a few boolean columns in other spellings Jira has used. */
const TABLES: Record<Dialect, string[]> = {
  postgresql: [
    `CREATE TABLE oauthspconsumer (id numeric(18,0) PRIMARY KEY, created timestamptz, consumer_key varchar(255), consumername varchar(255),
      public_key text, description text, callback text, two_l_o_allowed boolean, executing_two_l_o_user varchar(255),
      two_l_o_impersonation_allowed varchar(60), three_l_o_allowed varchar(60))`,
    `CREATE TABLE oauthsptoken (id numeric(18,0) PRIMARY KEY, created timestamptz, token varchar(255), token_secret varchar(255),
      token_type varchar(60), consumer_key varchar(255), username varchar(255), ttl numeric(18,0), spauth varchar(60), callback text,
      spverifier varchar(255), spversion varchar(60), session_handle varchar(255), session_creation_time timestamptz,
      session_last_renewal_time timestamptz, session_time_to_live numeric(18,0))`,
    'CREATE TABLE app_user (id numeric(18,0) PRIMARY KEY, user_key varchar(255), lower_user_name varchar(255))',
  ],
  // Jira's MySQL tables are lower case, their columns upper case.
  mariadb: [
    `CREATE TABLE oauthspconsumer (ID decimal(18,0) PRIMARY KEY, CREATED datetime, CONSUMER_KEY varchar(255), CONSUMERNAME varchar(255),
      PUBLIC_KEY longtext, DESCRIPTION longtext, CALLBACK longtext, TWO_L_O_ALLOWED tinyint(1), EXECUTING_TWO_L_O_USER varchar(255),
      TWO_L_O_IMPERSONATION_ALLOWED bit(1), THREE_L_O_ALLOWED varchar(60))`,
    `CREATE TABLE oauthsptoken (ID decimal(18,0) PRIMARY KEY, CREATED datetime, TOKEN varchar(255), TOKEN_SECRET varchar(255),
      TOKEN_TYPE varchar(60), CONSUMER_KEY varchar(255), USERNAME varchar(255), TTL decimal(18,0), SPAUTH varchar(60), CALLBACK longtext,
      SPVERIFIER varchar(255), SPVERSION varchar(60), SESSION_HANDLE varchar(255), SESSION_CREATION_TIME datetime,
      SESSION_LAST_RENEWAL_TIME datetime, SESSION_TIME_TO_LIVE decimal(18,0))`,
    'CREATE TABLE app_user (ID decimal(18,0) PRIMARY KEY, USER_KEY varchar(255), LOWER_USER_NAME varchar(255))',
  ],
};

export interface JiraDb {
  dialect: Dialect;
  url: string;
  /** Runs SQL with ? placeholders (translated to $n for PostgreSQL). */
  exec(sql: string, params?: unknown[]): Promise<Array<Record<string, unknown>>>;
  /** A digest of every row of the three tables: equal before and after = nothing was written. */
  fingerprint(): Promise<string>;
  drop(): Promise<void>;
}

let nextId = 10_000;
export const newId = () => ++nextId;

/** A database of its own on the server, with Jira's tables unless `empty`. Fails at once, saying how to start the server, when it is not running. */
export async function createJiraDb(dialect: Dialect, opts: { empty?: boolean } = {}): Promise<JiraDb> {
  const name = `applink_jira_${randomBytes(5).toString('hex')}`;
  if (dialect === 'postgresql') {
    const admin = new pg.Client({ ...PG, database: 'postgres', connectionTimeoutMillis: 3000 });
    try {
      await admin.connect();
    } catch (err) {
      throw new Error(`${HOW_TO_START.postgresql} (${(err as Error).message})`, { cause: err });
    }
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const client = new pg.Client({ ...PG, database: name, connectionTimeoutMillis: 3000 });
    await client.connect();
    const exec = async (sql: string, params: unknown[] = []) => {
      let i = 0;
      return (await client.query(sql.replace(/\?/g, () => `$${++i}`), params)).rows as Array<Record<string, unknown>>;
    };
    if (!opts.empty) for (const ddl of TABLES.postgresql) await exec(ddl);
    return {
      dialect,
      url: `postgresql://postgres@127.0.0.1:5432/${name}`,
      exec,
      async fingerprint() {
        const rows = await exec(`SELECT md5(string_agg(r::text, '|' ORDER BY r::text)) AS f FROM (
          SELECT c::text AS r FROM oauthspconsumer c UNION ALL SELECT t::text FROM oauthsptoken t UNION ALL SELECT u::text FROM app_user u) x`);
        return String(rows[0]?.f);
      },
      async drop() {
        await client.end();
        const a = new pg.Client({ ...PG, database: 'postgres' });
        await a.connect();
        await a.query(`DROP DATABASE IF EXISTS ${name}`);
        await a.end();
      },
    };
  }
  let conn: mysql.Connection;
  try {
    conn = await mysql.createConnection({ ...MY, connectTimeout: 3000, multipleStatements: false });
  } catch (err) {
    throw new Error(`${HOW_TO_START.mariadb} (${(err as Error).message})`, { cause: err });
  }
  await conn.query(`CREATE DATABASE ${name}`);
  await conn.query(`USE ${name}`);
  const exec = async (sql: string, params: unknown[] = []) => (await conn.query(sql, params))[0] as Array<Record<string, unknown>>;
  if (!opts.empty) for (const ddl of TABLES.mariadb) await exec(ddl);
  return {
    dialect,
    url: `mysql://root@127.0.0.1:3306/${name}`,
    exec,
    async fingerprint() {
      const parts: string[] = [];
      for (const table of ['oauthspconsumer', 'oauthsptoken', 'app_user']) {
        const rows = await exec(`SELECT * FROM ${table} ORDER BY ID`);
        parts.push(JSON.stringify(rows, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v)));
      }
      return parts.join('|');
    },
    async drop() {
      await conn.query(`DROP DATABASE IF EXISTS ${name}`);
      await conn.end();
    },
  };
}

/** Jira's booleans as each test table holds them. */
export function sqlBool(dialect: Dialect, column: 'two_l_o_allowed' | 'two_l_o_impersonation_allowed' | 'three_l_o_allowed', v: boolean | null): unknown {
  if (v === null) return null;
  if (dialect === 'postgresql') return column === 'two_l_o_allowed' ? v : v ? 't' : 'f';
  if (column === 'two_l_o_allowed') return v ? 1 : 0;
  if (column === 'two_l_o_impersonation_allowed') return Buffer.from([v ? 1 : 0]);
  return v ? 'Y' : 'N';
}

export interface ConsumerRow {
  consumerKey: string;
  name: string;
  /** As RSAKeys.toPemEncoding writes it: base64 DER, no PEM lines. */
  publicKey: string;
  callback?: string | null;
  twoLO?: unknown;
  executeAs?: string | null;
  impersonation?: unknown;
  threeLO?: unknown;
}

export async function insertConsumer(db: JiraDb, c: ConsumerRow): Promise<void> {
  await db.exec(
    'INSERT INTO oauthspconsumer (id, created, consumer_key, consumername, public_key, description, callback, two_l_o_allowed, executing_two_l_o_user, two_l_o_impersonation_allowed, three_l_o_allowed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [newId(), new Date(), c.consumerKey, c.name, c.publicKey, `${c.name} (test)`, c.callback ?? null, c.twoLO ?? null, c.executeAs ?? null, c.impersonation ?? null, c.threeLO ?? null],
  );
}

export interface TokenRow {
  token: string;
  secret: string;
  type: 'ACCESS' | 'REQUEST';
  consumerKey: string;
  userKey: string | null;
  created: Date;
  ttl: number | string;
  sessionHandle?: string | null;
  sessionCreated?: Date | null;
  sessionRenewed?: Date | null;
  sessionTtl?: number | string | null;
}

export async function insertToken(db: JiraDb, t: TokenRow): Promise<void> {
  await db.exec(
    'INSERT INTO oauthsptoken (id, created, token, token_secret, token_type, consumer_key, username, ttl, spauth, spversion, session_handle, session_creation_time, session_last_renewal_time, session_time_to_live) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [newId(), t.created, t.token, t.secret, t.type, t.consumerKey, t.userKey, t.ttl, t.type === 'ACCESS' ? 'AUTHORIZED' : 'NONE', 'V_1_0_A', t.sessionHandle ?? null, t.sessionCreated ?? null, t.sessionRenewed ?? null, t.sessionTtl ?? null],
  );
}

export async function insertUser(db: JiraDb, userKey: string, lowerName: string): Promise<void> {
  await db.exec('INSERT INTO app_user (id, user_key, lower_user_name) VALUES (?, ?, ?)', [newId(), userKey, lowerName]);
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** What Atlassian's Randomizer.randomAlphanumericString(32) makes. */
export function jiraTokenValue(): string {
  return Array.from(randomBytes(32), (b) => ALNUM[b % 62]).join('');
}

/** Jira's defaults: access tokens 5 years, sessions 5 years + 30 days. */
export const JIRA_ACCESS_TTL_MS = 5 * 365 * 86_400_000;
export const JIRA_SESSION_TTL_MS = JIRA_ACCESS_TTL_MS + 30 * 86_400_000;

export interface StandInJira {
  url: string;
  close(): Promise<void>;
}

/**
 * A stand-in for Jira's OAuth provider: request-token, authorize (approves at once for
 * ?user=<name>, whose user key it looks up) and access-token, each signature checked with the
 * consumer's RSA key; what it issues lands in oauthsptoken exactly as Jira's rows look.
 */
export async function startStandInJira(db: JiraDb, consumers: Record<string, string>, userKeys: Record<string, string>): Promise<StandInJira> {
  const pending = new Map<string, { secret: string; callback: string; verifier: string | null; userKey: string | null; consumerKey: string }>();
  let base = '';
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', base);
      const fail = (status: number, problem: string) => res.writeHead(status, { 'content-type': 'application/x-www-form-urlencoded' }).end(`oauth_problem=${problem}`);
      if (url.pathname === '/plugins/servlet/oauth/authorize') {
        const token = url.searchParams.get('oauth_token') ?? '';
        const user = url.searchParams.get('user') ?? '';
        const p = pending.get(token);
        const userKey = userKeys[user];
        if (!p || userKey === undefined) return fail(400, 'token_rejected');
        p.userKey = userKey;
        p.verifier = jiraTokenValue();
        const cb = new URL(p.callback);
        cb.searchParams.set('oauth_token', token);
        cb.searchParams.set('oauth_verifier', p.verifier);
        return res.writeHead(302, { location: cb.href }).end();
      }
      const header = req.headers.authorization ?? '';
      const parsed = parseAuthorizationHeader(header);
      if (!parsed) return fail(401, 'parameter_absent');
      const params = new Map(parsed.params);
      const consumerKey = params.get('oauth_consumer_key') ?? '';
      const pem = consumers[consumerKey];
      if (pem === undefined) return fail(401, 'consumer_key_unknown');
      const sig = params.get('oauth_signature') ?? '';
      const pairs = parsed.params.filter(([k]) => k !== 'oauth_signature');
      const baseString = signatureBaseString(req.method ?? 'POST', `${base}${url.pathname}`, [...pairs, ...url.searchParams]);
      if (!rsaSha1Verify(baseString, sig, [loadRsaPublicKey(pem)])) return fail(401, 'signature_invalid');
      const form = (pairs_: Record<string, string>) => res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' }).end(new URLSearchParams(pairs_).toString());
      if (url.pathname === '/plugins/servlet/oauth/request-token') {
        const token = jiraTokenValue();
        const secret = jiraTokenValue();
        const callback = params.get('oauth_callback') ?? 'oob';
        pending.set(token, { secret, callback, verifier: null, userKey: null, consumerKey });
        await insertToken(db, { token, secret, type: 'REQUEST', consumerKey, userKey: null, created: new Date(), ttl: 600_000 });
        return form({ oauth_token: token, oauth_token_secret: secret, oauth_callback_confirmed: 'true' });
      }
      if (url.pathname === '/plugins/servlet/oauth/access-token') {
        const token = params.get('oauth_token') ?? '';
        const p = pending.get(token);
        if (!p || p.consumerKey !== consumerKey || p.verifier === null || (params.get('oauth_verifier') ?? '') !== p.verifier) return fail(401, 'token_rejected');
        pending.delete(token);
        const access = jiraTokenValue();
        const secret = jiraTokenValue();
        const session = jiraTokenValue();
        const now = new Date(Math.floor(Date.now() / 1000) * 1000);
        await insertToken(db, { token: access, secret, type: 'ACCESS', consumerKey, userKey: p.userKey, created: now, ttl: JIRA_ACCESS_TTL_MS, sessionHandle: session, sessionCreated: now, sessionRenewed: now, sessionTtl: JIRA_SESSION_TTL_MS });
        return form({ oauth_token: access, oauth_token_secret: secret, oauth_expires_in: String(JIRA_ACCESS_TTL_MS / 1000), oauth_session_handle: session, oauth_authorization_expires_in: String(JIRA_SESSION_TTL_MS / 1000) });
      }
      return fail(404, 'not_found');
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url: base, close: () => new Promise((r) => server.close(() => r())) };
}
