#!/usr/bin/env node
// applink-gateway command line: serve, check-config (more commands register in src/commands/).
import { parseArgs } from 'node:util';
import { configPathFrom, loadConfigFile, ConfigError } from './config/load.js';
import { startGateway } from './serve.js';

interface Command {
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

const COMMON = `  --config PATH   configuration file (default: $APPLINK_GATEWAY_CONFIG, else config/gateway.yaml)
  -h, --help      show this help`;

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

/** Parses a command's flags; --config and --help are common to every command. */
export function parse(argv: string[], options: OptionSpec = {}) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { config: { type: 'string' as const }, help: { type: 'boolean' as const, short: 'h' }, ...options },
  }) as { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
}

export const commands: Record<string, Command> = {
  serve: {
    summary: 'run the gateway (public and admin listeners)',
    usage: `applink-gateway serve [--config PATH]\n\n${COMMON}`,
    async run(argv) {
      const { values } = parse(argv);
      const file = configPathFrom(values.config as string | undefined);
      const cfg = loadConfigFile(file);
      const running = await startGateway({ cfg });
      const stop = (signal: string) => {
        running.gw.log.info({ signal }, 'signal received');
        running.shutdown().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      return new Promise<number>(() => undefined);
    },
  },
  'check-config': {
    summary: 'validate the configuration and its key files; exit 1 naming each problem',
    usage: `applink-gateway check-config [--config PATH]\n\n${COMMON}`,
    async run(argv) {
      const { values } = parse(argv);
      const file = configPathFrom(values.config as string | undefined);
      const cfg = loadConfigFile(file);
      console.log(`${file}: ok (${cfg.links.length} link${cfg.links.length === 1 ? '' : 's'}, identity ${cfg.identity.mode}, store ${cfg.config.store.redis ? 'redis' : 'memory'})`);
      return 0;
    },
  },
};

function help(): string {
  const names = Object.keys(commands);
  const width = Math.max(...names.map((n) => n.length));
  return [
    'applink-gateway — OAuth 1.0a application-link gateway',
    '',
    'Usage: applink-gateway <command> [options]   (every command takes --config PATH and --help)',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${commands[n]?.summary ?? ''}`),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    console.error(`applink-gateway: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`configuration refused:\n${err.problems.map((p) => `  ${p}`).join('\n')}`);
      return 1;
    }
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`applink-gateway ${name}: ${(err as Error).message}\n\n${command.usage}`);
      return 2;
    }
    console.error(`applink-gateway ${name}: ${(err as Error).message}`);
    return 1;
  }
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry || process.argv[1]?.endsWith('/cli.js') || process.argv[1]?.endsWith('/cli.ts')) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
