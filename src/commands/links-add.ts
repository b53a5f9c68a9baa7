// links add --from-consumer-info URL: a link filled in from AppA's own consumer info, as
// Atlassian's "create link" page does it.
import { ConsumerInfoError, fetchConsumerInfo } from '../applinks/consumer-info.js';
import {
  LinkEntryError,
  configWithLinks,
  configuredLinks,
  entriesYaml,
  linkEntry,
  linkIdFor,
  pemFromAtlassianKey,
  planKeyFile,
  removeKeyFile,
  writeConfigText,
  writeKeyFile,
} from '../applinks/link-entry.js';
import { COMMON_OPTIONS, EXIT, UsageError, configFile, parse, type Command } from './common.js';

export const linksAddCommand: Command = {
  summary: "add a link from an application's consumer info (--from-consumer-info URL)",
  usage: `Usage: applink-gateway links add --from-consumer-info URL [--id ID] [--write] [--config PATH]

Fetches URL/plugins/servlet/oauth/consumer-info (what every Atlassian application serves:
its consumer key, name and RSA public key), writes the public key to
keys/<consumer key>.pub.pem next to the configuration, and prints the links[] entry, or with
--write adds it to the configuration file (comments and order kept). The entry has safe
defaults: three-legged OAuth on, 2LO and impersonation off, a callback registered only when
the consumer info gives one (an Atlassian AppA's dance needs
<AppA base URL>/plugins/servlet/applinks/oauth/login-dance/access in callbackUrls).

Refused (exit 1): an answer that is not consumer info XML, without a key, a key that is not
RSA, an https certificate that fails verification, a consumer key or id already linked.

Options:
  --from-consumer-info URL  AppA's base URL (or its consumer-info URL)
  --id ID                   the applicationLinkID (default: derived from the consumer key)
  --write                   add the entry to the configuration file instead of printing it
${COMMON_OPTIONS}`,
  async run(argv) {
    const { values } = parse(argv, { 'from-consumer-info': { type: 'string' }, id: { type: 'string' }, write: { type: 'boolean' } });
    const from = values['from-consumer-info'];
    if (typeof from !== 'string' || from === '') throw new UsageError('--from-consumer-info URL is required');
    if (typeof values.id === 'string' && !/^[A-Za-z0-9._-]{1,128}$/.test(values.id)) {
      throw new UsageError('--id must be 1-128 characters of A-Z a-z 0-9 . _ -');
    }
    const cfgPath = configFile(values);
    try {
      const existing = configuredLinks(cfgPath);
      const { url, info } = await fetchConsumerInfo(from);
      const id = typeof values.id === 'string' ? values.id : linkIdFor(info.key);
      const byKey = existing.findIndex((l) => l.consumerKey === info.key);
      if (byKey >= 0) throw new LinkEntryError(`the consumer key ${JSON.stringify(info.key)} is already linked (links[${byKey}], id ${existing[byKey]?.id ?? ''})`);
      const byId = existing.findIndex((l) => l.id === id);
      if (byId >= 0) throw new LinkEntryError(`the id ${id} is already links[${byId}]'s; choose another with --id`);
      let pem: string;
      try {
        pem = pemFromAtlassianKey(info.publicKey);
      } catch (err) {
        throw new LinkEntryError(`${url.href}: ${(err as Error).message}`);
      }
      const keyFile = planKeyFile(cfgPath, info.key, pem);
      const entry = linkEntry(
        { id, name: info.name, consumerKey: info.key, callback: info.callback, threeLegged: true, twoLegged: { enabled: false, executeAs: null }, impersonation: false },
        keyFile.relative,
      );
      writeKeyFile(keyFile);
      if (values.write === true) {
        let text: string;
        try {
          text = configWithLinks(cfgPath, [entry]);
        } catch (err) {
          removeKeyFile(keyFile);
          throw err;
        }
        writeConfigText(cfgPath, text);
        console.error(`${keyFile.write ? 'Wrote' : 'Kept'} ${keyFile.absolute} (public key of ${info.key}).`);
        console.log(`Added link ${id} (${info.name}, consumer key ${info.key}) to ${cfgPath}.`);
      } else {
        console.error(`${keyFile.write ? 'Wrote' : 'Kept'} ${keyFile.absolute} (public key of ${info.key}).`);
        console.log(`# add under links: in ${cfgPath} (or run again with --write)`);
        console.log(entriesYaml([entry]).trimEnd());
      }
      if (info.callback === null) {
        console.error(`note: the consumer info gives no callback; for the dance of an Atlassian application add its ${url.origin}${url.pathname.replace(/\/plugins\/servlet\/oauth\/consumer-info$/, '')}/plugins/servlet/applinks/oauth/login-dance/access to callbackUrls`);
      }
      return EXIT.ok;
    } catch (err) {
      if (err instanceof ConsumerInfoError || err instanceof LinkEntryError) {
        console.error(`applink-gateway links add: refused: ${err.message}`);
        return EXIT.failure;
      }
      throw err;
    }
  },
};
