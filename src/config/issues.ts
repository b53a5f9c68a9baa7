// Configuration problems: each one a line `key.path: what is wrong`, collected and thrown together.
import type { z } from 'zod';

/** A configuration problem: `path` is the key (e.g. `links[0].signatureMethods[0]`). */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** Problems found while resolving files and keys; `key` is the key path they name. */
export class Problems {
  readonly list: string[] = [];

  add(key: string, message: string): void {
    this.list.push(`${key}: ${message}`);
  }
}

/** `links[0].signatureMethods[0]` from zod's ['links', 0, 'signatureMethods', 0]. */
export function formatPath(p: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of p) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || '(root)';
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'invalid_value': {
      const allowed = issue.values.map(String).join(', ');
      return `${where}: ${JSON.stringify(input)} is not one of ${allowed}`;
    }
    case 'unrecognized_keys':
      return issue.keys.map((k) => `${where === '(root)' ? k : `${where}.${k}`}: unknown key`).join('\n');
    case 'invalid_type':
      return input === undefined ? `${where}: is required` : `${where}: expected ${issue.expected}, got ${JSON.stringify(input)}`;
    case 'invalid_union': {
      const disc = (issue as { note?: string }).note;
      return `${where}: ${disc ?? issue.message}`;
    }
    default:
      return `${where}: ${issue.message}`;
  }
}

/** The schema's issues as problem lines (parse with `reportInput: true`, so a wrong value is shown). */
export function problemsOfIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((i) => formatIssue(i).split('\n'));
}
