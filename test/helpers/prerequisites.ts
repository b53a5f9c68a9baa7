// The machine's tools the suite runs for real (DESIGN: real parts, not mocks): a missing one fails
// the tests that need it at once, naming the install command, instead of hanging or skipping.
// Each path can be overridden (e.g. CHROMIUM_PATH=/nonexistent to see that failure).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const PYTHON = process.env.PYTHON_BIN ?? process.env.PYTHON_WITH_OAUTHLIB ?? '/usr/bin/python3';
export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/** Debian package of each Python module the tests import. */
const PYTHON_PACKAGES: Readonly<Record<string, string>> = {
  oauthlib: 'python3-oauthlib',
  requests_oauthlib: 'python3-requests-oauthlib',
  jira: 'python3-jira',
  jwt: 'python3-jwt',
  requests: 'python3-requests',
};

export type Prerequisite = 'chromium' | 'redis-server' | `python:${string}`;

const known = new Map<Prerequisite, string | null>();

/** Why the prerequisite is missing, with the install command; null when it is there (checked once per process). */
export function missing(what: Prerequisite): string | null {
  if (!known.has(what)) known.set(what, check(what));
  return known.get(what) ?? null;
}

function check(what: Prerequisite): string | null {
  if (what === 'chromium') {
    return existsSync(CHROMIUM_PATH) ? null : `Chromium not found at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH)`;
  }
  if (what === 'redis-server') {
    const r = spawnSync(REDIS_SERVER_BIN, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    return r.status === 0
      ? null
      : `redis-server not found (${REDIS_SERVER_BIN}): install it with \`apt-get install -y redis-server\` (or set REDIS_SERVER_BIN, or REDIS_URL to a Redis the tests may use)`;
  }
  const modules = what.slice('python:'.length).split(',');
  if (!existsSync(PYTHON)) {
    return `${PYTHON} not found: install it with \`apt-get install -y python3 ${modules.map((m) => PYTHON_PACKAGES[m] ?? `python3-${m}`).join(' ')}\` (or set PYTHON_BIN)`;
  }
  const r = spawnSync(PYTHON, ['-c', modules.map((m) => `import ${m}`).join('; ')], { encoding: 'utf8', timeout: 30_000 });
  if (r.status === 0) return null;
  const lacking = modules.filter((m) => spawnSync(PYTHON, ['-c', `import ${m}`], { timeout: 30_000 }).status !== 0);
  const names = lacking.length > 0 ? lacking : modules;
  return `${PYTHON} cannot import ${names.join(', ')}: install with \`apt-get install -y ${names.map((m) => PYTHON_PACKAGES[m] ?? `python3-${m}`).join(' ')}\` (or set PYTHON_BIN)`;
}

/** Throws at once when a prerequisite is missing (call it first in a `before`, before starting anything). */
export function requirePrerequisites(...what: Prerequisite[]): void {
  const problems = what.map(missing).filter((p): p is string => p !== null);
  if (problems.length > 0) throw new Error(`missing test prerequisite: ${problems.join('; ')}`);
}
