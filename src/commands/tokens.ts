// tokens list / tokens revoke: the operator's view of access tokens in the configured Redis.
import pino from 'pino';
import type { RuntimeConfig } from '../config/load.js';
import { createLogger } from '../ops/logger.js';
import { storeFromConfig } from '../server/store.js';
import { accessHandleOfToken, isHandle } from '../store/tokens.js';
import type { AccessTokenSummary, TokenStore } from '../store/types.js';
import { COMMON_OPTIONS, EXIT, UsageError, loadConfig, parse, table, type Command } from './common.js';

/** The Redis store of a configuration; the memory store lives inside a running gateway only. */
async function withStore<T>(cfg: RuntimeConfig, use: (store: TokenStore) => Promise<T>): Promise<T> {
  if (!cfg.config.store.redis) {
    throw new Error('store.redis is not configured: tokens live in the memory of the running gateway, which no other process can read or revoke (configure Redis)');
  }
  const store = storeFromConfig(cfg, createLogger({ level: 'silent' }));
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** --link takes a link id or its consumer key; an unknown value is still used as an id (a removed link's tokens remain). */
function linkIdOf(cfg: RuntimeConfig, value: string): { linkId: string; known: boolean } {
  const link = cfg.linksById.get(value) ?? cfg.linksByConsumerKey.get(value);
  return link ? { linkId: link.id, known: true } : { linkId: value, known: false };
}

/** An operator's revocation is an audit event too: one JSON line on stderr, as the gateway writes them. */
function audit(event: string, fields: Record<string, unknown>): void {
  createLogger({ level: 'info', destination: pino.destination({ fd: 2, sync: true }) }).info({ audit: true, event, by: 'cli', ...fields }, `audit ${event}`);
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function describe(cfg: RuntimeConfig, t: AccessTokenSummary): string[] {
  const link = cfg.linksById.get(t.linkId);
  return [t.handle, t.user, link ? `${t.linkId} (${link.name})` : `${t.linkId} (not configured)`, iso(t.createdAt), iso(t.expiresAt)];
}

export const tokensListCommand: Command = {
  summary: 'list live access tokens in Redis [--user U] [--link L]',
  usage: `Usage: applink-gateway tokens list [--user U] [--link L] [--json] [--config PATH]

Lists the live access tokens in the configured Redis (store.redis; REDIS_URL overrides
its url), newest first: handle, user, link, created, expires. Never shows a token value or
secret; the handle is what tokens revoke --token takes.

Options:
  --user U        only this user's tokens (case-insensitive)
  --link L        only this link's tokens (applicationLinkID or consumer key)
  --json          one JSON array instead of the table
${COMMON_OPTIONS}`,
  async run(argv) {
    const { values } = parse(argv, { user: { type: 'string' }, link: { type: 'string' }, json: { type: 'boolean' } });
    const { cfg } = loadConfig(values);
    const filter: { user?: string; linkId?: string } = {};
    if (typeof values.user === 'string') filter.user = values.user;
    if (typeof values.link === 'string') {
      const { linkId, known } = linkIdOf(cfg, values.link);
      if (!known) console.error(`note: ${JSON.stringify(values.link)} is not a configured link id or consumer key; listing tokens stored under that link id`);
      filter.linkId = linkId;
    }
    const tokens = await withStore(cfg, (store) => store.listAccessTokens(filter));
    if (values.json === true) {
      console.log(JSON.stringify(tokens.map((t) => ({ ...t, createdAt: iso(t.createdAt), expiresAt: iso(t.expiresAt), authorizationExpiresAt: iso(t.authorizationExpiresAt) })), null, 2));
      return EXIT.ok;
    }
    if (tokens.length === 0) {
      console.log('No live access tokens match.');
      return EXIT.ok;
    }
    console.log(table(['HANDLE', 'USER', 'LINK', 'CREATED', 'EXPIRES'], tokens.map((t) => describe(cfg, t))));
    console.log(`${tokens.length} token${tokens.length === 1 ? '' : 's'}`);
    return EXIT.ok;
  },
};

export const tokensRevokeCommand: Command = {
  summary: 'revoke access tokens in Redis: --token HANDLE | --user U | --link L',
  usage: `Usage: applink-gateway tokens revoke --token HANDLE [--config PATH]
       applink-gateway tokens revoke --user U [--link L] [--config PATH]
       applink-gateway tokens revoke --link L [--config PATH]

Revokes in the configured Redis (store.redis; REDIS_URL overrides its url). The next
request signed with a revoked token fails, on every replica.

Options:
  --token HANDLE  one token, by its non-secret handle (tokens list, the user's token page
                  and the logs show it). A full access-token value is accepted too (its
                  handle is the part before the first ".", or derived from a token imported
                  from Jira), but prefer the handle: a token value on a command line ends up
                  in shell history.
  --user U        every token of this user (case-insensitive); with --link, only that link's
  --link L        every token of this link (applicationLinkID or consumer key)
${COMMON_OPTIONS}

Exit codes: 0 revoked (bulk: also when none matched), ${EXIT.notFound} --token matched no live token,
${EXIT.storeUnavailable} Redis unreachable, 1 configuration refused, 2 usage error.`,
  async run(argv) {
    const { values } = parse(argv, { token: { type: 'string' }, user: { type: 'string' }, link: { type: 'string' } });
    const token = typeof values.token === 'string' ? values.token : undefined;
    const user = typeof values.user === 'string' ? values.user : undefined;
    const link = typeof values.link === 'string' ? values.link : undefined;
    if (token !== undefined && (user !== undefined || link !== undefined)) throw new UsageError('--token cannot be combined with --user or --link');
    if (token === undefined && user === undefined && link === undefined) throw new UsageError('name what to revoke: --token HANDLE, --user U or --link L');
    if (token === '' || user === '' || link === '') throw new UsageError('an empty value would match nothing');
    const { cfg } = loadConfig(values);

    if (token !== undefined) {
      const byValue = !isHandle(token);
      const handle = byValue ? accessHandleOfToken(token) : token;
      if (handle === null) throw new UsageError(`--token takes a token handle (16 characters, e.g. from tokens list) or an access-token value; got ${token.length} characters that are neither`);
      return withStore(cfg, async (store) => {
        // A value must be a live access token itself: its handle alone could be a typo's neighbour.
        if (byValue && (await store.getAccessToken(token)) === null) {
          console.error('No live access token has this value.');
          return EXIT.notFound;
        }
        const revoked = await store.revokeAccessToken(handle);
        if (!revoked) {
          console.error(`No live access token has the handle ${handle}.`);
          return EXIT.notFound;
        }
        audit('token_revoked', { handle: revoked.handle, user: revoked.user, link: revoked.linkId });
        console.log(`Revoked ${revoked.handle} (user ${revoked.user}, link ${revoked.linkId}).`);
        return EXIT.ok;
      });
    }

    const filter: { user?: string; linkId?: string } = {};
    if (user !== undefined) filter.user = user;
    if (link !== undefined) {
      const resolved = linkIdOf(cfg, link);
      if (!resolved.known) console.error(`note: ${JSON.stringify(link)} is not a configured link id or consumer key; revoking tokens stored under that link id`);
      filter.linkId = resolved.linkId;
    }
    const count = await withStore(cfg, (store) => store.revokeAccessTokens(filter));
    audit('tokens_revoked', { count, user: filter.user, link: filter.linkId });
    const what = [user !== undefined ? `user ${user}` : '', link !== undefined ? `link ${filter.linkId}` : ''].filter(Boolean).join(', ');
    console.log(`Revoked ${count} token${count === 1 ? '' : 's'} (${what}).`);
    return EXIT.ok;
  },
};
