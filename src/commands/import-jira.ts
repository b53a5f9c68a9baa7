// import jira: moves an existing Jira's application links and its users' access tokens behind
// the gateway, so that linked applications keep their tokens and nobody approves again.
import { JiraDatabaseError, JiraDatabaseUrlError, dialectOf, displayUrl, readJiraDatabase } from '../applinks/jira-db.js';
import { planImport, type ImportPlan } from '../applinks/jira-import.js';
import { LinkEntryError, configWithLinks, configuredLinks, entriesYaml, removeKeyFile, writeConfigText, writeKeyFile } from '../applinks/link-entry.js';
import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../ops/logger.js';
import { storeFromConfig } from '../server/store.js';
import type { TokenStore } from '../store/types.js';
import { COMMON_OPTIONS, EXIT, UsageError, configFile, parse, type Command } from './common.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function skippedLine(plan: ImportPlan): string {
  const s = plan.skipped;
  const parts = [
    s.expired > 0 ? `${s.expired} expired (token and session both ended)` : '',
    s.goneUser > 0 ? `${s.goneUser} of users that no longer exist` : '',
    s.refusedLink > 0 ? `${s.refusedLink} of refused links` : '',
    s.unknownConsumer > 0 ? `${s.unknownConsumer} of consumers that are not in oauthspconsumer` : '',
    s.requestTokens > 0 ? `${plural(s.requestTokens, 'request token')} (never imported: they live ten minutes)` : '',
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

export const importJiraCommand: Command = {
  summary: "import an existing Jira's links and access tokens from its database",
  usage: `Usage: applink-gateway import jira --database URL [--dry-run] [--links-only] [--write] [--config PATH]

Reads the OAuth provider side of an existing Jira from its database, in one read-only
transaction (nothing is ever written to it):
  links   from oauthspconsumer: consumer key, name, RSA public key, callback, 2LO,
          2LO impersonation (with its executing user) and 3LO flags (empty = Atlassian's
          defaults: 2LO off, 3LO on)
  tokens  live access tokens from oauthsptoken, their users mapped from Jira's user keys
          to user names through app_user; written to the gateway's Redis like its own
          tokens (digested, secrets encrypted, same expiry and session), so that linked
          applications keep using them and nobody approves again
Skipped and counted: request tokens, tokens whose token and session have both ended, tokens
of users that no longer exist (listed by handle and user key), tokens of consumers that are
not linked. A row that cannot be imported as it is (a key that is not RSA, a flag that is
not a boolean, a malformed token) is refused whole and named; the others are imported.

Links: each new link's public key is written to keys/<consumer key>.pub.pem next to the
configuration and its links[] entry printed to paste, or with --write added to the
configuration file (comments and order kept). A consumer key that already is a link is
left as it is; its tokens are imported under that link. Running the import again changes
nothing (an imported token revoked since is not brought back).

Options:
  --database URL  postgresql://USER[:PASSWORD]@HOST:PORT/DB or mysql://… (also mariadb://…)
  --dry-run       read and report what would be imported; write nothing anywhere
  --links-only    import the links only, no tokens (no Redis needed)
  --write         add the new links to the configuration file instead of printing them
${COMMON_OPTIONS}

Exit codes: 0 imported (skips included), 1 a row was refused (the others were imported) or
the database cannot be read, 2 usage error, ${EXIT.storeUnavailable} Redis unreachable.`,
  async run(argv) {
    const { values } = parse(argv, { database: { type: 'string' }, 'dry-run': { type: 'boolean' }, 'links-only': { type: 'boolean' }, write: { type: 'boolean' } });
    const url = values.database;
    if (typeof url !== 'string' || url === '') throw new UsageError('--database URL is required');
    try {
      dialectOf(url);
    } catch (err) {
      if (err instanceof JiraDatabaseUrlError) throw new UsageError(err.message);
      throw err;
    }
    const dryRun = values['dry-run'] === true;
    const linksOnly = values['links-only'] === true;
    const cfgPath = configFile(values);

    // Tokens go to the configured Redis: a configuration the gateway accepts is needed for them.
    const cfg = linksOnly ? null : loadConfigFile(cfgPath);
    if (cfg && !cfg.config.store.redis && !dryRun) {
      throw new Error('store.redis is not configured: imported tokens must go to the Redis the gateway uses (or use --links-only)');
    }
    let configured: Array<{ id: string; consumerKey: string }>;
    try {
      configured = cfg ? cfg.links.map((l) => ({ id: l.id, consumerKey: l.consumerKey })) : configuredLinks(cfgPath);
    } catch (err) {
      if (err instanceof LinkEntryError) {
        console.error(`applink-gateway import jira: ${err.message}`);
        return EXIT.failure;
      }
      throw err;
    }

    let rows;
    try {
      rows = await readJiraDatabase(url);
    } catch (err) {
      if (err instanceof JiraDatabaseError) {
        console.error(`applink-gateway import jira: refused: ${err.message}`);
        return EXIT.failure;
      }
      throw err;
    }
    const plan = planImport(rows, { configPath: cfgPath, configured, linksOnly, now: Date.now() });
    const verb = dryRun ? 'would import' : 'imported';
    console.log(`Jira database ${displayUrl(url)} (read-only)${dryRun ? ': dry run, nothing written' : ''}`);

    // Links: key files, then the configuration (checked as check-config would) before any token is written.
    const entries = plan.links.map((l) => l.entry);
    let configText: string | null = null;
    if (!dryRun && plan.links.length > 0) {
      for (const l of plan.links) writeKeyFile(l.keyFile);
      if (values.write === true) {
        try {
          configText = configWithLinks(cfgPath, entries);
        } catch (err) {
          for (const l of plan.links) removeKeyFile(l.keyFile);
          if (err instanceof LinkEntryError) {
            console.error(`applink-gateway import jira: refused: ${err.message}`);
            return EXIT.failure;
          }
          throw err;
        }
      }
    }

    // Tokens, through the store's own write path.
    let imported = 0;
    let unchanged = 0;
    const conflicts: string[] = [];
    if (!dryRun && !linksOnly && cfg && plan.tokens.length > 0) {
      const store: TokenStore = storeFromConfig(cfg, createLogger({ level: 'silent' }));
      try {
        for (const token of plan.tokens) {
          const r = await store.importAccessToken(token);
          if (r.result === 'imported') imported++;
          else if (r.result === 'unchanged') unchanged++;
          else conflicts.push(r.handle);
        }
      } finally {
        await store.close();
      }
    } else if (dryRun) {
      imported = plan.tokens.length;
    }
    if (configText !== null) writeConfigText(cfgPath, configText);

    // The report.
    console.log(`Links: ${plan.links.length} ${verb}, ${plan.alreadyLinked.length} already configured, ${plan.refusedLinks.length} refused`);
    for (const l of plan.links) {
      console.log(`  ${dryRun ? 'would add' : 'added'} ${l.consumerKey} as link ${l.linkId} (${l.draft.name}), key ${l.keyFile.relative}`);
      for (const note of l.notes) console.log(`    note: ${note}`);
    }
    for (const l of plan.alreadyLinked) console.log(`  kept ${l.consumerKey}: already link ${l.linkId}`);
    for (const r of plan.refusedLinks) console.log(`  refused oauthspconsumer ${JSON.stringify(r.consumerKey)}: ${r.reason}`);
    if (!linksOnly) {
      const already = dryRun ? '' : `, ${unchanged} already imported (unchanged)`;
      console.log(`Tokens: ${imported} ${verb}${already}, ${plan.refusedTokens.length} refused; skipped: ${skippedLine(plan)}`);
      for (const r of plan.refusedTokens) console.log(`  refused token ${r.handle ?? '(no handle)'} of ${JSON.stringify(r.consumerKey)}: ${r.reason}`);
      for (const g of plan.goneUsers) console.log(`  skipped token ${g.handle} of ${JSON.stringify(g.consumerKey)}: the user ${JSON.stringify(g.userKey)} no longer exists`);
      for (const h of conflicts) console.log(`  refused token ${h}: its handle names another token in the store`);
    } else {
      console.log('Tokens: not read (--links-only)');
    }
    if (entries.length > 0 && configText === null) {
      console.log(dryRun ? `# links[] entries it would add to ${cfgPath}:` : `# add under links: in ${cfgPath} (or run again with --write)`);
      console.log(entriesYaml(entries).trimEnd());
    } else if (configText !== null) {
      console.log(`Added ${plural(entries.length, 'link')} to ${cfgPath}.`);
    }
    const refusedRows = plan.refusedLinks.length + plan.refusedTokens.length + conflicts.length;
    if (refusedRows > 0) {
      console.error(`applink-gateway import jira: ${plural(refusedRows, 'row')} refused (named above); everything else ${dryRun ? 'would be' : 'was'} imported`);
      return EXIT.failure;
    }
    return EXIT.ok;
  },
};
