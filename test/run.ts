// `npm test`: starts an ephemeral redis-server on a free port (unless REDIS_URL is set),
// then runs every test/**/*.test.ts with node:test, passing REDIS_URL to them.
// A run never hangs: each test file (and each test in it) gets TEST_TIMEOUT_MS (default 300 s);
// a file still running then is stopped and reported as failed under its name, and the run goes on.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { missing, type Prerequisite } from './helpers/prerequisites.js';
import { startRedis } from './helpers/redis.js';

const root = path.resolve(import.meta.dirname, '..');
const filter = process.argv.slice(2);
const files = readdirSync(path.join(root, 'test'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => path.join('test', f))
  .filter((f) => filter.length === 0 || filter.some((p) => f.includes(p)))
  .sort();

// Generous: the slowest file takes well under a minute on an idle machine, several on a loaded one.
const timeoutMs = Number(process.env.TEST_TIMEOUT_MS ?? 300_000);
if (!Number.isInteger(timeoutMs) || timeoutMs < 1000) {
  console.error(`test run: TEST_TIMEOUT_MS must be a whole number of milliseconds >= 1000, not ${process.env.TEST_TIMEOUT_MS}`);
  process.exit(2);
}

// Said once, up front: the tests that need a missing tool fail at once with the same message.
const prerequisites: Prerequisite[] = ['chromium', 'python:oauthlib,jwt', 'python:requests_oauthlib,jira', ...(process.env.REDIS_URL ? [] : ['redis-server' as const])];
const lacking = prerequisites.map(missing).filter((m): m is string => m !== null);
if (lacking.length > 0) console.error(`test run: missing prerequisites; the tests that need them will fail:\n  ${lacking.join('\n  ')}`);

let redis: Awaited<ReturnType<typeof startRedis>> | null = null;
if (!process.env.REDIS_URL) {
  try {
    redis = await startRedis();
  } catch (err) {
    console.error(`test run: cannot start the ephemeral redis-server: ${(err as Error).message}`);
    process.exit(1);
  }
  console.log(`test run: ephemeral redis-server at ${redis.url}`);
}
const env = { ...process.env, REDIS_URL: process.env.REDIS_URL ?? redis?.url, NODE_ENV: 'test' };
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeoutMs}`, '--test-reporter=spec', ...files],
  { cwd: root, env, stdio: 'inherit' },
);
const code: number = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await redis?.stop();
if (lacking.length > 0) console.error(`test run: missing prerequisites:\n  ${lacking.join('\n  ')}`);
process.exit(code);
