// check-config: validates the configuration and every file it names; exit 1 naming each problem.
import { COMMON_OPTIONS, EXIT, loadConfig, parse, type Command } from './common.js';
import { workerCount } from '../server/workers.js';

export const checkConfigCommand: Command = {
  summary: 'validate the configuration and its key files; exit 1 naming each key and problem',
  usage: `Usage: applink-gateway check-config [--config PATH]

Reads the configuration and every file it references (keys, secrets, keyring) exactly as
serve does, and prints a one-line summary. A refused file exits 1 with one line per problem,
each naming the key path (e.g. links[0].publicKeyFile).

Options:
${COMMON_OPTIONS}`,
  async run(argv) {
    const { values } = parse(argv, {});
    const { file, cfg } = loadConfig(values);
    const n = cfg.links.length;
    const workers = workerCount(cfg);
    console.log(
      `${file}: ok (${n} link${n === 1 ? '' : 's'}, identity ${cfg.identity.mode}, store ${cfg.config.store.redis ? 'redis' : 'memory'}` +
        `${workers > 1 ? `, ${workers} workers` : ''})`,
    );
    return EXIT.ok;
  },
};
