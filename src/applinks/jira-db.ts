// Reads the OAuth service-provider side of an existing Jira from its database (PostgreSQL or
// MySQL/MariaDB): consumers (oauthspconsumer), access tokens (oauthsptoken) with their users
// mapped from Jira's user keys to names (app_user). One read-only transaction, one snapshot;
// nothing is ever written to Jira's database.

/** A refusal about the database (unreachable, not Jira's): exit 1, message names the problem. */
export class JiraDatabaseError extends Error {
  override name = 'JiraDatabaseError';
}

/** A --database value that is no database URL: a usage error. */
export class JiraDatabaseUrlError extends Error {
  override name = 'JiraDatabaseUrlError';
}

export type Row = Record<string, unknown>;

export interface JiraRows {
  consumers: Row[];
  /** Access tokens, with `user_name` = app_user.lower_user_name of the token's user key (null: no such user). */
  accessTokens: Row[];
  /** Request tokens (never imported: they live ten minutes). */
  requestTokens: number;
}

// Every column aliased in lower case: MySQL keeps the case the table was made with (Jira's are
// upper case there), PostgreSQL folds to lower case.
const CONSUMERS_SQL = `SELECT c.consumer_key AS consumer_key, c.consumername AS consumername, c.public_key AS public_key,
  c.callback AS callback, c.two_l_o_allowed AS two_l_o_allowed, c.executing_two_l_o_user AS executing_two_l_o_user,
  u.lower_user_name AS executing_user_name, c.two_l_o_impersonation_allowed AS two_l_o_impersonation_allowed,
  c.three_l_o_allowed AS three_l_o_allowed
FROM oauthspconsumer c LEFT JOIN app_user u ON u.user_key = c.executing_two_l_o_user
ORDER BY c.consumer_key`;

const ACCESS_TOKENS_SQL = `SELECT t.token AS token, t.token_secret AS token_secret, t.consumer_key AS consumer_key,
  t.username AS username, u.lower_user_name AS user_name, t.created AS created, t.ttl AS ttl,
  t.session_handle AS session_handle, t.session_creation_time AS session_creation_time,
  t.session_last_renewal_time AS session_last_renewal_time, t.session_time_to_live AS session_time_to_live
FROM oauthsptoken t LEFT JOIN app_user u ON u.user_key = t.username
WHERE t.token_type = 'ACCESS'
ORDER BY t.consumer_key, t.token`;

const REQUEST_TOKENS_SQL = `SELECT COUNT(*) AS n FROM oauthsptoken WHERE token_type IS NULL OR token_type <> 'ACCESS'`;

/** The URL with its password masked, for messages. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return '(unparseable URL)';
  }
}

export type Dialect = 'postgresql' | 'mysql';

export function dialectOf(url: string): Dialect {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new JiraDatabaseUrlError('--database must be a URL such as postgresql://jira@db.example.com:5432/jira or mysql://jira@db.example.com:3306/jira');
  }
  if (u.protocol === 'postgres:' || u.protocol === 'postgresql:') return 'postgresql';
  if (u.protocol === 'mysql:' || u.protocol === 'mariadb:') return 'mysql';
  throw new JiraDatabaseUrlError(`--database: ${u.protocol.replace(/:$/, '')} is not supported (postgresql://… or mysql://… / mariadb://…)`);
}

const MISSING_TABLE = /relation "?([A-Za-z_.]+)"? does not exist|Table '[^']*?\.?([A-Za-z_]+)' doesn't exist/;
const MISSING_COLUMN = /column "?([A-Za-z_.]+)"? does not exist|Unknown column '([A-Za-z_.]+)'/;

/** A query error as a readable refusal: which table or column Jira's layout lacks. */
function explain(err: unknown, where: string): JiraDatabaseError {
  const message = (err as Error).message ?? String(err);
  const table = MISSING_TABLE.exec(message);
  if (table) {
    const name = table[1] ?? table[2] ?? '';
    return new JiraDatabaseError(`${where} has no table ${name}: is this Jira's database (and, on PostgreSQL, Jira's schema on the search_path)?`);
  }
  const column = MISSING_COLUMN.exec(message);
  if (column) return new JiraDatabaseError(`${where}: a column of Jira's OAuth tables is missing (${column[1] ?? column[2] ?? ''}); this Jira's layout is not one the import knows`);
  return new JiraDatabaseError(`${where}: reading Jira's OAuth tables failed: ${message}`);
}

function connectFailure(err: unknown, where: string): JiraDatabaseError {
  const e = err as { code?: string; message?: string };
  return new JiraDatabaseError(`cannot connect to ${where}: ${e.code && !e.message?.includes(e.code) ? `${e.code} ` : ''}${e.message ?? String(err)}`);
}

async function readPostgres(url: string, where: string): Promise<JiraRows> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, statement_timeout: 60_000, application_name: 'applink-gateway import' });
  // An error on an idle client (the server going away) must not crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw connectFailure(err, where);
  }
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      const consumers = (await client.query(CONSUMERS_SQL)).rows as Row[];
      const accessTokens = (await client.query(ACCESS_TOKENS_SQL)).rows as Row[];
      const n = (await client.query(REQUEST_TOKENS_SQL)).rows[0] as { n: unknown } | undefined;
      return { consumers, accessTokens, requestTokens: Number(n?.n ?? 0) };
    } catch (err) {
      throw explain(err, where);
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function readMysql(url: string, where: string): Promise<JiraRows> {
  const { default: mysql } = await import('mysql2/promise');
  const uri = url.replace(/^mariadb:/, 'mysql:');
  let conn;
  try {
    // Big numbers as strings (ttl is a BIGINT/DECIMAL of milliseconds); DATETIMEs as the
    // process's local time, as Jira's JVM wrote them (run with TZ= Jira's time zone).
    conn = await mysql.createConnection({ uri, connectTimeout: 5000, supportBigNumbers: true, bigNumberStrings: true });
  } catch (err) {
    throw connectFailure(err, where);
  }
  conn.on('error', () => undefined);
  try {
    await conn.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    await conn.query('START TRANSACTION READ ONLY');
    try {
      const [consumers] = await conn.query(CONSUMERS_SQL);
      const [accessTokens] = await conn.query(ACCESS_TOKENS_SQL);
      const [count] = await conn.query(REQUEST_TOKENS_SQL);
      const n = (count as Row[])[0]?.n;
      return { consumers: consumers as Row[], accessTokens: accessTokens as Row[], requestTokens: Number(n ?? 0) };
    } catch (err) {
      throw explain(err, where);
    } finally {
      await conn.query('ROLLBACK').catch(() => undefined);
    }
  } finally {
    await conn.end().catch(() => undefined);
  }
}

/** Reads Jira's consumers and tokens in one read-only transaction. */
export async function readJiraDatabase(url: string): Promise<JiraRows> {
  const dialect = dialectOf(url);
  const where = `the database ${displayUrl(url)}`;
  return dialect === 'postgresql' ? readPostgres(url, where) : readMysql(url, where);
}
