// What every command shares: the Command shape, option parsing, exit codes, help text.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { configPathFrom, loadConfigFile, type RuntimeConfig } from '../config/load.js';

/** Exit codes of every command (the README lists them). */
export const EXIT = {
  ok: 0,
  /** The configuration was refused, or the command failed. */
  failure: 1,
  /** Bad command line. */
  usage: 2,
  /** The token store (Redis) could not be reached. */
  storeUnavailable: 3,
  /** Nothing matched (e.g. tokens revoke --token with an unknown handle). */
  notFound: 4,
} as const;

export interface Command {
  /** One line for the command list. */
  summary: string;
  /** The full --help text. */
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** A usage mistake the command found itself (exit 2, with its usage). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const COMMON_OPTIONS = `  --config PATH   configuration file (default: $APPLINK_GATEWAY_CONFIG, else config/gateway.yaml)
  -h, --help      show this help`;

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `--name value` as `--name=value` for options that take a value, when the value starts with
 * '-' (token handles are base64url and may: parseArgs would call `--token -Xy…` ambiguous).
 */
function joinDashValues(argv: string[], options: Options): string[] {
  const takesValue = new Set(Object.entries(options).filter(([, o]) => o.type === 'string').map(([n]) => `--${n}`));
  const isOption = (a: string) => a === '-h' || Object.keys(options).some((n) => a === `--${n}` || a.startsWith(`--${n}=`));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = argv[i + 1];
    if (takesValue.has(a) && next !== undefined && next.startsWith('-') && !isOption(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Parses argv strictly with --config and --help added to `options`. */
export function parse<O extends Options>(argv: string[], options: O, positionals = false) {
  const all: Options = { config: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...options };
  return parseArgs({
    args: joinDashValues(argv, all),
    allowPositionals: positionals,
    strict: true,
    options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...options } as O & {
      config: { type: 'string' };
      help: { type: 'boolean'; short: 'h' };
    },
  });
}

/** The configuration file the command uses: --config, else $APPLINK_GATEWAY_CONFIG, else config/gateway.yaml. */
export function configFile(values: { config?: string | boolean | Array<string | boolean> }): string {
  return configPathFrom(typeof values.config === 'string' ? values.config : undefined);
}

export function loadConfig(values: { config?: string | boolean | Array<string | boolean> }): { file: string; cfg: RuntimeConfig } {
  const file = configFile(values);
  return { file, cfg: loadConfigFile(file) };
}

/** A plain-text table: columns padded to the widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
