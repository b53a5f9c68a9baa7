#!/usr/bin/env node
// applink-gateway command line. Each command lives in src/commands/ and is registered here.
import { ConfigError } from './config/issues.js';
import { StoreUnavailableError } from './store/types.js';
import { EXIT, UsageError, type Command } from './commands/common.js';
import { serveCommand } from './commands/serve.js';
import { checkConfigCommand } from './commands/check-config.js';
import { keysGenerateCommand } from './commands/keys.js';
import { linksListCommand } from './commands/links.js';
import { linksAddCommand } from './commands/links-add.js';
import { importJiraCommand } from './commands/import-jira.js';
import { tokensListCommand, tokensRevokeCommand } from './commands/tokens.js';
import { demoCommand } from './commands/demo.js';

/** Every command, by its words ("tokens revoke"). */
export const commands: Record<string, Command> = {
  serve: serveCommand,
  'check-config': checkConfigCommand,
  'keys generate': keysGenerateCommand,
  'links list': linksListCommand,
  'links add': linksAddCommand,
  'tokens list': tokensListCommand,
  'tokens revoke': tokensRevokeCommand,
  'import jira': importJiraCommand,
  demo: demoCommand,
};

function help(): string {
  const names = Object.keys(commands);
  const width = Math.max(...names.map((n) => n.length));
  return [
    'applink-gateway — OAuth 1.0a application-link gateway',
    '',
    'Usage: applink-gateway <command> [options]',
    '       applink-gateway <command> --help',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${commands[n]?.summary ?? ''}`),
    '',
    'Every command takes --config PATH (default: $APPLINK_GATEWAY_CONFIG, else config/gateway.yaml) and --help.',
    `Exit codes: ${EXIT.ok} ok, ${EXIT.failure} configuration refused or command failed, ${EXIT.usage} usage error,`,
    `            ${EXIT.storeUnavailable} token store unreachable, ${EXIT.notFound} nothing matched.`,
  ].join('\n');
}

/** The command named by the first one or two words, and the arguments after them. */
function findCommand(argv: string[]): { name: string; command: Command; rest: string[] } | null {
  const [a, b] = argv;
  if (a !== undefined && b !== undefined && commands[`${a} ${b}`]) {
    return { name: `${a} ${b}`, command: commands[`${a} ${b}`] as Command, rest: argv.slice(2) };
  }
  if (a !== undefined && commands[a]) return { name: a, command: commands[a] as Command, rest: argv.slice(1) };
  return null;
}

/** Subcommands of a group word ("tokens" → tokens list, tokens revoke). */
function groupHelp(word: string): string | null {
  const subs = Object.keys(commands).filter((n) => n.startsWith(`${word} `));
  if (subs.length === 0) return null;
  return [`Usage: applink-gateway ${word} <${subs.map((s) => s.slice(word.length + 1)).join('|')}> [options]`, '', ...subs.map((s) => `  ${s}  ${commands[s]?.summary ?? ''}`)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [first] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    // No command at all is a usage error; asking for help is not.
    if (first === undefined) console.error(help());
    else console.log(help());
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    const group = groupHelp(first);
    if (group) {
      const asked = argv[1] === '--help' || argv[1] === '-h';
      if (asked) console.log(group);
      else console.error(argv[1] === undefined ? group : `applink-gateway: unknown command "${first} ${argv[1]}"\n\n${group}`);
      return asked ? EXIT.ok : EXIT.usage;
    }
    console.error(`applink-gateway: unknown command "${first}"\n\n${help()}`);
    return EXIT.usage;
  }
  const { name, command, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return EXIT.ok;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`configuration refused:\n${err.problems.map((p) => `  ${p}`).join('\n')}`);
      return EXIT.failure;
    }
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`applink-gateway ${name}: ${(err as Error).message}\n\n${command.usage}`);
      return EXIT.usage;
    }
    if (err instanceof StoreUnavailableError) {
      console.error(`applink-gateway ${name}: the token store cannot be reached (${err.message})`);
      return EXIT.storeUnavailable;
    }
    console.error(`applink-gateway ${name}: ${(err as Error).message}`);
    return EXIT.failure;
  }
}

const entry = process.argv[1] ?? '';
if (entry.endsWith('/cli.js') || entry.endsWith('/cli.ts') || entry.endsWith('/applink-gateway')) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = EXIT.failure;
    },
  );
}
