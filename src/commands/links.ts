// links list: the configured application links and what each may do.
import type { ResolvedLink } from '../config/links.js';
import { COMMON_OPTIONS, EXIT, loadConfig, parse, table, type Command } from './common.js';

/** The flows a link allows, in words (3LO, OAuth 1.0, Trust = gateway-initiated, 2LO, 2LOi). */
export function linkFlows(link: ResolvedLink): string[] {
  const flows: string[] = [];
  if (link.threeLegged) flows.push('3LO');
  if (link.threeLegged && link.allowOAuth10) flows.push('1.0');
  if (link.gatewayInitiated) flows.push('trust');
  if (link.twoLegged.enabled) flows.push(`2LO(as ${link.twoLegged.executeAs ?? '?'})`);
  if (link.impersonation.enabled) {
    const deny = link.impersonation.denyUsers.length > 0 ? ` deny ${link.impersonation.denyUsers.join(',')}` : '';
    const allow = link.impersonation.allowUsers ? ` only ${link.impersonation.allowUsers.join(',')}` : '';
    flows.push(`2LOi${allow || deny ? `(${(allow + deny).trim()})` : ''}`);
  }
  return flows;
}

export const linksListCommand: Command = {
  summary: 'list the configured application links',
  usage: `Usage: applink-gateway links list [--json] [--config PATH]

One row per link: applicationLinkID, name, consumer key, signature methods and keys,
the flows it allows (3LO, 1.0 = callback-less OAuth 1.0, trust = gateway-initiated
login dance, 2LO(as user), 2LOi with its deny/allow lists) and its callback URLs.

Options:
  --json          one JSON array instead of the table
${COMMON_OPTIONS}`,
  async run(argv) {
    const { values } = parse(argv, { json: { type: 'boolean' } });
    const { cfg } = loadConfig(values);
    if (values.json === true) {
      const out = cfg.links.map((l) => ({
        id: l.id,
        name: l.name,
        consumerKey: l.consumerKey,
        signatureMethods: l.signatureMethods,
        publicKeys: l.publicKeys.length,
        flows: linkFlows(l),
        callbackUrls: l.callbackUrls,
      }));
      console.log(JSON.stringify(out, null, 2));
      return EXIT.ok;
    }
    if (cfg.links.length === 0) {
      console.log('No links configured.');
      return EXIT.ok;
    }
    const rows = cfg.links.map((l) => [
      l.id,
      l.name,
      l.consumerKey,
      l.signatureMethods.join(',') + (l.publicKeys.length > 1 ? ` (${l.publicKeys.length} keys)` : ''),
      linkFlows(l).join(' '),
      l.callbackUrls.join(' ') || '-',
    ]);
    console.log(table(['ID', 'NAME', 'CONSUMER KEY', 'METHODS', 'FLOWS', 'CALLBACKS'], rows));
    return EXIT.ok;
  },
};
